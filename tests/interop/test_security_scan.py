"""The unsafe-serialization scan and the parameter summary through the official client:
pickles written by Python's own `pickle` at every protocol (hostile ones by `__reduce__`), graded
in `get_paths_info(expand=True)`, `list_repo_tree(expand=True)` and
`model_info(securityStatus=True)`; the imports weir reports are exactly the globals
`pickletools` decodes from the same bytes; `model_info().safetensors` sums the shards."""

import collections
import io
import json
import os
import pickle
import pickletools
import struct
import zipfile

import huggingface_hub as hf
import numpy as np
import pytest

REPO = "alice/scanned"


class Shell:
    def __reduce__(self):
        return (os.system, ("id",))


class Evaluate:
    def __reduce__(self):
        return (eval, ("1+1",))


def pickle_globals(data: bytes) -> set:
    """(module, name) of every import Python's own unpickler asks for in `data`, with each
    callable replaced by a harmless stub (so nothing runs)."""
    found = set()

    class Stub(dict):
        def __init__(self, *args, **kwargs):
            pass

        def __setstate__(self, state):
            pass

        def append(self, item):
            pass

        def extend(self, items):
            pass

    class Recorder(pickle.Unpickler):
        def find_class(self, module, name):
            found.add((module, name))
            return Stub

    Recorder(io.BytesIO(data)).load()
    return found


def torch_like_zip(data_pkl: bytes) -> bytes:
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr("archive/data.pkl", data_pkl)
        z.writestr("archive/version", "3\n")
        z.writestr("archive/data/0", b"\0" * 16)
    return b.getvalue()


def safetensors(tensors) -> bytes:
    header, offset = {}, 0
    for name, dtype, shape, size in tensors:
        n = int(np.prod(shape)) * size
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"\0" * offset


FILES = {}
for proto in (0, 2, 4, 5):
    FILES[f"shell-p{proto}.pkl"] = pickle.dumps(Shell(), protocol=proto)
    FILES[f"numpy-p{proto}.pkl"] = pickle.dumps(
        collections.OrderedDict(w=np.arange(4, dtype=np.float32)), protocol=proto)
FILES["eval.bin"] = pickle.dumps(Evaluate(), protocol=4)
FILES["torch/pytorch_model.bin"] = torch_like_zip(pickle.dumps(Shell(), protocol=2))
FILES["renamed.safetensors.bak"] = pickle.dumps(Shell(), protocol=4)


@pytest.fixture(scope="module")
def api(registry):
    from huggingface_hub import constants
    constants.HF_HUB_DISABLE_XET = True
    api = hf.HfApi(token=registry.token("alice"))
    api.create_repo(REPO, exist_ok=True)
    ops = [hf.CommitOperationAdd(path, data) for path, data in FILES.items()]
    ops.append(hf.CommitOperationAdd("model-00001-of-00002.safetensors", safetensors(
        [("a", "F32", [2, 3], 4), ("b", "BF16", [4], 2)])))
    ops.append(hf.CommitOperationAdd("model-00002-of-00002.safetensors", safetensors(
        [("c", "F32", [10], 4)])))
    api.create_commit(REPO, ops, commit_message="pickles")
    return api


def test_each_file_is_graded_as_its_imports_say(api):
    info = {i.path: i for i in api.get_paths_info(REPO, list(FILES), expand=True)}
    for path, data in FILES.items():
        sec = info[path].security
        assert sec is not None, path
        dangerous = ("shell" in path or "eval" in path or "torch/" in path
                     or "renamed" in path)
        assert sec.safe is (not dangerous), (path, sec)
        assert sec.status == ("unsafe" if dangerous else "safe"), (path, sec)
        assert sec.pickle_import_scan["highestSafetyLevel"] == (
            "dangerous" if dangerous else "innocuous"), (path, sec)
        if path.endswith(".pkl"):
            # What weir read is what pickletools reads in the same bytes.
            got = {(i["module"], i["name"]) for i in sec.pickle_import_scan["imports"]}
            assert got == pickle_globals(data), path


def test_the_tree_and_model_info_show_the_same_verdicts(api):
    tree = {e.path: e for e in api.list_repo_tree(REPO, recursive=True, expand=True)
            if isinstance(e, hf.hf_api.RepoFile)}
    assert tree["torch/pytorch_model.bin"].security.status == "unsafe"
    assert tree["numpy-p4.pkl"].security.safe
    assert tree["model-00001-of-00002.safetensors"].security.safe
    status = api.model_info(REPO, securityStatus=True).security_repo_status
    assert status["scansDone"] is True
    flagged = {f["path"] for f in status["filesWithIssues"]}
    assert flagged == {p for p in FILES if not p.startswith("numpy")}


def test_model_info_sums_safetensors_parameters(api):
    st = api.model_info(REPO).safetensors
    assert st.parameters == {"F32": 16, "BF16": 4}
    assert st.total == 20


def test_a_release_with_a_dangerous_pickle_is_refused(api, registry):
    import requests
    r = requests.post(f"{registry.endpoint}/api/v1/repos/{REPO}/releases", json={},
                      headers={"authorization": f"Bearer {registry.token('alice')}"})
    assert r.status_code == 409
    assert r.json()["error"] == "unsafe_serialization"
    assert "torch/pytorch_model.bin is unsafe (imports posix.system)" in r.json()["message"]
