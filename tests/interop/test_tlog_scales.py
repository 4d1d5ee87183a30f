"""The transparency log against tlog-scales 0.0.3, an independent C2SP implementation: it
verifies our checkpoint signature, recomputes the root from our tiles, checks inclusion of our
entries, and its `gen-proof` output is byte-identical to our proof files."""

import base64
import pathlib
import subprocess
import sys
import time
import urllib.request

from tlog_scales import backend, reader, signing, tiles, tlog

from conftest import ENDPOINT, WEIR, weir

TLOG_TILES = str(pathlib.Path(sys.executable).parent / "tlog-tiles")
LOG = f"{ENDPOINT}/log"


def get(path: str) -> str:
    with urllib.request.urlopen(f"{ENDPOINT}{path}") as r:
        return r.read().decode()


def checkpoint_at_least(n: int) -> tlog.Checkpoint:
    deadline = time.time() + 30
    while True:
        cp = tlog.Checkpoint.from_text(get("/log/checkpoint"))
        if cp.size >= n:
            return cp
        assert time.time() < deadline, f"log stuck at {cp.size}"
        time.sleep(0.1)


def test_tlog_scales_accepts_our_log(registry):
    # Gated HEAD requests are audited: 300 anonymous denials make 300 log entries.
    for _ in range(300):
        req = urllib.request.Request(f"{ENDPOINT}/acme/tiny-llama-instruct/resolve/main/config.json", method="HEAD")
        try:
            urllib.request.urlopen(req)
        except urllib.error.HTTPError as e:
            assert e.code == 401
    old = tlog.Checkpoint.from_text(get("/log/checkpoint"))
    cp = checkpoint_at_least(300)
    vkey = signing.Vkey.from_string(get("/log/vkey").strip())
    cp.verify(vkey)  # our Ed25519 signed-note signature

    r = reader.TilesReader(backend.make_backend(LOG))
    r.set_size(cp.size)
    assert r.calculate_root_hash() == cp.root_hash  # the root from our hash tiles

    for index in (0, 255, 256, cp.size - 1):
        leaf = r.get_entry(index)
        r.get_inclusion_proof(index, cp.size).check(tiles.leaf_hash(leaf), cp.root_hash)
        assert b"alice" not in leaf and b"carol" not in leaf

    # gen-proof is byte-identical to ours (ours has no `extra` line at this endpoint) when both
    # read the same checkpoint: the sequencer signs a new one every second while entries arrive
    # (earlier tests leave some pending), so compare only across an unchanged checkpoint.
    for _ in range(20):
        latest = get("/log/checkpoint")
        index = tlog.Checkpoint.from_text(latest).size - 2
        theirs = subprocess.run([TLOG_TILES, "gen-proof", LOG, str(index)], capture_output=True, text=True, check=True).stdout
        ours = get(f"/api/v1/log/proof/{index}")
        if get("/log/checkpoint") == latest:
            break
        time.sleep(1.2)
    assert theirs == ours

    # consistency from an earlier checkpoint: our proof equals theirs and checks
    body = get(f"/api/v1/log/consistency?old={old.size}&new={cp.size}")
    ours_hashes = [base64.b64decode(l) for l in body.splitlines()]
    proof = r.get_consistency_proof(old.size, cp.size)
    assert proof.node_hashes == ours_hashes
    if old.size > 0:
        proof.check(old.root_hash, cp.root_hash)


def test_tlog_scales_verifies_witness_cosignatures(registry, tmp_path):
    import os
    env = {**os.environ, "WEIR_SERVER": ENDPOINT, "WEIR_CONFIG_DIR": str(tmp_path / "cfg")}
    key = tmp_path / "w.key"
    vkey = subprocess.run([WEIR, "log", "witness-keygen", "witness.example/interop", str(key)],
                          capture_output=True, text=True, check=True, env=env).stdout.strip()
    weir("admin", "--data", registry.data, "witness", "add", "witness.example/interop", "--key", vkey)
    deadline = time.time() + 20
    while True:  # the registration itself is a log event: cosign once the log is quiet
        out = subprocess.run([WEIR, "log", "witness", "--witness-key", str(key), "--once"],
                             capture_output=True, text=True, env=env)
        text = get("/log/checkpoint")
        if out.returncode == 0 and "witness.example/interop" in text:
            break
        assert time.time() < deadline, out.stderr
        time.sleep(0.5)
    cp = tlog.Checkpoint.from_text(text)
    cp.verify(signing.Vkey.from_string(get("/log/vkey").strip()))
    cp.verify(signing.Vkey.from_string(vkey))  # Ed25519 cosignature, type 0x04


def tampering_proxy(target_fragment: str):
    """A reverse proxy that flips one byte in responses whose path contains `target_fragment`."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            try:
                with urllib.request.urlopen(f"{ENDPOINT}{self.path}") as r:
                    body, status, ctype = r.read(), r.status, r.headers.get("content-type", "")
            except urllib.error.HTTPError as e:
                body, status, ctype = e.read(), e.code, e.headers.get("content-type", "")
            if target_fragment in self.path and body:
                body = body[:-1] + bytes([body[-1] ^ 1])
            self.send_response(status)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_audit_detects_tampered_tiles_and_bundles(registry, tmp_path):
    import os
    vkey = get("/log/vkey").strip()
    env = {**os.environ, "WEIR_CONFIG_DIR": str(tmp_path / "cfg"), "WEIR_LOG_KEY": vkey}
    ok = subprocess.run([WEIR, "log", "audit", "--server", ENDPOINT], capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    for fragment, needle in (("/log/tile/0/", "differs from the rebuilt tree"),
                             ("/log/tile/entries/", "do not rebuild the signed root"),
                             ("/log/checkpoint", "does not verify")):
        proxy = tampering_proxy(fragment)
        url = f"http://127.0.0.1:{proxy.server_address[1]}"
        cfg = {**env, "WEIR_CONFIG_DIR": str(tmp_path / f"cfg-{abs(hash(fragment))}")}
        bad = subprocess.run([WEIR, "log", "audit", "--server", url], capture_output=True, text=True, env=cfg)
        proxy.shutdown()
        assert bad.returncode != 0 and needle in bad.stderr, (fragment, bad.stderr)
