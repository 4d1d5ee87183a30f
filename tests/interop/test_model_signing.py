"""Signed releases against the real OpenSSF `model_signing` 1.1.1: it verifies what weir signs,
weir verifies what it signs (P-256 and P-384), and tampering is caught by both."""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from conftest import ENDPOINT, WEIR, weir

MODEL_SIGNING = str(pathlib.Path(sys.executable).parent / "model_signing")


def run(*args, env=None, check=True):
    return subprocess.run(list(args), capture_output=True, text=True, env=env, check=check)


def weir_env(tmp_path, token=None):
    env = {**os.environ, "WEIR_SERVER": ENDPOINT, "WEIR_CONFIG_DIR": str(tmp_path / "cfg")}
    if token:
        env["WEIR_TOKEN"] = token
    return env


def test_model_signing_verifies_weir_releases(registry, tmp_path):
    # --demo released every public model's main; release a branch with the CLI
    bob = registry.token("bob")
    out = run(WEIR, "release", "openlab/mini-decoder", "--revision", "experiment/wide", env=weir_env(tmp_path, bob)).stdout
    assert "released openlab/mini-decoder@" in out
    again = run(WEIR, "release", "openlab/mini-decoder", "--revision", "experiment/wide", env=weir_env(tmp_path, bob), check=False)
    assert again.returncode != 0 and "already released" in again.stderr
    model = tmp_path / "wide"
    out = run(WEIR, "pull", "openlab/mini-decoder@experiment/wide", str(model), env=weir_env(tmp_path)).stdout
    assert "signed release saved" in out
    sig = tmp_path / "wide.sig"
    assert sig.exists() and (tmp_path / "wide.sig.tlog-proof").exists()
    # the demo's own release of acme/tiny-llama verifies too
    demo = tmp_path / "tiny"
    run(WEIR, "pull", "acme/tiny-llama", str(demo), env=weir_env(tmp_path))
    assert "the release is entry" in run(WEIR, "verify", str(demo), "--repo", "acme/tiny-llama", env=weir_env(tmp_path)).stdout
    key = tmp_path / "release.pub.pem"
    import urllib.request
    key.write_bytes(urllib.request.urlopen(f"{ENDPOINT}/api/v1/keys/release.pub.pem").read())
    ok = run(MODEL_SIGNING, "verify", "key", str(model), "--public_key", str(key), "--signature", str(sig), check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    out = run(WEIR, "verify", str(model), "--repo", "openlab/mini-decoder", env=weir_env(tmp_path)).stdout
    assert "the release is entry" in out
    # tampering: both verifiers refuse
    weights = model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    bad = run(MODEL_SIGNING, "verify", "key", str(model), "--public_key", str(key), "--signature", str(sig), check=False)
    assert bad.returncode != 0
    bad = run(WEIR, "verify", str(model), env=weir_env(tmp_path), check=False)
    assert bad.returncode != 0 and "changed" in bad.stderr and "model.safetensors" in bad.stderr


@pytest.mark.parametrize("curve", ["prime256v1", "secp384r1"])
def test_weir_verifies_model_signing_bundles(registry, tmp_path, curve):
    model = tmp_path / "m"
    (model / "sub").mkdir(parents=True)
    (model / "config.json").write_text("{}\n")
    (model / "sub" / "w.bin").write_bytes(os.urandom(5000))
    (model / "empty.txt").write_text("")
    (model / ".gitattributes").write_text("*.bin filter=lfs\n")
    priv, pub = tmp_path / "k.pem", tmp_path / "k.pub.pem"
    run("openssl", "ecparam", "-name", curve, "-genkey", "-noout", "-out", str(priv))
    run("openssl", "ec", "-in", str(priv), "-pubout", "-out", str(pub))
    sig = tmp_path / "m.sig"
    run(MODEL_SIGNING, "sign", "key", str(model), "--private_key", str(priv), "--signature", str(sig))
    out = run(WEIR, "verify", str(model), "--key", str(pub), env=weir_env(tmp_path)).stdout
    assert "4 files" not in out and "3 files match" in out, out  # .gitattributes is ignored
    (model / "extra.txt").write_text("not signed\n")
    bad = run(WEIR, "verify", str(model), "--key", str(pub), env=weir_env(tmp_path), check=False)
    assert bad.returncode != 0 and "extra" in bad.stderr


def test_publisher_signatures_are_verified_and_kept(registry, tmp_path):
    # bob signs openlab/mini-decoder@v1.0 himself with model_signing, after pulling it
    model = tmp_path / "mini"
    env = weir_env(tmp_path)
    run(WEIR, "pull", "openlab/mini-decoder@v1.0", str(model), env=env)
    priv, pub = tmp_path / "bob.pem", tmp_path / "bob.pub.pem"
    run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(priv))
    run("openssl", "ec", "-in", str(priv), "-pubout", "-out", str(pub))
    sig = tmp_path / "bob.sig"
    run(MODEL_SIGNING, "sign", "key", str(model), "--private_key", str(priv), "--signature", str(sig))
    bob = registry.token("bob")
    # no key registered yet: refused
    no_key = run(WEIR, "release", "openlab/mini-decoder", "--revision", "v1.0", "--publisher-sig", str(sig),
                 env=weir_env(tmp_path, bob), check=False)
    assert no_key.returncode != 0 and "no registered signing key" in no_key.stderr
    weir("admin", "--data", registry.data, "publisher-key", "set", "openlab", "--key", str(pub))
    out = run(WEIR, "release", "openlab/mini-decoder", "--revision", "v1.0", "--publisher-sig", str(sig),
              env=weir_env(tmp_path, bob)).stdout
    assert "attached the publisher signature" in out
    import urllib.request
    kept = urllib.request.urlopen(f"{ENDPOINT}/api/v1/models/openlab/mini-decoder/releases/v1.0/publisher.sig").read()
    assert kept == sig.read_bytes()
    # a bundle over other files is refused
    (model / "extra.txt").write_text("not in the repo\n")
    other = tmp_path / "other.sig"
    run(MODEL_SIGNING, "sign", "key", str(model), "--private_key", str(priv), "--signature", str(other))
    bad = run(WEIR, "release", "openlab/mini-decoder", "--revision", "v1.0", "--publisher-sig", str(other),
              env=weir_env(tmp_path, bob), check=False)
    assert bad.returncode != 0 and "does not describe" in bad.stderr
