"""Every `hf` CLI command (huggingface_hub 2.4.0) that concerns model repos, listed from the CLI's
own command tree: each runs against the live server and succeeds, or is one of the documented
501s. Commands for other Hub products (buckets, collections, datasets, endpoints, jobs, papers,
sandbox, skills, spaces, sync, webhooks, extensions, update) are named by group. A model-repo
command this file does not know fails `test_every_model_repo_command_is_accounted_for`."""

import os
import pathlib
import subprocess
import sys

import click
import pytest

HF = str(pathlib.Path(sys.executable).parent / "hf")
MODEL_GROUPS = {"auth", "cache", "cp", "discussions", "download", "env", "models", "repos",
                "upload", "version", "lfs-enable-largefiles", "lfs-multipart-upload"}
REPO = "alice/cli-surface"

# git-lfs transfer agents: git runs them, not people (`hf lfs-enable-largefiles` configures one).
GIT_HELPERS = {"lfs-enable-largefiles", "lfs-multipart-upload"}

# Documented 501s (README.md, "Deleting and duplicating repos" and the Hub surfaces).
NOT_IMPLEMENTED = {
    "discussions close": ["discussions", "close", REPO, "1", "--yes"],
    "discussions comment": ["discussions", "comment", REPO, "1", "--body", "c"],
    "discussions create": ["discussions", "create", REPO, "--title", "t"],
    "discussions diff": ["discussions", "diff", REPO, "1"],
    "discussions edit": ["discussions", "edit", REPO, "1", "c1", "--body", "c"],
    "discussions info": ["discussions", "info", REPO, "1"],
    "discussions list": ["discussions", "list", REPO],
    "discussions merge": ["discussions", "merge", REPO, "1", "--yes"],
    "discussions rename": ["discussions", "rename", REPO, "1", "t"],
    "discussions reopen": ["discussions", "reopen", REPO, "1", "--yes"],
    "repos list": ["repos", "list"],
}


def commands():
    import huggingface_hub.cli.hf as m
    ctx = click.Context(m.app)

    def walk(c, prefix, ctx):
        if isinstance(c, click.Group):
            for n in c.list_commands(ctx):
                sub = c.get_command(ctx, n)
                if sub is not None:
                    yield from walk(sub, prefix + [n], click.Context(sub, parent=ctx))
        else:
            yield " ".join(prefix)

    return [p for p in walk(m.app, [], ctx) if p.split()[0] in MODEL_GROUPS]


def runs(tmp):
    """(command, argv) in the order they run: each leaves what the next needs."""
    folder = tmp / "folder"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text("{}")
    (folder / "README.md").write_text("---\nlicense: mit\n---\n# m\n")
    return [
        ("version", ["version"]),
        ("env", ["env"]),
        ("auth whoami", ["auth", "whoami"]),
        ("auth token", ["auth", "token"]),
        ("auth login", ["auth", "login", "--token", os.environ["HF_TOKEN"]]),
        ("auth list", ["auth", "list"]),
        ("auth switch", ["auth", "switch", "--token-name", "cli"]),
        ("repos create", ["repos", "create", REPO, "--exist-ok"]),
        ("upload", ["upload", REPO, str(folder), "."]),
        ("models info", ["models", "info", REPO]),
        ("models card", ["models", "card", REPO]),
        ("models list", ["models", "list", "--author", "alice"]),
        ("repos settings", ["repos", "settings", REPO, "--gated", "auto"]),
        ("repos branch create", ["repos", "branch", "create", REPO, "dev"]),
        ("repos branch delete", ["repos", "branch", "delete", REPO, "dev"]),
        ("repos tag create", ["repos", "tag", "create", REPO, "v1", "-m", "first"]),
        ("repos tag list", ["repos", "tag", "list", REPO]),
        ("repos tag delete", ["repos", "tag", "delete", REPO, "v1", "--yes"]),
        ("download", ["download", REPO, "--cache-dir", str(tmp / "cache")]),
        ("cache list", ["cache", "list", "--cache-dir", str(tmp / "cache")]),
        ("cache verify", ["cache", "verify", REPO, "--cache-dir", str(tmp / "cache")]),
        ("cp", ["cp", f"hf://{REPO}/config.json", str(tmp / "copied.json")]),
        ("repos cp", ["repos", "cp", f"hf://{REPO}/config.json", str(tmp / "copied2.json")]),
        ("repos delete-files", ["repos", "delete-files", REPO, "README.md"]),
        ("repos duplicate", ["repos", "duplicate", REPO, "alice/cli-copy", "--exist-ok"]),
        ("repos create", ["repos", "create", "alice/cli-copy2", "--exist-ok"]),
        ("repos delete", ["repos", "delete", "alice/cli-copy", "--yes"]),
        ("repos move", ["repos", "move", "alice/cli-copy2", "alice/cli-moved"]),
        ("cache rm", ["cache", "rm", f"model/{REPO}", "--cache-dir", str(tmp / "cache"), "--yes"]),
        ("cache prune", ["cache", "prune", "--cache-dir", str(tmp / "cache"), "--yes"]),
        ("auth logout", ["auth", "logout"]),
    ]


def hf(args, env):
    return subprocess.run([HF, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def env(registry, tmp_path_factory):
    home = tmp_path_factory.mktemp("hf-home")
    # As a user runs it: the token is sent implicitly (conftest turns that off for the client).
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_DISABLE_IMPLICIT_TOKEN"}
    return {**env, "HF_TOKEN": registry.token("alice"), "HF_HOME": str(home),
            "HF_HUB_DISABLE_XET": "1"}


def test_every_model_repo_command_is_accounted_for(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "x")
    known = {c for c, _ in runs(tmp_path)} | set(NOT_IMPLEMENTED) | GIT_HELPERS
    unknown = [c for c in commands() if c not in known]
    assert unknown == [], f"hf commands this test does not run: {unknown}"


def test_each_command_works(env, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", env["HF_TOKEN"])
    failed = []
    for name, argv in runs(tmp_path):
        # Logging out with HF_TOKEN set is refused by the CLI itself: run it as a logged-in user.
        e = {k: v for k, v in env.items() if k != "HF_TOKEN"} if name == "auth logout" else env
        r = hf(argv, e)
        if r.returncode != 0:
            failed.append(f"{name}: {r.stdout[-300:]} {r.stderr[-2500:]}")
    assert failed == [], "\n".join(failed)


@pytest.mark.parametrize("name", sorted(NOT_IMPLEMENTED))
def test_documented_501s(env, name):
    r = hf(NOT_IMPLEMENTED[name], env)
    assert r.returncode != 0, name
    text = r.stdout + r.stderr
    assert "not_implemented" in text or "501" in text or "does not offer" in text, (name, text[-800:])
