"""Backup and restore of a registry on PostgreSQL (and, where WEIR_TEST_S3 names a server, with its
blobs on S3): `weir admin backup` of a live registry (pg_dump of one exported snapshot, the blob
manifest and the log's head read in it, the keys), `weir admin restore` into a new data dir and a
new, empty database; the restored registry serves the same bytes to the Hub client, and its log
verifies and stays consistent with the checkpoint a client saw before the backup
(`weir log audit`). Runs where WEIR_TEST_POSTGRES names a server."""

import hashlib
import json
import os
import subprocess
import time
import urllib.request

import huggingface_hub as hf
import pytest
from huggingface_hub import HfApi, hf_hub_download

from conftest import WEIR, DATABASES, fresh_database, free_port, weir

pytestmark = pytest.mark.skipif(not os.environ.get("WEIR_TEST_POSTGRES"),
                                reason="needs PostgreSQL (WEIR_TEST_POSTGRES)")


def serve(data: str, port: int, public: str, env: dict, log_path: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [WEIR, "serve", "--data", data, "--listen", f"127.0.0.1:{port}", "--public-url", public,
         "--log-interval-ms", "100"],
        stdout=open(log_path, "w"), stderr=subprocess.STDOUT, env=dict(os.environ, **env))
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=1)
            return proc
        except OSError:
            assert proc.poll() is None and time.time() < deadline, open(log_path).read()
            time.sleep(0.1)


def checkpoint(url: str) -> str:
    with urllib.request.urlopen(f"{url}/log/checkpoint", timeout=10) as r:
        return r.read().decode()


def test_backup_of_a_live_registry_restores_into_a_new_database(tmp_path, monkeypatch):
    monkeypatch.setattr(hf.constants, "HF_HUB_DISABLE_XET", True)
    data = str(tmp_path / "data")
    env = fresh_database(data)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    live = serve(data, port, url, env, str(tmp_path / "live.log"))
    restored = None
    try:
        weir("admin", "--data", data, "user", "add", "ann", "--email", "ann@example.org")
        ann = weir("admin", "--data", data, "token", "create", "ann", "--scope", "write")
        api = HfApi(endpoint=url, token=ann)
        api.create_repo("ann/kept")
        weights = os.urandom(3 << 20)
        api.upload_file(path_or_fileobj=weights, path_in_repo="model.safetensors", repo_id="ann/kept")
        api.upload_file(path_or_fileobj=b'{"hidden_size": 8}', path_in_repo="config.json", repo_id="ann/kept")
        api.create_repo("ann/hidden", private=True)
        # A checkpoint a client saw before the backup: the restored log must stay consistent with it.
        deadline = time.time() + 20
        while int(checkpoint(url).split("\n")[1]) == 0:
            assert time.time() < deadline
            time.sleep(0.1)
        vkey = urllib.request.urlopen(f"{url}/log/vkey", timeout=10).read().decode().strip()
        audit_env = dict(os.environ, WEIR_CONFIG_DIR=str(tmp_path / "cfg"), WEIR_LOG_KEY=vkey)
        seen = subprocess.run([WEIR, "log", "audit", "--server", url], capture_output=True, text=True,
                              env=audit_env)
        assert seen.returncode == 0, seen.stderr

        out = str(tmp_path / "backup")
        said = weir("admin", "--data", data, "backup", out)
        assert "pg_dump of one snapshot" in said, said
        meta = json.load(open(os.path.join(out, "backup.json")))
        assert meta["format"] == "weir-backup-postgresql-1"
        assert "password" not in json.dumps(meta)
        assert oct(os.stat(out).st_mode & 0o777) == "0o700"
        assert oct(os.stat(os.path.join(out, "database.dump")).st_mode & 0o777) == "0o600"
        if "WEIR_BLOBS" in env:
            assert meta["blobs"]["in"].startswith("s3://")
            assert not os.path.exists(os.path.join(out, "blobs"))
        # The live registry goes on; more happens after the backup, which the restore does not have.
        api.create_repo("ann/later")
        live.terminate()
        live.wait(timeout=30)
        live = None

        # Restore into a new data dir and a new, empty database (the same blob store, if S3).
        new_data = str(tmp_path / "restored")
        admin = os.environ["WEIR_TEST_POSTGRES"]
        name = "weir_restored_" + os.urandom(5).hex()
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", admin, "-c", f"CREATE DATABASE {name}"],
                       check=True, capture_output=True)
        new_env = dict(env, WEIR_DATABASE=f"{admin.rpartition('/')[0]}/{name}")
        # A restore over a database that is not empty is refused.
        refused = subprocess.run([WEIR, "admin", "--data", str(tmp_path / "other"), "restore", out],
                                 capture_output=True, text=True, env=dict(os.environ, **env))
        assert refused.returncode != 0 and "not empty" in refused.stderr, refused.stderr
        said = weir("admin", "--data", new_data, "restore", out, env=dict(os.environ, **new_env))
        assert "restored" in said, said
        DATABASES[new_data] = new_env

        # Served where the live one was (its public URL is the log's origin, and the client's
        # pins are per server), so the audit below compares with what it saw there.
        url2 = url
        restored = serve(new_data, port, url, new_env, str(tmp_path / "restored.log"))
        got = hf_hub_download("ann/kept", "model.safetensors", endpoint=url2, token=ann,
                              cache_dir=str(tmp_path / "hf"))
        assert hashlib.sha256(open(got, "rb").read()).digest() == hashlib.sha256(weights).digest()
        info = HfApi(endpoint=url2, token=ann).model_info("ann/kept")
        assert info.id == "ann/kept"
        with pytest.raises(Exception):
            HfApi(endpoint=url2, token=ann).model_info("ann/later")  # after the backup: absent
        # The restored log verifies and is consistent with the checkpoint seen before the backup.
        after = subprocess.run([WEIR, "log", "audit", "--server", url2], capture_output=True, text=True,
                               env=audit_env)
        assert after.returncode == 0, after.stderr
    finally:
        for p in (live, restored):
            if p is not None and p.poll() is None:
                p.terminate()
                p.wait(timeout=30)
