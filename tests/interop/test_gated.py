"""Gated tiers through the official huggingface_hub client: its own GatedRepoError with our
reason codes, and the access-request flow driven by the `weir` CLI."""

import os
import pathlib
import subprocess

import pytest

import huggingface_hub as hf
from huggingface_hub import errors

from conftest import ENDPOINT, WEIR, weir


def cli(registry, token, *args):
    env = {**os.environ, "WEIR_SERVER": ENDPOINT, "WEIR_TOKEN": token}
    return weir(*args, env=env)


def gated(call):
    with pytest.raises(errors.GatedRepoError) as e:
        call()
    return e.value.response.status_code, str(e.value)


def test_anonymous_and_unapproved_get_gated_repo_error(registry, tmp_path):
    for repo in ("acme/tiny-llama-instruct", "acme/vetted-model"):
        status, _ = gated(lambda: hf.hf_hub_download(repo, "config.json", cache_dir=tmp_path / "anon"))
        assert status == 401
        assert hf.model_info(repo).id == repo  # metadata stays readable
    carol = registry.token("carol", "read")
    status, msg = gated(lambda: hf.snapshot_download("acme/tiny-llama-instruct", token=carol, cache_dir=tmp_path / "c"))
    assert status == 403 and "terms_not_accepted" in msg and "weir access accept" in msg
    status, msg = gated(lambda: hf.hf_hub_download("acme/restricted-model", "config.json", token=carol, cache_dir=tmp_path / "r"))
    assert status == 403 and "tier_no_egress" in msg
    # T1: accepting the terms is enough
    cli(registry, carol, "access", "accept", "acme/tiny-llama-instruct")
    path = hf.snapshot_download("acme/tiny-llama-instruct", token=carol, cache_dir=tmp_path / "c2")
    assert (pathlib.Path(path) / "model.safetensors").stat().st_size > 0


def test_request_approve_download_revoke(registry, tmp_path):
    data = registry.data
    weir("admin", "--data", data, "user", "add", "henry", "--email", "henry@example.org")
    henry = registry.token("henry", "read")  # a read token with a grant is enough to download
    alice = registry.token("alice")
    status, msg = gated(lambda: hf.snapshot_download("acme/vetted-model", token=henry, cache_dir=tmp_path / "a"))
    assert status == 403 and "identity_level" in msg
    weir("admin", "--data", data, "identity", "set", "henry", "--level", "identified", "--country", "DE")
    status, msg = gated(lambda: hf.snapshot_download("acme/vetted-model", token=henry, cache_dir=tmp_path / "b"))
    assert status == 403 and "not_requested" in msg
    out = cli(registry, henry, "access", "request", "acme/vetted-model", "--purpose", "refusal evals", "--field", "affiliation=Example Institute")
    assert "pending" in out
    status, msg = gated(lambda: hf.snapshot_download("acme/vetted-model", token=henry, cache_dir=tmp_path / "c"))
    assert "pending" in msg
    # A deny exits non-zero (scripts branch on it), explained on stdout only.
    env = {**os.environ, "WEIR_SERVER": ENDPOINT, "WEIR_TOKEN": henry}
    denied = subprocess.run([WEIR, "access", "check", "acme/vetted-model"], env=env, capture_output=True, text=True)
    assert denied.returncode == 1 and denied.stdout.startswith("deny (pending)"), denied
    assert denied.stderr == ""
    cli(registry, alice, "access", "review", "acme/vetted-model", "henry", "--approve", "--expires", "30")
    assert cli(registry, henry, "access", "check", "acme/vetted-model").startswith("allow")
    path = pathlib.Path(hf.snapshot_download("acme/vetted-model", token=henry, cache_dir=tmp_path / "d"))
    assert (path / "model.safetensors").stat().st_size > 0
    cli(registry, alice, "access", "review", "acme/vetted-model", "henry", "--revoke", "--reason", "policy breach")
    status, msg = gated(lambda: hf.snapshot_download("acme/vetted-model", token=henry, cache_dir=tmp_path / "e"))
    assert status == 403 and "revoked" in msg and "policy breach" in msg
    assert "revoked" in cli(registry, henry, "access", "status", "acme/vetted-model")


def test_owner_endpoints_from_the_client(registry):
    alice = registry.token("alice")
    api = hf.HfApi(token=alice)
    pending = api.list_pending_access_requests("acme/vetted-model")
    assert "frank" in [r.username for r in pending]
    api.accept_access_request("acme/vetted-model", "frank")
    assert "frank" in [r.username for r in api.list_accepted_access_requests("acme/vetted-model")]
    api.reject_access_request("acme/vetted-model", "frank", rejection_reason="not now")
    assert "frank" in [r.username for r in api.list_rejected_access_requests("acme/vetted-model")]
    # cancel_access_request: back in the pending list, as on the Hub.
    api.cancel_access_request("acme/vetted-model", "frank")
    assert "frank" in [r.username for r in api.list_pending_access_requests("acme/vetted-model")]
