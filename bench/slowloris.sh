#!/usr/bin/env bash
# Slowloris benchmark: a release `weir serve --demo`, then bench/slowloris.py against it
# (300 half-open connections, 200 well-behaved clients, 60 s). Loopback only.
# Usage: bash bench/slowloris.sh [--half-open N] [--clients N] [--seconds N]
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO_INCREMENTAL=0 cargo build --release -q -p weir
data="$(mktemp -d)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ulimit -n 4096 2>/dev/null || true
target/release/weir serve --demo --data "$data/d" --listen "127.0.0.1:$port" --max-connections-per-address 4096 > "$data/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.2; done
python3 bench/slowloris.py "http://127.0.0.1:$port" /acme/tiny-llama/resolve/main/config.json "$pid" "$@"
