"""Writes real Inspect logs for CI with the pinned inspect-ai and its mock model:
OUT/zstd/*.eval (the current default: zstd members), OUT/json/*.json, and OUT/deflate/*.eval
(deflate members, as inspect-ai wrote before 0.3.206; produced by inspect-ai itself with its
ZIP compression switched back to deflate).

Two test-only adjustments, neither touching the log format: token counting is estimated without
tiktoken (which would download its encoding from the internet), and the deflate run flips
inspect's compression setting."""

import pathlib
import sys
import zipfile

import inspect_ai.model._model as model_module

model_module.count_text_tokens = lambda text: len(text) // 4 + 1

import inspect_ai._util.zipfile as inspect_zip  # noqa: E402
from inspect_ai import eval as inspect_eval  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from inspect_wmdp_tiny import wmdp_bio  # noqa: E402

out = pathlib.Path(sys.argv[1]).resolve()
for sub, fmt in (("zstd", "eval"), ("json", "json")):
    [log] = inspect_eval(wmdp_bio(), model="mockllm/model", log_dir=str(out / sub), log_format=fmt, display="none")
    assert log.status == "success", log.status
inspect_zip.zipfile_compress_kwargs["compression"] = zipfile.ZIP_DEFLATED
[log] = inspect_eval(wmdp_bio(), model="mockllm/model", log_dir=str(out / "deflate"), log_format="eval", display="none")
assert log.status == "success", log.status
