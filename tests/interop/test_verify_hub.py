"""`weir verify` on what huggingface_hub downloads: a cache snapshot (its symlinks into blobs/
followed there only, nothing written into the cache) and a local_dir download (its
.cache/huggingface/ skipped), and a tampered blob caught."""

import os
import pathlib
import subprocess

import huggingface_hub as hf

from conftest import ENDPOINT, WEIR


def verify(tmp_path, *args):
    env = {**os.environ, "WEIR_SERVER": ENDPOINT, "WEIR_CONFIG_DIR": str(tmp_path / "cfg")}
    return subprocess.run([WEIR, "verify", *args], capture_output=True, text=True, env=env)


def listing(root: pathlib.Path):
    return sorted((str(p.relative_to(root)), p.is_symlink()) for p in root.rglob("*"))


def test_verify_a_hub_cache_snapshot_without_writing_into_the_cache(registry, tmp_path):
    cache = tmp_path / "hub"
    snap = pathlib.Path(hf.snapshot_download("acme/tiny-llama", cache_dir=cache))
    assert any(p.is_symlink() for p in snap.rglob("*")), "the cache links into blobs/"
    before = listing(cache)
    out = verify(tmp_path, str(snap))
    assert out.returncode == 0, out.stderr
    assert "the release is entry" in out.stdout
    assert listing(cache) == before, "weir verify wrote into the Hub cache"
    # A blob changed under the cache: refused.
    blob = next(p for p in (snap.parents[1] / "blobs").iterdir() if p.stat().st_size > 0)
    blob.write_bytes(blob.read_bytes() + b"tampered")
    bad = verify(tmp_path, str(snap))
    assert bad.returncode != 0
    assert bad.stderr.strip().count("\n") == 0, bad.stderr


def test_verify_a_local_dir_download(registry, tmp_path):
    local = tmp_path / "local"
    hf.snapshot_download("acme/tiny-llama", local_dir=local)
    assert (local / ".cache" / "huggingface").is_dir()
    out = verify(tmp_path, str(local), "--repo", "acme/tiny-llama")
    assert out.returncode == 0, out.stderr
    assert "the release is entry" in out.stdout
    (local / "config.json").write_text("{}")
    assert verify(tmp_path, str(local), "--repo", "acme/tiny-llama").returncode != 0
