"""Interop fixtures: a real `weir serve` on a loopback port with a fresh data dir, driven by the
real `huggingface_hub` client. HF_ENDPOINT must be set before huggingface_hub is imported, so it
is set here at import time."""

import os
import pathlib
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
WEIR = os.environ.get("WEIR_BIN", str(ROOT / "target" / "debug" / "weir"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PORT = free_port()
ENDPOINT = f"http://127.0.0.1:{PORT}"
_TMP = tempfile.mkdtemp(prefix="weir-interop-")
os.environ["HF_ENDPOINT"] = ENDPOINT
os.environ["HF_HOME"] = os.path.join(_TMP, "hf-home")
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_DISABLE_IMPLICIT_TOKEN"] = "1"
os.environ.pop("HF_TOKEN", None)
os.environ.pop("HF_HUB_DISABLE_XET", None)  # downloads run with the default install (hf_xet present)


# The database of each data dir given a fresh one (see fresh_database).
DATABASES: dict[str, dict] = {}


def s3_env(prefix: str | None = None) -> dict:
    """The environment that puts a registry's blobs on the S3-compatible server WEIR_TEST_S3
    names (bucket WEIR_TEST_S3_BUCKET, default weir-test), under a fresh prefix; empty when
    WEIR_TEST_S3 is unset (the data dir's blobs/). Credentials come from AWS_* (set by
    scripts/s3.sh)."""
    endpoint = os.environ.get("WEIR_TEST_S3")
    if not endpoint:
        return {}
    bucket = os.environ.get("WEIR_TEST_S3_BUCKET", "weir-test")
    prefix = prefix or "interop-" + os.urandom(6).hex()
    return {"WEIR_BLOBS": f"s3://{bucket}/{prefix}", "WEIR_S3_ENDPOINT": endpoint,
            "WEIR_S3_REGION": "us-east-1"}


def fresh_database(data: str) -> dict:
    """The environment that puts the `weir serve` on DATA (and every `weir admin --data DATA`
    call made through `weir()`) on a fresh PostgreSQL database when WEIR_TEST_POSTGRES names a
    server (else the data dir's SQLite file), and its blobs on a fresh S3 prefix when
    WEIR_TEST_S3 names a server (else the data dir's blobs/)."""
    env = s3_env()
    admin = os.environ.get("WEIR_TEST_POSTGRES")
    if admin:
        name = "weir_interop_" + os.urandom(6).hex()
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", admin, "-c", f"CREATE DATABASE {name}"],
                       check=True, capture_output=True)
        base, _, _ = admin.rpartition("/")
        env["WEIR_DATABASE"] = f"{base}/{name}"
    if env:
        DATABASES[data] = env
    return env


def wait_ready(url: str, proc: subprocess.Popen, log_path: str, seconds: float = 60):
    """Waits until the `weir serve` PROC answers at URL; fails with its log if it exits first or
    does not answer within SECONDS."""
    deadline = time.time() + seconds
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/v1/health", timeout=1)
            return
        except OSError:
            assert proc.poll() is None and time.time() < deadline, open(log_path).read()
            time.sleep(0.1)


def weir(*args: str, **kw) -> str:
    if "--data" in args and "env" not in kw:
        data = args[args.index("--data") + 1]
        if data in DATABASES:
            kw["env"] = dict(os.environ, **DATABASES[data])
    out = subprocess.run([WEIR, *args], check=True, capture_output=True, text=True, **kw)
    return out.stdout.strip()


class Registry:
    def __init__(self, data: str):
        self.data = data
        self.endpoint = ENDPOINT
        self.tokens: dict[str, str] = {}

    def token(self, user: str, scope: str = "write") -> str:
        key = f"{user}:{scope}"
        if key not in self.tokens:
            self.tokens[key] = weir("admin", "--data", self.data, "token", "create", user, "--scope", scope)
        return self.tokens[key]


@pytest.fixture(scope="session")
def registry():
    data = os.path.join(_TMP, "data")
    log = open(os.path.join(_TMP, "serve.log"), "w")
    proc = subprocess.Popen(
        [WEIR, "serve", "--data", data, "--listen", f"127.0.0.1:{PORT}", "--demo"],
        stdout=log, stderr=subprocess.STDOUT,
        # The demo's board would govern the policy, evaluator and tier changes these tests make
        # directly as the operator.
        env=dict(os.environ, WEIR_DEMO_BOARD="off", **fresh_database(data)),
    )
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(f"{ENDPOINT}/api/v1/health", timeout=1)
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(open(os.path.join(_TMP, "serve.log")).read())
            time.sleep(0.1)
    reg = Registry(data)
    # carol has no org; dave is created here to own private repos
    weir("admin", "--data", data, "user", "add", "dave", "--email", "dave@example.org")
    yield reg
    proc.terminate()
    proc.wait(timeout=30)
    log.close()
