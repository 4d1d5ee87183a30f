#!/usr/bin/env python3
"""Slowloris against one weir server (not a test; a benchmark with numbers).

Holds HALF_OPEN connections that trickle partial request headers (one byte every few seconds,
reconnecting whenever the server closes one), while CLIENTS well-behaved keep-alive clients
fetch a small file as fast as they can, for SECONDS. Reports the well-behaved clients' requests,
errors and latency percentiles, the slow connections the server closed, and the server's RSS.

Usage: python3 bench/slowloris.py URL PATH PID [--half-open 300] [--clients 200] [--seconds 60]
(bench/slowloris.sh starts a release server with --demo and runs this against it).
Traffic goes only to URL, which must be a loopback address."""

import argparse
import asyncio
import time
import urllib.parse


def rss_kib(pid: int) -> tuple[int, int]:
    cur = peak = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1])
    return cur, peak


async def slow_connection(host: str, port: int, stop: float, stats: dict) -> None:
    while time.monotonic() < stop:
        try:
            r, w = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.5)
            continue
        stats["opened"] += 1
        try:
            w.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
            await w.drain()
            while time.monotonic() < stop:
                w.write(b"X")
                await w.drain()
                try:
                    # Anything the server says (a 408) or an EOF ends this connection.
                    await asyncio.wait_for(r.read(1), timeout=3)
                    stats["closed_by_server"] += 1
                    break
                except asyncio.TimeoutError:
                    continue
        except (ConnectionError, OSError):
            stats["closed_by_server"] += 1
        finally:
            w.close()


async def client(host: str, port: int, path: str, stop: float, stats: dict) -> None:
    req = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    r = w = None
    while time.monotonic() < stop:
        try:
            if w is None:
                r, w = await asyncio.open_connection(host, port)
            t = time.monotonic()
            w.write(req)
            await w.drain()
            head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), timeout=10)
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await asyncio.wait_for(r.readexactly(length), timeout=10)
            stats["latencies"].append(time.monotonic() - t)
            if status == 200:
                stats["ok"] += 1
            else:
                stats["errors"] += 1
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, OSError, ValueError):
            stats["errors"] += 1
            if w is not None:
                w.close()
            r = w = None
    if w is not None:
        w.close()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("path")
    ap.add_argument("pid", type=int)
    ap.add_argument("--half-open", type=int, default=300)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=60)
    a = ap.parse_args()
    u = urllib.parse.urlparse(a.url)
    host, port = u.hostname, u.port
    assert host in ("127.0.0.1", "localhost", "::1"), "loopback targets only"
    stop = time.monotonic() + a.seconds
    slow = {"opened": 0, "closed_by_server": 0}
    good = {"ok": 0, "errors": 0, "latencies": []}
    rss_samples = []

    async def sample() -> None:
        while time.monotonic() < stop:
            rss_samples.append(rss_kib(a.pid)[0])
            await asyncio.sleep(1)

    tasks = [asyncio.create_task(slow_connection(host, port, stop, slow)) for _ in range(a.half_open)]
    await asyncio.sleep(1)  # the slow ones are in place first
    tasks += [asyncio.create_task(client(host, port, a.path, stop, good)) for _ in range(a.clients)]
    tasks.append(asyncio.create_task(sample()))
    await asyncio.gather(*tasks)
    lat = sorted(good["latencies"]) or [0.0]
    pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
    cur, peak = rss_kib(a.pid)
    print(f"{a.half_open} half-open + {a.clients} clients for {a.seconds:.0f} s")
    print(f"  well-behaved: {good['ok']} ok, {good['errors']} errors, "
          f"{good['ok'] / a.seconds:.0f} req/s, p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms, max {lat[-1]*1000:.0f} ms")
    print(f"  slow connections opened {slow['opened']}, closed by the server {slow['closed_by_server']}")
    print(f"  server RSS: max sampled {max(rss_samples or [cur]) // 1024} MiB, peak (VmHWM) {peak // 1024} MiB, now {cur // 1024} MiB")


if __name__ == "__main__":
    asyncio.run(main())
