#!/usr/bin/env bash
# Small-request benchmark (not a test). Reports, on this machine, over loopback, with wrk:
#  1. a T0 config.json GET on 1 keep-alive connection and on 32: weir vs nginx serving the same
#     bytes (goal >= 0.25x nginx on both)
#  2. model_info (GET /api/models/NS/NAME) requests/s at 32 connections (goal >= 20,000)
#  3. gated T2 GETs/s at 32 connections, each decision recorded as an event with its delivery
#     (goal >= 10,000), and the events the log received during the run
#  4. events/s through the recording path alone (cargo bench -p weir-store --bench log)
# Usage: bash bench/small.sh [SECONDS]   (default 5 s a run). Installs wrk and nginx with apt-get
# if missing. Needs the release build (built here).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-5}"
need() { command -v "$1" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }; }
need wrk wrk; need nginx nginx; need curl curl
CARGO_INCREMENTAL=0 cargo build --release -q -p weir
WEIR="$PWD/target/release/weir"
work="$(mktemp -d /tmp/weir-small-XXXXXX)"
chmod 755 "$work"   # nginx workers read the files as an unprivileged user
wpid=""
cleanup() {
  [ -z "$wpid" ] || kill "$wpid" 2>/dev/null || true
  nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -s stop 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
# rps URL CONNS [TOKEN]: requests/s (non-2xx answers fail the run).
rps() {
  local hdr=()
  [ -z "${3:-}" ] || hdr=(-H "authorization: Bearer $3")
  local out; out=$(wrk -t "$([ "$2" -gt 1 ] && echo 2 || echo 1)" -c "$2" -d "${secs}s" "${hdr[@]}" "$1")
  if grep -q "Non-2xx" <<<"$out"; then echo "wrk: non-2xx answers from $1" >&2; echo "$out" >&2; exit 1; fi
  awk '/Requests\/sec/ {print $2}' <<<"$out"
}
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }

p=$(port)
"$WEIR" serve --data "$work/data" --listen "127.0.0.1:$p" --demo > "$work/serve.log" 2>&1 &
wpid=$!
wait_port "$p"
url="http://127.0.0.1:$p"
erin=$("$WEIR" admin --data "$work/data" token create erin --scope read)
mkdir -p -m 755 "$work/files" "$work/nginx/logs"
curl -sf -o "$work/files/config.json" "$url/acme/tiny-llama/resolve/main/config.json"
curl -sf -o /dev/null -H "authorization: Bearer $erin" "$url/acme/vetted-model/resolve/main/config.json"
np=$(port)
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 256; }
http { access_log off; sendfile on; tcp_nodelay on; server { listen 127.0.0.1:$np; root $work/files; } }
CONF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf"
wait_port "$np"

echo "== T0 config.json GET, 1 and 32 connections" >&2
w1=$(rps "$url/acme/tiny-llama/resolve/main/config.json" 1)
n1=$(rps "http://127.0.0.1:$np/config.json" 1)
w32=$(rps "$url/acme/tiny-llama/resolve/main/config.json" 32)
n32=$(rps "http://127.0.0.1:$np/config.json" 32)
echo "== model_info, 32 connections" >&2
mi=$(rps "$url/api/models/acme/tiny-llama" 32)
echo "== gated T2 GET (event + delivery each), 32 connections" >&2
before=$(curl -sf "$url/log/checkpoint" | sed -n 2p)
g=$(rps "$url/acme/vetted-model/resolve/main/config.json" 32 "$erin")
sleep 2
after=$(curl -sf "$url/log/checkpoint" | sed -n 2p)
echo "== events through the recording path (weir-store bench)" >&2
ev=$(CARGO_INCREMENTAL=0 cargo bench -q -p weir-store --bench log -- 100000 2>/dev/null | awk '/events recorded/ {print $(NF-1)}')

cat <<REPORT

| measurement (this machine, loopback, wrk ${secs} s) | weir | nginx | ratio | goal |
|---|---|---|---|---|
| T0 config.json GET, 1 connection, req/s | $w1 | $n1 | $(ratio "$w1" "$n1") | >= 0.25 |
| T0 config.json GET, 32 connections, req/s | $w32 | $n32 | $(ratio "$w32" "$n32") | >= 0.25 |
| model_info, 32 connections, req/s | $mi | | | >= 20,000 |
| gated T2 GET with its event and delivery, 32 connections, req/s | $g | | | >= 10,000 |
| log entries added during the gated run | $((after - before)) | | | one per GET |
| events recorded/s (64 concurrent writers, group commit) | $ev | | | >= 30,000 |
REPORT
