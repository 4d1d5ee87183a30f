#!/usr/bin/env bash
# Scale-out benchmark (not a test). Reports, on this machine, over loopback, with weir on
# PostgreSQL (scripts/postgres.sh) and its blobs on moto_server (scripts/s3.sh):
#  1. download of a SIZE_MIB file: `curl -L` through weir's presigned redirect vs `curl` straight
#     from the S3 server (the same presigned URL), and through weir in proxy mode
#  2. metadata requests/s (model_info, wrk, 32 connections): one replica vs two replicas on the
#     same database (two wrk runs at once, 16 connections each)
#  3. log integration rate on PostgreSQL (cargo bench -p weir-store --bench log -- N)
# Usage: bash bench/scale.sh [SIZE_MIB] [SECONDS] [LOG_N]   (defaults 256, 5, 20000). Needs the
# interop venv (.venv, or WEIR_VENV) for moto_server; installs wrk with apt-get if missing.
# moto keeps objects in memory: its throughput is a floor for a real S3 store's, not a model of it.
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-256}"; secs="${2:-5}"; log_n="${3:-20000}"
venv="${WEIR_VENV:-.venv}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
CARGO_INCREMENTAL=0 cargo build --release -q -p weir
WEIR="$PWD/target/release/weir"
work="$(mktemp -d /tmp/weir-scale-XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -z "${WEIR_S3_PID:-}" ] || bash scripts/s3.sh stop "$WEIR_S3_PID"
  [ -z "${WEIR_PG_DIR:-}" ] || bash scripts/postgres.sh stop "$WEIR_PG_DIR"
  rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=scripts/postgres.sh
source scripts/postgres.sh start
# shellcheck source=scripts/s3.sh
source scripts/s3.sh start "$venv"
set +u
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
rps() { wrk -t 1 -c "$2" -d "${secs}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
db="${WEIR_TEST_POSTGRES%/*}/weir_bench_$$"
psql -q "$WEIR_TEST_POSTGRES" -c "CREATE DATABASE weir_bench_$$"
export WEIR_DATABASE="$db" WEIR_BLOBS="s3://$WEIR_TEST_S3_BUCKET/bench-$$" WEIR_S3_ENDPOINT="$WEIR_TEST_S3"
# serve DATA PORT [FLAGS…]: a replica; its pid joins pids.
serve() {
  local data=$1 p=$2; shift 2
  "$WEIR" serve --data "$data" --listen "127.0.0.1:$p" --public-url "http://127.0.0.1:$pa" "$@" > "$data.log" 2>&1 &
  pids+=($!); wait_port "$p"
}
pa=$(port); pb=$(port); pc=$(port)
serve "$work/a" "$pa"
"$WEIR" admin --data "$work/a" user add ann --email ann@example.org >/dev/null
token=$("$WEIR" admin --data "$work/a" token create ann --scope write)
head -c "$((size << 20))" /dev/urandom > "$work/w.bin"
sha=$(sha256sum "$work/w.bin" | cut -d' ' -f1)
"$venv/bin/python" - "$pa" "$token" "$work/w.bin" <<'PY'
import sys
from huggingface_hub import HfApi, constants
constants.HF_HUB_DISABLE_XET = True
api = HfApi(endpoint=f"http://127.0.0.1:{sys.argv[1]}", token=sys.argv[2])
api.create_repo("ann/bench")
api.upload_file(path_or_fileobj=sys.argv[3], path_in_repo="w.bin", repo_id="ann/bench")
api.upload_file(path_or_fileobj=b'{"hidden_size": 8}', path_in_repo="config.json", repo_id="ann/bench")
PY
# speed URL [curl flags…]: MiB/s of the best of three downloads (checked against the file's digest).
speed() {
  local url=$1 best=0; shift
  for _ in 1 2 3; do
    local s; s=$(curl -s "$@" -o "$work/got" -w '%{speed_download}' "$url")
    [ "$(sha256sum "$work/got" | cut -d' ' -f1)" = "$sha" ] || { echo "wrong bytes from $url" >&2; exit 1; }
    best=$(python3 -c "print(max($best, $s))")
  done
  python3 -c "print(f'{$best/1048576:.0f}')"
}
file="http://127.0.0.1:$pa/ann/bench/resolve/main/w.bin"
redirected=$(speed "$file" -L)
location=$(curl -s -o /dev/null -w '%{redirect_url}' "$file")
direct=$(speed "$location")
mkdir -p "$work/c"; cp -r "$work/a/secrets" "$work/c/"   # replicas share the keys
serve "$work/c" "$pc" --blob-downloads proxy
proxied=$(speed "http://127.0.0.1:$pc/ann/bench/resolve/main/w.bin")
kill "${pids[-1]}"; unset 'pids[-1]'
echo "1. download of $size MiB: through weir's redirect $redirected MiB/s, straight from S3 $direct MiB/s ($(python3 -c "print(f'{$redirected/$direct:.2f}')")x), proxied by weir $proxied MiB/s"

info="/api/models/ann/bench"
one=$(rps "http://127.0.0.1:$pa$info" 32)
mkdir -p "$work/b"; cp -r "$work/a/secrets" "$work/b/"
serve "$work/b" "$pb"
rps "http://127.0.0.1:$pa$info" 16 > "$work/ra" & ra=$!
rps "http://127.0.0.1:$pb$info" 16 > "$work/rb" & rb=$!
wait "$ra" "$rb"
two=$(python3 -c "print(f'{$(cat "$work/ra") + $(cat "$work/rb"):.0f}')")
echo "2. model_info requests/s at 32 connections: one replica $one, two replicas $two (2 cores shared by the replicas, PostgreSQL and wrk)"

echo "3. the transparency log on PostgreSQL ($log_n events):"
WEIR_BENCH_DATABASE="${WEIR_TEST_POSTGRES%/*}/weir_bench_log_$$" bash -c "psql -q '$WEIR_TEST_POSTGRES' -c 'CREATE DATABASE weir_bench_log_$$' && CARGO_INCREMENTAL=0 cargo bench -q -p weir-store --bench log -- $log_n" | sed 's/^/   /'
