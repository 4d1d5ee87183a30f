"""Notification e-mail against a real SMTP server (aiosmtpd) on loopback: a `weir serve --demo`
configured with --smtp-url mails a new access request to the repo's reviewers and the decision to
the requester, each once, to exactly the right addresses, with a link and never a token."""

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from conftest import WEIR, fresh_database, weir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Collector:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "msg": message_from_bytes(envelope.content, policy=policy.default),
            }
        )
        return "250 OK"


@pytest.fixture(scope="module")
def mailed():
    collector = Collector()
    smtp_port = free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="weir-mail-")
    data = os.path.join(tmp, "data")
    log = open(os.path.join(tmp, "serve.log"), "w")
    proc = subprocess.Popen(
        [
            WEIR, "serve", "--data", data, "--listen", f"127.0.0.1:{port}", "--demo",
            "--smtp-url", f"smtp://127.0.0.1:{smtp_port}", "--mail-from", "weir <weir@registry.example>",
        ],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, WEIR_DEMO_BOARD="off", **fresh_database(data)),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/v1/health", timeout=1)
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(open(os.path.join(tmp, "serve.log")).read())
            time.sleep(0.1)
    yield url, data, collector, os.path.join(tmp, "serve.log")
    proc.terminate()
    proc.wait(timeout=30)
    controller.stop()
    log.close()


def call(url, method, path, token, body=None):
    req = urllib.request.Request(
        url + path, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


def wait_for(collector, pred, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        found = [m for m in collector.messages if pred(m)]
        if found:
            time.sleep(1.5)  # a second copy would arrive by now
            return [m for m in collector.messages if pred(m)]
        time.sleep(0.1)
    raise AssertionError(
        "no such e-mail; got: " + repr([(m["to"], m["msg"]["subject"]) for m in collector.messages])
    )


def text(m):
    return m["msg"].get_body(preferencelist=("plain",)).get_content()


def test_requests_and_decisions_are_mailed_once_to_the_right_people(mailed):
    url, data, collector, _ = mailed
    grace = weir("admin", "--data", data, "token", "create", "grace", "--scope", "write")
    alice = weir("admin", "--data", data, "token", "create", "alice", "--scope", "write")
    call(url, "POST", "/api/v1/repos/acme/vetted-model/access/requests", grace,
         {"purpose": "benchmark refusals", "fields": {"affiliation": "Safety Lab NL"}})
    asked = wait_for(collector, lambda m: "grace asks for access to acme/vetted-model" in m["msg"]["subject"])
    assert len(asked) == 1, asked
    # To the repo's reviewer (acme's owner), not the requester, not anyone else.
    assert asked[0]["to"] == ["alice@acme.example"]
    assert asked[0]["from"] == "weir@registry.example"
    body = text(asked[0])
    assert f"{url}/review" in body
    call(url, "POST", "/api/v1/repos/acme/vetted-model/access/requests/grace", alice,
         {"action": "approve", "expires_days": 30})
    decided = wait_for(collector, lambda m: "Your access to acme/vetted-model is approved" in m["msg"]["subject"])
    assert len(decided) == 1
    assert decided[0]["to"] == ["grace@safetylab.example"]
    assert f"{url}/acme/vetted-model#access" in text(decided[0])
    # No mail ever carries a token or a password.
    for m in collector.messages:
        raw = m["msg"].as_string()
        assert "weir_" not in raw and "weir-demo-password" not in raw, raw
        assert grace not in raw and alice not in raw


def test_a_mail_server_that_is_down_stops_nothing(tmp_path):
    # A registry pointed at a port nobody listens on starts and serves; the mail waits.
    port = free_port()
    dead = free_port()
    data = str(tmp_path / "data")
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen(
        [WEIR, "serve", "--data", data, "--listen", f"127.0.0.1:{port}", "--demo",
         "--smtp-url", f"smtp://127.0.0.1:{dead}"],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, WEIR_DEMO_BOARD="off", **fresh_database(data)),
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/v1/health", timeout=1)
                break
            except OSError:
                assert proc.poll() is None and time.time() < deadline, open(tmp_path / "serve.log").read()
                time.sleep(0.1)
        grace = weir("admin", "--data", data, "token", "create", "grace", "--scope", "write")
        r = call(url, "POST", "/api/v1/repos/acme/vetted-model/access/requests", grace,
                 {"purpose": "x", "fields": {"affiliation": "y"}})
        assert r["state"] == "pending"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    # Refused up front: credentials in the URL.
    out = subprocess.run(
        [WEIR, "serve", "--data", str(tmp_path / "d2"), "--smtp-url", "smtp://u:p@127.0.0.1:25"],
        capture_output=True, text=True, timeout=30,
    )
    assert out.returncode != 0
    assert "smtp_username" in out.stderr
