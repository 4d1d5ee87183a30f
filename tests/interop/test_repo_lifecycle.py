"""Deleting and duplicating repos through the official client: delete_repo leaves a tombstone
(missing everywhere, the name never reused, missing_ok as on the Hub), duplicate_repo copies main
with the source's tier and only for a caller who may download it; super_squash_history leaves
one root commit; move_repo leaves a redirect at the former name."""

import huggingface_hub as hf
import pytest
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError


@pytest.fixture
def api(registry):
    from huggingface_hub import constants
    constants.HF_HUB_DISABLE_XET = True
    return hf.HfApi(token=registry.token("alice"))


def test_delete_repo_leaves_a_tombstone(api, registry):
    api.create_repo("alice/doomed")
    api.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id="alice/doomed")
    carol = hf.HfApi(token=registry.token("carol"))
    with pytest.raises(HfHubHTTPError) as e:
        carol.delete_repo("alice/doomed")
    assert e.value.response.status_code == 403
    api.delete_repo("alice/doomed")
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("alice/doomed")
    with pytest.raises(RepositoryNotFoundError):
        api.delete_repo("alice/doomed")
    api.delete_repo("alice/doomed", missing_ok=True)
    assert "alice/doomed" not in {m.id for m in api.list_models(author="alice")}
    # Never reused, and exist_ok does not hide it.
    with pytest.raises(HfHubHTTPError) as e:
        api.create_repo("alice/doomed", exist_ok=True)
    assert e.value.response.status_code == 410
    assert "never reused" in str(e.value)


def test_duplicate_repo_keeps_the_tier_and_the_download_gate(api, registry):
    api.create_repo("alice/source")
    api.upload_file(path_or_fileobj=b"weights", path_in_repo="w.bin", repo_id="alice/source")
    url = api.duplicate_repo("alice/source", to_id="alice/source-copy")
    assert str(url).endswith("/alice/source-copy")
    assert api.hf_hub_download("alice/source-copy", "w.bin")
    assert api.model_info("alice/source-copy").weir["tier"] == "T0"
    # The demo's T2 repo: carol (no approved access) cannot copy it.
    carol = hf.HfApi(token=registry.token("carol"))
    with pytest.raises(HfHubHTTPError) as e:
        carol.duplicate_repo("acme/vetted-model", to_id="carol/vetted-copy")
    assert e.value.response.status_code in (401, 403)
    with pytest.raises(RepositoryNotFoundError):
        carol.model_info("carol/vetted-copy")


def test_super_squash_history(api):
    api.create_repo("alice/squash", exist_ok=True)
    for n in range(3):
        api.upload_file(path_or_fileobj=str(n).encode(), path_in_repo=f"f{n}.txt", repo_id="alice/squash")
    api.super_squash_history("alice/squash", commit_message="one")
    commits = api.list_repo_commits("alice/squash")
    assert [c.title for c in commits] == ["one"]
    assert set(api.list_repo_files("alice/squash")) >= {"f0.txt", "f1.txt", "f2.txt"}


def test_move_repo_redirects_the_former_name(api, registry):
    api.create_repo("alice/before", exist_ok=True)
    api.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id="alice/before")
    api.move_repo("alice/before", "alice/after")
    # The client follows the redirect: the former name still reads, and downloads.
    assert api.model_info("alice/before").id == "alice/after"
    assert api.hf_hub_download("alice/before", "config.json")
    carol = hf.HfApi(token=registry.token("carol"))
    with pytest.raises(HfHubHTTPError):
        carol.move_repo("alice/after", "carol/stolen")
