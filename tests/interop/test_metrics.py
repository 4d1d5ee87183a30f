"""`/metrics` read by Prometheus's own text-format parser (prometheus_client, pinned), counting a
known sequence of requests exactly; JSON logs, one object a line, carrying the request id."""

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import WEIR, fresh_database


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="weir-metrics-")
    log_path = os.path.join(tmp, "serve.log")
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [WEIR, "serve", "--data", os.path.join(tmp, "data"), "--listen", f"127.0.0.1:{port}",
         "--metrics-public", "--log-format", "json"],
        stdout=subprocess.DEVNULL, stderr=log,
        env=dict(os.environ, WEIR_LOG="weir_server=info,tower_http=info,warn",
                 **fresh_database(os.path.join(tmp, "data"))),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=1)
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(open(log_path).read())
            time.sleep(0.1)
    yield url, log_path
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def get(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def samples(url):
    status, body, headers = get(f"{url}/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def requests_total(m, route, method, status):
    key = ("weir_http_requests_total",
           tuple(sorted({"route": route, "method": method, "status": status}.items())))
    return m.get(key, 0.0)


def test_metrics_parse_and_count_a_known_sequence_exactly(server):
    url, _ = server
    before = samples(url)
    for _ in range(4):
        assert get(f"{url}/api/models")[0] == 200
    for _ in range(3):
        assert get(f"{url}/api/models/nobody/nothing")[0] == 401
    assert get(f"{url}/healthz")[0] == 200
    after = samples(url)
    assert requests_total(after, "/api/models", "GET", "200") - requests_total(before, "/api/models", "GET", "200") == 4
    assert (requests_total(after, "/api/models/{ns}/{name}", "GET", "401")
            - requests_total(before, "/api/models/{ns}/{name}", "GET", "401")) == 3
    # The scrape that read `before` is counted in `after`, once.
    assert requests_total(after, "/metrics", "GET", "200") - requests_total(before, "/metrics", "GET", "200") == 1
    # Latency histograms have their buckets, count and sum.
    count = after[("weir_http_request_duration_seconds_count",
                   (("method", "GET"), ("route", "/api/models")))]
    assert count >= 4
    inf = after[("weir_http_request_duration_seconds_bucket",
                 (("le", "+Inf"), ("method", "GET"), ("route", "/api/models")))]
    assert inf == count
    assert ("weir_log_size", ()) in after
    assert ("weir_log_integration_lag_seconds", ()) in after
    # No label names a repo or an account: every route label is a template.
    for (name, labels), _ in after.items():
        for k, v in labels:
            assert "nobody" not in v and "nothing" not in v, (name, labels)


def test_logs_are_json_lines_with_the_request_id(server):
    url, log_path = server
    status, _, headers = get(f"{url}/api/models", {"x-request-id": "interop-7"})
    assert status == 200 and headers["x-request-id"] == "interop-7"
    deadline = time.time() + 10
    while time.time() < deadline:
        lines = [json.loads(l) for l in open(log_path) if l.strip()]
        if any("interop-7" in json.dumps(l) for l in lines):
            break
        time.sleep(0.2)
    else:
        raise AssertionError(open(log_path).read()[-2000:])
    assert all(isinstance(l, dict) and "timestamp" in l and "level" in l for l in lines)
