"""The official huggingface_hub client against a live `weir serve`."""

import hashlib
import os
import pathlib
import socket
import subprocess
import threading
import urllib.request

import pytest

import huggingface_hub as hf
from huggingface_hub import errors

from conftest import DATABASES, WEIR, free_port, wait_ready


def sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def manifest(registry, repo, rev="main"):
    import json
    import urllib.request
    with urllib.request.urlopen(f"{registry.endpoint}/api/v1/repos/{repo}/manifest/{rev.replace('/', '%2F')}") as r:
        return {f["path"]: f["sha256"] for f in json.load(r)["files"]}


def test_model_info_files_and_refs(registry):
    info = hf.model_info("acme/tiny-llama")
    assert info.id == "acme/tiny-llama"
    assert len(info.sha) == 40
    names = {s.rfilename for s in info.siblings}
    assert {"README.md", "config.json", "model.safetensors", ".gitattributes"} <= names
    detailed = hf.model_info("acme/tiny-llama", files_metadata=True)
    st = next(s for s in detailed.siblings if s.rfilename == "model.safetensors")
    assert st.lfs is not None and len(st.lfs.sha256) == 64 and st.size == st.lfs.size
    at_tag = hf.model_info("acme/tiny-llama", revision="v1.0")
    assert at_tag.sha == info.sha
    files = hf.list_repo_files("openlab/mini-decoder", revision="experiment/wide")
    assert "notes/wide run.md" in files
    refs = hf.list_repo_refs("openlab/mini-decoder")
    assert {b.name for b in refs.branches} == {"main", "experiment/wide"}
    assert [t.name for t in refs.tags] == ["v1.0"]
    assert hf.repo_exists("acme/tiny-llama")
    assert not hf.repo_exists("acme/nope")
    assert hf.file_exists("acme/tiny-llama", "config.json")
    assert not hf.file_exists("acme/tiny-llama", "nope.json")
    assert hf.revision_exists("acme/tiny-llama", "v1.0")
    assert not hf.revision_exists("acme/tiny-llama", "v9")


def test_snapshot_download_cache_and_local_dir(registry, tmp_path):
    expected = manifest(registry, "acme/tiny-llama")
    cached = pathlib.Path(hf.snapshot_download("acme/tiny-llama"))
    local = pathlib.Path(hf.snapshot_download("acme/tiny-llama", local_dir=tmp_path / "local"))
    for root in (cached, local):
        for path, digest in expected.items():
            assert sha256(root / path) == digest, (root, path)


def test_hf_hub_download_by_branch_tag_commit_and_nested_path(registry):
    expected = manifest(registry, "openlab/mini-decoder", "experiment/wide")
    info = hf.model_info("openlab/mini-decoder", revision="experiment/wide")
    for rev in ("experiment/wide", info.sha):
        p = hf.hf_hub_download("openlab/mini-decoder", "notes/wide run.md", revision=rev)
        assert sha256(p) == expected["notes/wide run.md"]
    tagged = hf.hf_hub_download("openlab/mini-decoder", "model.safetensors", revision="v1.0")
    assert sha256(tagged) == manifest(registry, "openlab/mini-decoder", "v1.0")["model.safetensors"]
    main = hf.hf_hub_download("openlab/mini-decoder", "config.json")
    assert sha256(main) == expected["config.json"]


def test_errors_map_to_the_clients_exceptions(registry):
    with pytest.raises(errors.RepositoryNotFoundError):
        hf.hf_hub_download("acme/does-not-exist", "config.json")
    with pytest.raises(errors.RepositoryNotFoundError):
        hf.model_info("acme/does-not-exist", token=registry.token("carol", "read"))
    with pytest.raises(errors.RevisionNotFoundError):
        hf.hf_hub_download("acme/tiny-llama", "config.json", revision="no-such-branch")
    with pytest.raises(errors.RevisionNotFoundError):
        hf.model_info("acme/tiny-llama", revision="no-such-branch")
    with pytest.raises(errors.RemoteEntryNotFoundError):
        hf.hf_hub_download("acme/tiny-llama", "no/such/file.bin")


def test_private_repo_is_invisible_to_others(registry, tmp_path):
    owner = registry.token("dave")
    hf.create_repo("dave/secret", private=True, token=owner)
    (tmp_path / "w.txt").write_text("private weights\n")
    api = hf.HfApi(token=owner)
    api.upload_file(path_or_fileobj=str(tmp_path / "w.txt"), path_in_repo="w.txt", repo_id="dave/secret")
    assert api.model_info("dave/secret").private
    assert pathlib.Path(api.hf_hub_download("dave/secret", "w.txt")).read_text() == "private weights\n"
    other = registry.token("carol", "read")
    for token in (other, False):
        with pytest.raises(errors.RepositoryNotFoundError):
            hf.hf_hub_download("dave/secret", "w.txt", token=token, cache_dir=tmp_path / f"c{bool(token)}")
        with pytest.raises(errors.RepositoryNotFoundError):
            hf.model_info("dave/secret", token=token)
    # the demo's private repo, seen by a non-member
    with pytest.raises(errors.RepositoryNotFoundError):
        hf.model_info("openlab/internal-draft", token=other)


def test_whoami_and_create_repo_exist_ok(registry):
    token = registry.token("alice")
    me = hf.whoami(token=token)
    assert me["name"] == "alice"
    assert "acme" in [o["name"] for o in me["orgs"]]
    url = hf.create_repo("acme/created", token=token)
    assert str(url).endswith("/acme/created")
    again = hf.create_repo("acme/created", token=token, exist_ok=True)
    assert again.repo_id == "acme/created"
    with pytest.raises(errors.HfHubHTTPError):
        hf.create_repo("acme/created", token=token)  # 409 without exist_ok
    with pytest.raises(errors.HfHubHTTPError):
        hf.whoami(token="weir_not-a-real-token")


def test_upload_folder_then_download_matches(registry, tmp_path, monkeypatch):
    # Uploads use the classic LFS path: HF_HUB_DISABLE_XET=1 (README documents it).
    monkeypatch.setattr(hf.constants, "HF_HUB_DISABLE_XET", True)
    token = registry.token("alice")
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "config.json").write_text('{"model_type": "llama"}\n')
    (src / "my file.txt").write_text("a name with a space\n")
    (src / "sub" / "nested.txt").write_text("nested\n")
    (src / "model.safetensors").write_bytes(os.urandom(300_000))
    (src / "big.bin").write_bytes(os.urandom(11 * 1024 * 1024))
    api = hf.HfApi(token=token)
    api.create_repo("acme/uploaded", exist_ok=True)
    info = api.upload_folder(folder_path=str(src), repo_id="acme/uploaded", commit_message="first upload")
    assert len(info.oid) == 40
    api.create_tag("acme/uploaded", tag="v0.1")
    api.create_branch("acme/uploaded", branch="dev/next")
    out = pathlib.Path(hf.snapshot_download("acme/uploaded", revision="v0.1", local_dir=tmp_path / "out"))
    for f in ("config.json", "my file.txt", "sub/nested.txt", "model.safetensors", "big.bin"):
        assert sha256(out / f) == sha256(src / f), f
    one = hf.hf_hub_download("acme/uploaded", "my file.txt", revision="dev/next", cache_dir=tmp_path / "c")
    assert pathlib.Path(one).read_text() == "a name with a space\n"
    # Re-uploading the same folder is a no-op: no new commit.
    again = api.upload_folder(folder_path=str(src), repo_id="acme/uploaded", commit_message="same again")
    assert api.model_info("acme/uploaded").sha == info.oid
    del again


class DroppingProxy:
    """A TCP proxy that cuts the first response stream after `drop_after` bytes, once, and
    records the request lines and Range headers it forwards."""

    def __init__(self, upstream_port: int, drop_after: int):
        self.upstream = ("127.0.0.1", upstream_port)
        self.drop_after = drop_after
        self.dropped = False
        self.requests: list[str] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            up = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump_requests, args=(client, up), daemon=True).start()
            threading.Thread(target=self._pump_responses, args=(up, client), daemon=True).start()

    def _pump_requests(self, src, dst):
        try:
            while data := src.recv(65536):
                for line in data.decode("latin-1").split("\r\n"):
                    if line.startswith(("GET ", "HEAD ")) or line.lower().startswith("range:"):
                        self.requests.append(line)
                dst.sendall(data)
        except OSError:
            pass

    def _pump_responses(self, src, dst):
        sent = 0
        try:
            while data := src.recv(65536):
                dst.sendall(data)
                sent += len(data)
                if not self.dropped and sent > self.drop_after:
                    self.dropped = True
                    break
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def test_download_resumes_after_a_dropped_connection(registry, tmp_path, monkeypatch):
    monkeypatch.setattr(hf.constants, "HF_HUB_DISABLE_XET", True)
    token = registry.token("alice")
    api = hf.HfApi(token=token)
    api.create_repo("acme/large", exist_ok=True)
    blob = tmp_path / "weights.bin"
    blob.write_bytes(os.urandom(25 * 1024 * 1024))
    api.upload_file(path_or_fileobj=str(blob), path_in_repo="weights.bin", repo_id="acme/large")
    port = int(registry.endpoint.rsplit(":", 1)[1])
    streaming = None
    if registry.data in DATABASES and "WEIR_BLOBS" in DATABASES[registry.data]:
        # Blobs on S3: a T0 download is a 302 to the store, which resumes it itself; this test is
        # about weir's own stream, so a second replica of the same registry streams instead.
        port = free_port()
        log_path = tmp_path / "proxy-replica.log"
        streaming = subprocess.Popen(
            [WEIR, "serve", "--data", registry.data, "--listen", f"127.0.0.1:{port}",
             "--public-url", registry.endpoint, "--blob-downloads", "proxy"],
            stdout=open(log_path, "w"), stderr=subprocess.STDOUT,
            env=dict(os.environ, **DATABASES[registry.data]))
        wait_ready(f"http://127.0.0.1:{port}", streaming, str(log_path))
    try:
        proxy = DroppingProxy(port, drop_after=17 * 1024 * 1024)
        got = hf.hf_hub_download(
            "acme/large", "weights.bin", endpoint=f"http://127.0.0.1:{proxy.port}", cache_dir=tmp_path / "cache"
        )
    finally:
        if streaming is not None:
            streaming.terminate()
            streaming.wait(timeout=30)
    assert proxy.dropped
    assert any(r.lower().startswith("range: bytes=") for r in proxy.requests), proxy.requests
    assert sha256(got) == sha256(blob)


def test_refs_auth_check_write_and_deleting_what_is_not_there(registry, tmp_path, monkeypatch):
    monkeypatch.setattr(hf.constants, "HF_HUB_DISABLE_XET", True)
    api = hf.HfApi(token=registry.token("alice"))
    api.create_repo("acme/refs", exist_ok=True)
    api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="acme/refs")
    api.create_branch("acme/refs", branch="dev")
    api.create_tag("acme/refs", tag="v0")
    api.delete_branch("acme/refs", branch="dev")
    api.delete_tag("acme/refs", tag="v0")
    refs = api.list_repo_refs("acme/refs")
    assert [b.name for b in refs.branches] == ["main"] and refs.tags == []
    with pytest.raises(errors.HfHubHTTPError):
        api.delete_branch("acme/refs", branch="main")
    with pytest.raises(errors.RevisionNotFoundError):
        api.delete_tag("acme/refs", tag="never")
    # auth_check(write=True): alice may push; carol may read but not push.
    api.auth_check("acme/refs", write=True)
    with pytest.raises(errors.HfHubHTTPError):
        hf.HfApi(token=registry.token("carol")).auth_check("acme/refs", write=True)
    with pytest.raises(errors.EntryNotFoundError):
        api.delete_file("not-there.txt", repo_id="acme/refs")


def test_update_repo_settings_maps_gated_onto_the_tiers(registry):
    api = hf.HfApi(token=registry.token("alice"))
    api.create_repo("acme/settings", exist_ok=True)
    api.update_repo_settings("acme/settings", gated="manual")
    info = api.model_info("acme/settings")
    assert info.gated == "manual" and info.weir["tier"] == "T2"
    # Lowering follows the tier rules: the owner is refused, with the rule named.
    with pytest.raises(errors.HfHubHTTPError) as e:
        api.update_repo_settings("acme/settings", gated=False)
    assert e.value.response.status_code == 403 and "tier_lowering" in str(e.value)
    api.update_repo_settings("acme/settings", private=True)
    with pytest.raises(errors.RepositoryNotFoundError):
        hf.model_info("acme/settings")
    api.update_repo_settings("acme/settings", private=False)
    assert hf.model_info("acme/settings").private is False


def test_likes_through_the_client(registry):
    alice = hf.HfApi(token=registry.token("alice"))
    bob = hf.HfApi(token=registry.token("bob"))
    alice.create_repo("acme/liked", exist_ok=True)
    # huggingface_hub 2.4.0 has no like(); its unlike() undoes the Hub's like.
    import urllib.request
    req = urllib.request.Request(f"{registry.endpoint}/api/models/acme/liked/like", method="POST",
                                 headers={"authorization": f"Bearer {registry.token('bob')}"})
    with urllib.request.urlopen(req) as r:
        assert r.status == 200
    assert [u.username for u in alice.list_repo_likers("acme/liked")] == ["bob"]
    assert "acme/liked" in bob.list_liked_repos("bob").models
    assert hf.model_info("acme/liked").likes == 1
    bob.unlike("acme/liked")
    assert list(alice.list_repo_likers("acme/liked")) == []
