"""Model cards through the official client: every upload of a README.md is checked first at
POST /api/validate-yaml (the Hub's answer shape), so the README's own examples work as written,
and a malformed card is refused before any byte is uploaded."""

import os
import pathlib
import subprocess
import sys
import warnings

import pytest

import huggingface_hub as hf
from huggingface_hub import ModelCard, ModelCardData

CARD = "---\nlicense: apache-2.0\ntags: [text-generation]\nlibrary_name: transformers\n---\n# A model\n"


@pytest.fixture
def no_xet(monkeypatch):
    # Uploads use the classic LFS path (README documents HF_HUB_DISABLE_XET=1).
    monkeypatch.setattr(hf.constants, "HF_HUB_DISABLE_XET", True)


def test_upload_folder_with_a_model_card_round_trips(registry, tmp_path, no_xet):
    api = hf.HfApi(token=registry.token("alice"))
    src = tmp_path / "src"
    src.mkdir()
    (src / "README.md").write_text(CARD)
    (src / "config.json").write_text('{"model_type": "llama"}\n')
    api.create_repo("acme/carded", exist_ok=True)
    info = api.upload_folder(folder_path=str(src), repo_id="acme/carded", commit_message="with a card")
    assert len(info.oid) == 40
    card = ModelCard.load("acme/carded")
    assert card.data.license == "apache-2.0"
    assert api.model_info("acme/carded").card_data["library_name"] == "transformers"
    # upload_file of the README alone, and metadata_update, go through the same check.
    api.upload_file(path_or_fileobj=CARD.replace("# A model", "# Better").encode(), path_in_repo="README.md",
                    repo_id="acme/carded")
    hf.metadata_update("acme/carded", {"pipeline_tag": "text-generation"}, token=registry.token("alice"))
    assert ModelCard.load("acme/carded").data.pipeline_tag == "text-generation"


def test_model_card_push_to_hub(registry, no_xet):
    api = hf.HfApi(token=registry.token("alice"))
    api.create_repo("acme/pushed-card", exist_ok=True)
    card = ModelCard.from_template(ModelCardData(license="mit", tags=["safety"]), model_description="pushed")
    card.push_to_hub("acme/pushed-card", token=registry.token("alice"))
    assert ModelCard.load("acme/pushed-card").data.tags == ["safety"]


def test_a_malformed_card_is_refused_before_anything_is_uploaded(registry, tmp_path, no_xet):
    api = hf.HfApi(token=registry.token("alice"))
    api.create_repo("acme/badcard", exist_ok=True)
    before = api.model_info("acme/badcard").sha
    src = tmp_path / "bad"
    src.mkdir()
    (src / "README.md").write_text("---\nlicense: {not: a string}\ntraining_compute_flop: lots\n---\n# x\n")
    (src / "weights.bin").write_bytes(os.urandom(2048))
    with pytest.raises(ValueError) as e:
        api.upload_folder(folder_path=str(src), repo_id="acme/badcard")
    assert "license" in str(e.value) and "training_compute_flop" in str(e.value)
    assert api.model_info("acme/badcard").sha == before
    # RepoCard.validate (the client parses the YAML itself first): the server's refusal is a
    # ValueError naming the field.
    with pytest.raises(ValueError) as e:
        ModelCard("---\nlicense:\n  a: 1\n---\n# x\n").validate()
    assert "license" in str(e.value)
    # A card with no metadata is accepted, with the Hub's warning.
    (src / "README.md").write_text("# no metadata\n")
    (src / "weights.bin").unlink()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        api.upload_folder(folder_path=str(src), repo_id="acme/badcard")
    assert any("empty or missing yaml metadata" in str(w.message) for w in caught)


def test_hf_upload_cli_with_a_model_card(registry, tmp_path):
    src = tmp_path / "cli"
    src.mkdir()
    (src / "README.md").write_text(CARD)
    (src / "config.json").write_text("{}\n")
    hf_cli = pathlib.Path(sys.executable).parent / "hf"
    env = dict(os.environ, HF_HUB_DISABLE_XET="1")
    token = registry.token("alice")
    out = subprocess.run([str(hf_cli), "upload", "acme/cli-carded", str(src), ".", "--token", token], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    files = hf.list_repo_files("acme/cli-carded")
    assert {"README.md", "config.json"} <= set(files)
