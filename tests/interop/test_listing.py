"""list_models and `hf models ls` against the demo registry: the client's own pagination follows
weir's Link header, private repos stay invisible to outsiders, and each result names its tier."""

import os
import subprocess
import sys
import pathlib
import json

import huggingface_hub as hf
from huggingface_hub.utils._pagination import paginate


def test_list_models_finds_the_demo_models_with_their_tiers(registry):
    models = list(hf.list_models(author="openlab"))
    ids = {m.id for m in models}
    assert "openlab/frontier-demo" in ids and "openlab/mini-decoder" in ids
    assert "openlab/internal-draft" not in ids  # private: missing to anonymous callers
    for m in models:
        assert m.weir["tier"] in {"T0", "T1", "T2", "T3", "T4"}
        assert m.private is False
    mini = next(m for m in models if m.id == "openlab/mini-decoder")
    assert mini.gated is False and mini.weir["tier"] == "T0"


def test_list_models_search_filter_sort_and_limit(registry):
    found = list(hf.list_models(search="mini-decoder"))
    assert [m.id for m in found] == ["openlab/mini-decoder"]
    newest = list(hf.list_models(sort="created_at", limit=2))
    assert len(newest) == 2
    assert newest[0].created_at >= newest[1].created_at
    with_cards = list(hf.list_models(search="mini-decoder", cardData=True))
    assert with_cards[0].card_data is not None
    full = list(hf.list_models(search="mini-decoder", full=True))
    assert any(s.rfilename == "config.json" for s in full[0].siblings)


def test_the_clients_pagination_follows_the_link_header(registry):
    everything = [m["id"] for m in paginate(f"{registry.endpoint}/api/models", params={"sort": "id"}, headers={})]
    paged = [m["id"] for m in paginate(f"{registry.endpoint}/api/models", params={"sort": "id", "limit": 2}, headers={})]
    assert len(everything) >= 3
    assert paged == everything


def test_private_repos_are_listed_to_those_who_see_them(registry):
    token = registry.token("alice")
    api = hf.HfApi(token=token)
    api.create_repo("acme/listed-private", private=True, exist_ok=True)
    assert "acme/listed-private" in {m.id for m in api.list_models(author="acme")}
    assert "acme/listed-private" not in {m.id for m in hf.list_models(author="acme")}
    outsider = registry.token("carol")
    assert "acme/listed-private" not in {m.id for m in hf.HfApi(token=outsider).list_models(author="acme")}


def test_hf_models_ls(registry):
    hf_cli = pathlib.Path(sys.executable).parent / "hf"
    out = subprocess.run([str(hf_cli), "models", "ls", "--author", "openlab", "--format", "json"],
                         env=dict(os.environ), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "openlab/mini-decoder" in out.stdout
