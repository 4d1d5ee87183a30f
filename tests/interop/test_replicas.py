"""Two `weir serve` replicas on one PostgreSQL database and one S3 store, each with a data dir of
its own holding a copy of the same keys (without S3: one shared data dir):
writes through one are seen at once through the other, the Hub client works through both, a
replica given its own keys is refused, and when the replica running the log sequencer is killed
with SIGKILL the other takes over and every checkpoint a client saw stays consistent
(`weir log audit`). Runs where WEIR_TEST_POSTGRES names a server (scripts/test.sh starts one)."""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest
from huggingface_hub import HfApi, hf_hub_download

from conftest import WEIR, fresh_database, free_port, wait_ready, weir

pytestmark = pytest.mark.skipif(not os.environ.get("WEIR_TEST_POSTGRES"),
                                reason="needs PostgreSQL (WEIR_TEST_POSTGRES)")


def get(url: str, token: str | None = None):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def start(data: str, port: int, public: str, db: dict, log_path: str) -> subprocess.Popen:
    log = open(log_path, "w")
    return subprocess.Popen(
        [WEIR, "serve", "--data", data, "--listen", f"127.0.0.1:{port}", "--public-url", public,
         "--log-interval-ms", "100"],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, **db),
    )


def checkpoint_size(url: str) -> int:
    status, body = get(f"{url}/log/checkpoint")
    assert status == 200, body
    return int(body.decode().split("\n")[1])


def test_two_replicas_share_state_and_the_sequencer_fails_over(tmp_path):
    data = str(tmp_path / "data")
    db = fresh_database(data)
    port_a, port_b = free_port(), free_port()
    a_url, b_url = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    # Behind a proxy both answer for one public URL (the log's origin).
    public = a_url
    a = start(data, port_a, public, db, str(tmp_path / "a.log"))
    b = None
    try:
        wait_ready(a_url, a, str(tmp_path / "a.log"))
        deadline = time.time() + 20
        while get(f"{a_url}/log/checkpoint")[0] != 200:
            assert time.time() < deadline, "no checkpoint"
            time.sleep(0.1)
        # A replica that would make keys of its own is refused: the registry has keys already.
        own = subprocess.run(
            [WEIR, "serve", "--data", str(tmp_path / "other"), "--listen", f"127.0.0.1:{free_port()}",
             "--public-url", public],
            capture_output=True, text=True, timeout=60, env=dict(os.environ, **db))
        assert own.returncode != 0
        assert "log.key is missing, but this database's registry signs with a log key already" in own.stderr, own.stderr
        assert not os.path.exists(tmp_path / "other" / "secrets" / "log.key")

        # With the blobs on S3 a replica needs no shared disk: a data dir of its own (its cache)
        # with a copy of the first one's keys.
        data_b = data
        if "WEIR_BLOBS" in db:
            data_b = str(tmp_path / "data-b")
            os.makedirs(data_b, mode=0o700)
            shutil.copytree(os.path.join(data, "secrets"), os.path.join(data_b, "secrets"))
        b = start(data_b, port_b, public, db, str(tmp_path / "b.log"))
        wait_ready(b_url, b, str(tmp_path / "b.log"))
        weir("admin", "--data", data, "user", "add", "ann", "--email", "ann@example.org")
        ann = weir("admin", "--data", data, "token", "create", "ann", "--scope", "write")

        # Pushed through A, read through B at once, with the Hub client.
        api_a, api_b = HfApi(endpoint=a_url, token=ann), HfApi(endpoint=b_url, token=ann)
        api_a.create_repo("ann/shared")
        api_a.upload_file(path_or_fileobj=b'{"hidden_size": 8}', path_in_repo="config.json",
                          repo_id="ann/shared")
        path = hf_hub_download("ann/shared", "config.json", endpoint=b_url, token=ann,
                               cache_dir=str(tmp_path / "cache"))
        assert json.load(open(path)) == {"hidden_size": 8}
        assert api_b.model_info("ann/shared").id == "ann/shared"
        # A decision taken through B (the repo made private) holds through A right away.
        api_b.update_repo_settings("ann/shared", private=True)
        def answer(url, name):
            status, body = get(f"{url}/api/models/{name}")
            return status, json.loads(body).get("error") if status != 200 else None

        missing = answer(b_url, "ann/no-such-repo")
        assert answer(b_url, "ann/shared") == missing
        deadline = time.time() + 1
        while answer(a_url, "ann/shared") != missing:
            assert time.time() < deadline, "A still shows a repo made private through B"
            time.sleep(0.01)
        assert get(f"{a_url}/api/models/ann/shared", ann)[0] == 200

        vkey = get(f"{a_url}/log/vkey")[1].decode().strip()
        audit_env = dict(os.environ, WEIR_CONFIG_DIR=str(tmp_path / "cfg"), WEIR_LOG_KEY=vkey)
        seen = subprocess.run([WEIR, "log", "audit", "--server", b_url], capture_output=True,
                              text=True, env=audit_env)
        assert seen.returncode == 0, seen.stderr

        # A started first and runs the sequencer: kill it mid-stream of logged decisions (each
        # visibility change is an event in the log).
        api_b.create_repo("ann/toggled")
        before = checkpoint_size(b_url)
        for i in range(5):
            api_b.update_repo_settings("ann/toggled", private=i % 2 == 0)
        a.send_signal(signal.SIGKILL)
        a.wait(timeout=30)
        for i in range(5, 10):
            api_b.update_repo_settings("ann/toggled", private=i % 2 == 0)
        deadline = time.time() + 15
        while checkpoint_size(b_url) < before + 10:
            assert time.time() < deadline, f"B did not take over the sequencer: {open(tmp_path / 'b.log').read()}"
            time.sleep(0.2)
        after = subprocess.run([WEIR, "log", "audit", "--server", b_url], capture_output=True,
                               text=True, env=audit_env)
        assert after.returncode == 0, after.stderr
        assert get(f"{b_url}/readyz")[0] == 200
    finally:
        for p in (a, b):
            if p is not None and p.poll() is None:
                p.terminate()
                p.wait(timeout=30)


def test_two_fresh_replicas_started_at_once_cannot_sign_with_keys_of_their_own(tmp_path):
    """Before any checkpoint there is nothing to check a replica's keys against: the first
    process on a database pins its public keys, atomically, and the other is refused."""
    db = fresh_database(str(tmp_path / "a"))
    port_a, port_b = free_port(), free_port()
    public = f"http://127.0.0.1:{port_a}"
    logs = [str(tmp_path / "a.log"), str(tmp_path / "b.log")]
    procs = [start(str(tmp_path / "a"), port_a, public, db, logs[0]),
             start(str(tmp_path / "b"), port_b, public, db, logs[1])]
    try:
        deadline = time.time() + 60
        while all(p.poll() is None for p in procs):
            assert time.time() < deadline, "both replicas started with keys of their own"
            time.sleep(0.1)
        lost = next(i for i, p in enumerate(procs) if p.poll() is not None)
        won = 1 - lost
        assert procs[lost].returncode != 0
        refusal = open(logs[lost]).read()
        assert "every replica must share the first one's keys" in refusal, refusal
        url = f"http://127.0.0.1:{(port_a, port_b)[won]}"
        wait_ready(url, procs[won], logs[won])
        # The survivor signs with its keys; the one operator token was made by it alone.
        status, vkey = get(f"{url}/log/vkey")
        assert status == 200, vkey
        mine = open(tmp_path / ("a", "b")[won] / "secrets" / "log.key").read()
        assert vkey.decode().split("+")[1] == mine.split("+")[3], (vkey, mine)
        assert "created the operator account" not in refusal
        assert open(logs[won]).read().count("created the operator account") == 1

        # Each key is pinned: the right log key with another release key is refused too, and a
        # pinned key missing from a data dir is not made anew.
        mine_dir, theirs_dir = tmp_path / ("a", "b")[won], tmp_path / ("a", "b")[lost]
        for name, release in [("c", theirs_dir / "secrets" / "release.key"), ("d", None)]:
            os.makedirs(tmp_path / name / "secrets", mode=0o700)
            shutil.copy(mine_dir / "secrets" / "log.key", tmp_path / name / "secrets" / "log.key")
            if release:
                shutil.copy(release, tmp_path / name / "secrets" / "release.key")
            out = subprocess.run(
                [WEIR, "serve", "--data", str(tmp_path / name), "--listen", f"127.0.0.1:{free_port()}",
                 "--public-url", public],
                capture_output=True, text=True, timeout=60, env=dict(os.environ, **db))
            assert out.returncode != 0, out.stdout
            want = "signs with another release key" if release else "release.key is missing"
            assert want in out.stderr, out.stderr
            assert not (tmp_path / "d" / "secrets" / "release.key").exists()
        # Nor does an operator's command sign with a key the database does not pin.
        policy = tmp_path / "policy.toml"
        policy.write_text("# anything: refused before it is read\n")
        out = subprocess.run([WEIR, "admin", "--data", str(theirs_dir), "policy", "set", str(policy)],
                             capture_output=True, text=True, timeout=60, env=dict(os.environ, **db))
        assert out.returncode != 0 and "is not this database's log key" in out.stderr, out.stderr
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=30)
