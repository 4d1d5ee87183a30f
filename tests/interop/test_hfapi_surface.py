"""Every public method of `huggingface_hub` 2.4.0's `HfApi`, listed from the class itself: each
one that concerns model repos is called against the live server and works, or is one of the
documented 501s (`not_implemented`, with a one-line reason); the rest concern other products of
the Hub (Spaces, datasets, jobs, inference endpoints, buckets, collections, webhooks, papers,
social pages) and are named here by what they are for. A method added to the client that this
file does not know fails `test_every_method_is_accounted_for`."""

import io
import json
import struct

import huggingface_hub as hf
import pytest
from huggingface_hub.errors import HfHubHTTPError

REPO = "alice/surface"

# Not model repos: the Hub products weir does not host, by name pattern.
OTHER_PRODUCTS = {
    "space": "Spaces",
    "job": "Jobs",
    "inference": "Inference Endpoints",
    "bucket": "storage buckets",
    "collection": "collections",
    "webhook": "Hub webhooks",
    "paper": "papers",
    "dataset": "dataset repos",
    "kernel": "kernel repos",
    "zero_gpu": "ZeroGPU quota",
    "follower": "social pages",
    "following": "social pages",
    "overview": "social pages",
    "organization_members": "social pages",
}
# Client-side helpers that send nothing of their own (or only what the methods below send).
LOCAL = {"get_full_repo_name", "run_as_future", "parse_safetensors_file_metadata"}

# Documented 501s: one line each in README.md.
NOT_IMPLEMENTED = {
    "create_discussion": lambda a: a.create_discussion(REPO, "t"),
    "create_pull_request": lambda a: a.create_pull_request(REPO, "t"),
    "get_repo_discussions": lambda a: list(a.get_repo_discussions(REPO)),
    "get_discussion_details": lambda a: a.get_discussion_details(REPO, 1),
    "comment_discussion": lambda a: a.comment_discussion(REPO, 1, "c"),
    "change_discussion_status": lambda a: a.change_discussion_status(REPO, 1, "closed"),
    "edit_discussion_comment": lambda a: a.edit_discussion_comment(REPO, 1, "x", "c"),
    "hide_discussion_comment": lambda a: a.hide_discussion_comment(REPO, 1, "x"),
    "rename_discussion": lambda a: a.rename_discussion(REPO, 1, "t"),
    "merge_pull_request": lambda a: a.merge_pull_request(REPO, 1),
    "upload_attachment": None,  # discussion attachments; set up in the test (needs a file)
    "list_lfs_files": lambda a: list(a.list_lfs_files(REPO)),
    "permanently_delete_lfs_files": lambda a: a.permanently_delete_lfs_files(
        REPO, [type("LFSFile", (), {"file_oid": "0" * 64})()]),
    "list_user_repos": lambda a: list(a.list_user_repos()),
}


def safetensors_bytes() -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + b"\0" * 16


@pytest.fixture(scope="module")
def api(registry):
    from huggingface_hub import constants
    constants.HF_HUB_DISABLE_XET = True
    api = hf.HfApi(token=registry.token("alice"))
    api.create_repo(REPO, exist_ok=True)
    api.create_commit(REPO, [
        hf.CommitOperationAdd("config.json", b'{"model_type": "llama"}'),
        hf.CommitOperationAdd("model.safetensors", safetensors_bytes()),
        hf.CommitOperationAdd("sub/a.txt", b"a"),
        hf.CommitOperationAdd("sub/b.txt", b"b"),
        hf.CommitOperationAdd("README.md", b"---\nlicense: apache-2.0\ntags: [x]\n---\n# m\n"),
    ], commit_message="files")
    return api


def _calls(tmp):
    """Each model-repo method, called as a user would; `a` is alice's client."""
    return {
        "whoami": lambda a: a.whoami()["name"] == "alice",
        "auth_check": lambda a: a.auth_check(REPO, write=True) is None,
        "create_repo": lambda a: a.create_repo(REPO, exist_ok=True),
        "repo_exists": lambda a: a.repo_exists(REPO) and not a.repo_exists("alice/nope"),
        "revision_exists": lambda a: a.revision_exists(REPO, "main"),
        "file_exists": lambda a: a.file_exists(REPO, "config.json"),
        "repo_info": lambda a: a.repo_info(REPO).id == REPO,
        "model_info": lambda a: a.model_info(REPO, securityStatus=True).safetensors.total == 4,
        "resolve_revision": lambda a: a.resolve_revision(REPO, revision="main") is not None,
        "list_models": lambda a: REPO in {m.id for m in a.list_models(author="alice")},
        "get_model_tags": lambda a: isinstance(a.get_model_tags(), dict),
        "list_repo_files": lambda a: "sub/a.txt" in a.list_repo_files(REPO),
        "list_repo_tree": lambda a: any(e.path == "sub" for e in a.list_repo_tree(REPO, expand=True)),
        "list_repo_refs": lambda a: a.list_repo_refs(REPO).branches,
        "list_repo_commits": lambda a: a.list_repo_commits(REPO)[0].title,
        "get_paths_info": lambda a: a.get_paths_info(REPO, ["config.json"], expand=True)[0].security,
        "get_hf_file_metadata": lambda a: a.get_hf_file_metadata(
            url=hf.hf_hub_url(REPO, "config.json")).size > 0,
        "get_safetensors_metadata": lambda a: a.get_safetensors_metadata(REPO).parameter_count,
        "get_sharded_safetensors_metadata": None,  # no sharded index here: called in its own test
        "hf_hub_download": lambda a: a.hf_hub_download(REPO, "config.json", cache_dir=tmp),
        "snapshot_download": lambda a: a.snapshot_download(REPO, cache_dir=tmp),
        "verify_repo_checksums": lambda a: a.snapshot_download(REPO, cache_dir=tmp) and not a.verify_repo_checksums(
            REPO, cache_dir=tmp).mismatches,
        "upload_file": lambda a: a.upload_file(path_or_fileobj=b"u", path_in_repo="u.txt", repo_id=REPO),
        "upload_folder": None,  # needs a folder: in its own test
        "create_commit": lambda a: a.create_commit(REPO, [hf.CommitOperationAdd("c.txt", b"c")],
                                                   commit_message="c"),
        "preupload_lfs_files": lambda a: a.preupload_lfs_files(
            REPO, [hf.CommitOperationAdd("big.bin", b"\0" * 64)]) is None,
        "delete_file": lambda a: a.delete_file("u.txt", REPO),
        "delete_files": lambda a: a.delete_files(REPO, ["c.txt"]),
        "delete_folder": lambda a: a.delete_folder("sub", REPO),
        "create_branch": lambda a: a.create_branch(REPO, branch="dev", exist_ok=True),
        "delete_branch": lambda a: a.delete_branch(REPO, branch="dev"),
        "create_tag": lambda a: a.create_tag(REPO, tag="v-surface", exist_ok=True),
        "delete_tag": lambda a: a.delete_tag(REPO, tag="v-surface"),
        "update_repo_settings": lambda a: a.update_repo_settings(REPO, gated="auto"),
        "unlike": lambda a: a.unlike(REPO),
        "list_repo_likers": lambda a: list(a.list_repo_likers(REPO)) is not None,
        "list_liked_repos": lambda a: a.list_liked_repos("alice") is not None,
        "list_pending_access_requests": lambda a: list(a.list_pending_access_requests(REPO)) == [],
        "list_accepted_access_requests": lambda a: a.list_accepted_access_requests(REPO) is not None,
        "list_rejected_access_requests": lambda a: list(a.list_rejected_access_requests(REPO)) == [],
        "copy_files": lambda a: a.copy_files(f"hf://{REPO}/config.json", f"hf://{REPO}/config-copy.json")
        or a.file_exists(REPO, "config-copy.json"),
        "grant_access": None,  # needs a T2 repo and a vetted user: in its own test
        # On the demo's pending request: test_gated.py::test_owner_endpoints_from_the_client.
        "accept_access_request": None,
        "reject_access_request": None,
        "cancel_access_request": None,
        "duplicate_repo": lambda a: a.duplicate_repo(REPO, to_id="alice/surface-copy", exist_ok=True),
        "delete_repo": lambda a: a.delete_repo("alice/surface-copy", missing_ok=True),
        "move_repo": lambda a: a.create_repo("alice/surface-mv", exist_ok=True)
        and a.move_repo("alice/surface-mv", "alice/surface-moved") is None
        and a.model_info("alice/surface-mv").id == "alice/surface-moved",
        "super_squash_history": lambda a: a.super_squash_history(REPO) is None
        and len(a.list_repo_commits(REPO)) == 1,
    }


def _kind(name):
    if name in LOCAL:
        return "local"
    if name in NOT_IMPLEMENTED:
        return "501"
    if any(p in name for p in OTHER_PRODUCTS):
        return "other"
    return "call"


def test_every_method_is_accounted_for(tmp_path):
    methods = [m for m in dir(hf.HfApi) if not m.startswith("_") and callable(getattr(hf.HfApi, m))]
    calls = _calls(str(tmp_path))
    unknown = [m for m in methods if _kind(m) == "call" and m not in calls]
    assert unknown == [], f"HfApi methods this test does not call: {unknown}"


ORDER = list(_calls("").keys())


@pytest.mark.parametrize("name", ORDER)
def test_each_model_repo_method_works(api, name, tmp_path):
    call = _calls(str(tmp_path))[name]
    if call is None:
        pytest.skip(f"{name} is called in its own test below")
    assert call(api) is not False


@pytest.mark.parametrize("name", sorted(NOT_IMPLEMENTED))
def test_documented_501s(api, name, tmp_path):
    call = NOT_IMPLEMENTED[name]
    if call is None:
        f = tmp_path / "a.png"
        f.write_bytes(b"\x89PNG")
        call = lambda a: a.upload_attachment(str(f))  # noqa: E731
    with pytest.raises(HfHubHTTPError) as e:
        call(api)
    assert e.value.response.status_code == 501, (name, e.value.response.text)
    assert e.value.response.json()["error"] == "not_implemented"


def test_upload_folder(api, tmp_path):
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "x.json").write_text("{}")
    api.upload_folder(folder_path=str(tmp_path / "f"), repo_id=REPO, path_in_repo="folder")
    assert api.file_exists(REPO, "folder/x.json")


def test_get_sharded_safetensors_metadata(api):
    repo = "alice/surface-sharded"
    api.create_repo(repo, exist_ok=True)
    index = {"metadata": {"total_size": 32},
             "weight_map": {"w": "model-00001-of-00002.safetensors",
                            "v": "model-00002-of-00002.safetensors"}}
    shard = safetensors_bytes()
    api.create_commit(repo, [
        hf.CommitOperationAdd("model.safetensors.index.json", json.dumps(index).encode()),
        hf.CommitOperationAdd("model-00001-of-00002.safetensors", shard),
        hf.CommitOperationAdd("model-00002-of-00002.safetensors", shard),
    ], commit_message="shards")
    meta = api.get_sharded_safetensors_metadata(repo)
    assert set(meta.files_metadata) == {"model-00001-of-00002.safetensors",
                                        "model-00002-of-00002.safetensors"}
    assert api.get_safetensors_metadata(repo).sharded


def test_grant_access(api, registry):
    repo = "alice/surface-gated"
    api.create_repo(repo, exist_ok=True)
    api.update_repo_settings(repo, gated="manual")
    # erin is identified (the level T2 asks): granted by the owner, she downloads.
    api.grant_access(repo, "erin")
    erin = hf.HfApi(token=registry.token("erin", "read"))
    assert erin.auth_check(repo) is None
