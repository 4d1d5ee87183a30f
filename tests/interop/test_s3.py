"""Blobs on an S3-compatible store (moto_server, started by scripts/s3.sh): the Hub client uploads
a multi-part LFS file and downloads it through a presigned redirect straight from the store;
the redirect is weir's own (scoped to the one object, short expiry, only after the allow
decision, only for T0/T1); gated files stream through the server with ranges; an upload killed
with SIGKILL leaves no visible object and no record. Runs where WEIR_TEST_S3 names a server."""

import hashlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import boto3
import huggingface_hub as hf
import pytest
import requests
from huggingface_hub import HfApi, hf_hub_download

from conftest import WEIR, DATABASES, fresh_database, free_port, weir

pytestmark = pytest.mark.skipif(not os.environ.get("WEIR_TEST_S3"),
                                reason="needs an S3-compatible server (WEIR_TEST_S3)")

TTL = 120
MIB = 1 << 20


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def call(url: str, method: str = "GET", token: str | None = None, headers: dict | None = None):
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, method=method, headers=h)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def bucket_client():
    return boto3.client("s3", endpoint_url=os.environ["WEIR_TEST_S3"], region_name="us-east-1")


def keys_under(prefix: str) -> list[str]:
    bucket = os.environ.get("WEIR_TEST_S3_BUCKET", "weir-test")
    out = bucket_client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for o in out.get("Contents", [])]


class Server:
    def __init__(self, tmp, *extra: str):
        self.data = str(tmp / "data")
        self.env = fresh_database(self.data)
        self.prefix = self.env["WEIR_BLOBS"].split("/", 3)[3]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = str(tmp / "serve.log")
        self.extra = extra
        self.proc = None

    def start(self):
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [WEIR, "serve", "--data", self.data, "--listen", f"127.0.0.1:{self.port}",
             "--blob-url-ttl-secs", str(TTL), *self.extra],
            stdout=log, stderr=subprocess.STDOUT,
            env=dict(os.environ, WEIR_DEMO_BOARD="off", **self.env),
        )
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/api/v1/health", timeout=1)
                return self
            except OSError:
                assert self.proc.poll() is None and time.time() < deadline, open(self.log_path).read()
                time.sleep(0.1)

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)


@pytest.fixture(autouse=True)
def classic_lfs(monkeypatch):
    # Uploads use the classic LFS path (README documents HF_HUB_DISABLE_XET=1).
    monkeypatch.setattr(hf.constants, "HF_HUB_DISABLE_XET", True)


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path).start()
    yield s
    s.stop()


def test_hub_client_round_trip_through_a_presigned_redirect(server, tmp_path):
    weir("admin", "--data", server.data, "user", "add", "alice", "--email", "alice@example.org")
    token = weir("admin", "--data", server.data, "token", "create", "alice", "--scope", "write")
    api = HfApi(endpoint=server.url, token=token)
    api.create_repo("alice/big")
    # Three parts of the store's multipart upload (8 MiB each but the last).
    payload = os.urandom(17 * MIB + 4321)
    sha = hashlib.sha256(payload).hexdigest()
    src = tmp_path / "model.safetensors"
    src.write_bytes(payload)
    api.upload_file(path_or_fileobj=str(src), path_in_repo="model.safetensors", repo_id="alice/big")
    api.upload_file(path_or_fileobj=b"# big\n", path_in_repo="README.md", repo_id="alice/big")
    assert f"{server.prefix}/sha256/{sha[:2]}/{sha}" in keys_under(server.prefix)

    # HEAD answers the Hub client's 302: the headers it needs, and a URL for this one object.
    status, headers, _ = call(f"{server.url}/alice/big/resolve/main/model.safetensors", "HEAD")
    assert status == 302, headers
    assert headers["X-Linked-Size"] == str(len(payload))
    assert headers["X-Linked-Etag"] == f'"{sha}"'
    assert len(headers["X-Repo-Commit"]) == 40
    location = headers["Location"]
    parts = urllib.parse.urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}" == os.environ["WEIR_TEST_S3"]
    assert parts.path.endswith(f"/{server.prefix}/sha256/{sha[:2]}/{sha}"), parts.path
    q = urllib.parse.parse_qs(parts.query)
    assert q["X-Amz-Expires"] == [str(TTL)]
    assert q["X-Amz-SignedHeaders"] == ["host"]
    signed = time.mktime(time.strptime(q["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")) - time.timezone
    assert abs(time.time() - signed) < 60

    # Range both ways: from the store through the redirect's URL.
    r = requests.get(location, headers={"Range": "bytes=100-199"}, timeout=30)
    assert r.status_code == 206 and r.content == payload[100:200]

    # The real client, with the default install (hf_xet present): the file and a small one.
    got = hf_hub_download("alice/big", "model.safetensors", endpoint=server.url,
                          cache_dir=str(tmp_path / "hf"))
    assert hashlib.sha256(open(got, "rb").read()).hexdigest() == sha
    readme = hf_hub_download("alice/big", "README.md", endpoint=server.url, cache_dir=str(tmp_path / "hf"))
    assert open(readme, "rb").read() == b"# big\n"
    # Small (non-LFS) files are answered by the server itself.
    status, headers, body = call(f"{server.url}/alice/big/resolve/main/README.md")
    assert status == 200 and body == b"# big\n" and "Location" not in headers

    # A private repo: a stranger gets no redirect, no URL, nothing that names the object.
    api.create_repo("alice/hidden", private=True)
    api.upload_file(path_or_fileobj=str(src), path_in_repo="model.safetensors", repo_id="alice/hidden")
    status, headers, _ = call(f"{server.url}/alice/hidden/resolve/main/model.safetensors", "HEAD")
    assert status in (401, 404) and "Location" not in headers
    status, headers, _ = call(f"{server.url}/alice/hidden/resolve/main/model.safetensors", "HEAD", token=token)
    assert status == 302

    # Gated tiers stream through the server, ranges too: never a redirect.
    weir("tier", "set", "alice/big", "T2",
         env=dict(os.environ, WEIR_SERVER=server.url, WEIR_TOKEN=token))
    status, headers, _ = call(f"{server.url}/alice/big/resolve/main/model.safetensors", "HEAD")
    assert status in (401, 403) and "Location" not in headers
    status, headers, body = call(f"{server.url}/alice/big/resolve/main/model.safetensors",
                                 token=token, headers={"Range": "bytes=5-14"})
    assert status == 206 and body == payload[5:15], (status, body[:200])
    assert "Location" not in headers

    # The counters say what went where.
    metrics = requests.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    if metrics.status_code == 200:
        assert "weir_download_redirects_total" in metrics.text


def test_proxy_mode_streams_everything(tmp_path):
    s = Server(tmp_path, "--blob-downloads", "proxy").start()
    try:
        weir("admin", "--data", s.data, "user", "add", "bob", "--email", "bob@example.org")
        token = weir("admin", "--data", s.data, "token", "create", "bob", "--scope", "write")
        api = HfApi(endpoint=s.url, token=token)
        api.create_repo("bob/m")
        payload = os.urandom(9 * MIB)
        api.upload_file(path_or_fileobj=payload, path_in_repo="w.bin", repo_id="bob/m")
        # A fresh cache: the replica fetches (and verifies) the blob from the store first.
        for f in (tmp_path / "data" / "blobs" / "sha256").rglob("*"):
            if f.is_file():
                f.unlink()
        status, headers, body = call(f"{s.url}/bob/m/resolve/main/w.bin", headers={"Range": "bytes=-10"})
        assert status == 206 and body == payload[-10:], status
        status, headers, body = call(f"{s.url}/bob/m/resolve/main/w.bin")
        assert status == 200 and body == payload and "Location" not in headers
    finally:
        s.stop()


def lfs_put_slowly(url: str, href: str, total: int, sent_before_kill: int) -> socket.socket:
    """Starts the PUT of an LFS object of TOTAL bytes and sends SENT_BEFORE_KILL of them."""
    u = urllib.parse.urlsplit(href)
    sock = socket.create_connection((u.hostname, u.port), timeout=30)
    path = u.path + (f"?{u.query}" if u.query else "")
    sock.sendall((f"PUT {path} HTTP/1.1\r\nHost: {u.netloc}\r\nContent-Length: {total}\r\n"
                  "Content-Type: application/octet-stream\r\n\r\n").encode())
    chunk = os.urandom(MIB)
    sent = 0
    while sent < sent_before_kill:
        sock.sendall(chunk)
        sent += len(chunk)
    return sock


def test_sigkill_during_a_multipart_upload_leaves_nothing_visible(server, tmp_path):
    weir("admin", "--data", server.data, "user", "add", "carol", "--email", "carol@example.org")
    token = weir("admin", "--data", server.data, "token", "create", "carol", "--scope", "write")
    HfApi(endpoint=server.url, token=token).create_repo("carol/crash")
    total = 40 * MIB
    oid = hashlib.sha256(b"never finished").hexdigest()  # a promise the bytes never reach
    batch = requests.post(
        f"{server.url}/carol/crash.git/info/lfs/objects/batch",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/vnd.git-lfs+json"},
        json={"operation": "upload", "transfers": ["basic"], "hash_algo": "sha256",
              "objects": [{"oid": oid, "size": total}]},
        timeout=30,
    ).json()
    href = batch["objects"][0]["actions"]["upload"]["href"]
    before = keys_under(server.prefix)  # the repo's first commit (.gitattributes)
    # Well past two parts on their way to the store, then the server dies mid-upload.
    sock = lfs_put_slowly(server.url, href, total, 24 * MIB)
    time.sleep(1.0)
    client = bucket_client()
    bucket = os.environ.get("WEIR_TEST_S3_BUCKET", "weir-test")
    uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=server.prefix).get("Uploads", [])
    assert uploads, "the bytes were on their way to the store in parts"
    server.stop(signal.SIGKILL)
    sock.close()
    # Nothing visible in the store, nothing recorded, nothing half-written in the cache.
    assert keys_under(server.prefix) == before
    tmp_dir = tmp_path / "data" / "blobs" / "tmp"
    server.start()
    assert list(tmp_dir.iterdir()) == [], "crash leftovers are removed at start"
    batch = requests.post(
        f"{server.url}/carol/crash.git/info/lfs/objects/batch",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/vnd.git-lfs+json"},
        json={"operation": "upload", "transfers": ["basic"], "hash_algo": "sha256",
              "objects": [{"oid": oid, "size": total}]},
        timeout=30,
    ).json()
    assert "upload" in batch["objects"][0]["actions"], "the registry does not have the object"
    report = weir("admin", "--data", server.data, "gc", "--dry-run", "--grace-hours", "0")
    assert report.startswith("would remove 0 blobs and 0 leftover files"), report
    # An upload of the same size that completes is stored whole, once.
    payload = os.urandom(total)
    real = hashlib.sha256(payload).hexdigest()
    batch = requests.post(
        f"{server.url}/carol/crash.git/info/lfs/objects/batch",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/vnd.git-lfs+json"},
        json={"operation": "upload", "transfers": ["basic"], "hash_algo": "sha256",
              "objects": [{"oid": real, "size": total}]},
        timeout=30,
    ).json()
    r = requests.put(batch["objects"][0]["actions"]["upload"]["href"], data=payload, timeout=120)
    assert r.status_code in (200, 201), r.text
    assert sorted(keys_under(server.prefix)) == sorted(before + [f"{server.prefix}/sha256/{real[:2]}/{real}"])
    assert DATABASES[server.data]["WEIR_BLOBS"].endswith(server.prefix)
