"""A repo's history through the official client: list_repo_commits (its own pagination over
weir's Link header), get_paths_info and list_repo_tree(expand=True) with each path's last
commit."""

import huggingface_hub as hf


def _repo_with_history(registry, monkeypatch, repo):
    monkeypatch.setattr(hf.constants, "HF_HUB_DISABLE_XET", True)
    api = hf.HfApi(token=registry.token("alice"))
    api.create_repo(repo, exist_ok=True)
    first = api.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id=repo,
                            commit_message="add config")
    second = api.upload_file(path_or_fileobj=b"a", path_in_repo="sub/a.txt", repo_id=repo,
                             commit_message="add <sub>")
    return api, first.oid, second.oid


def test_list_repo_commits(registry, monkeypatch):
    api, first, second = _repo_with_history(registry, monkeypatch, "acme/history")
    commits = api.list_repo_commits("acme/history")
    assert [c.commit_id for c in commits[:2]] == [second, first]
    assert commits[0].title == "add <sub>"
    assert commits[0].authors
    formatted = api.list_repo_commits("acme/history", formatted=True)
    assert formatted[0].formatted_title == "add &lt;sub&gt;"


def test_paths_info_and_tree_with_last_commits(registry, monkeypatch):
    api, first, second = _repo_with_history(registry, monkeypatch, "acme/paths")
    info = api.get_paths_info("acme/paths", ["config.json", "sub", "missing"], expand=True)
    by_path = {i.path: i for i in info}
    assert set(by_path) == {"config.json", "sub"}
    assert isinstance(by_path["config.json"], hf.hf_api.RepoFile)
    assert isinstance(by_path["sub"], hf.hf_api.RepoFolder)
    assert by_path["config.json"].last_commit.oid == first
    assert by_path["sub"].last_commit.oid == second
    tree = {e.path: e for e in api.list_repo_tree("acme/paths", expand=True)}
    assert tree["config.json"].last_commit.oid == first
    assert tree["sub"].last_commit.title == "add <sub>"
