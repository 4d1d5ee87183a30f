#!/usr/bin/env bash
# Throughput and memory benchmark (not a test). Reports, on this machine, over loopback:
#  1. download of a 1 GiB file: weir serve vs nginx (sendfile) serving the same bytes (goal >= 0.9x)
#  2. upload+ingest of the same file through an LFS upload link vs `openssl dgst -sha256` on it
#     (goal >= 0.8x), with the data dir on disk (durable: fsync) and on tmpfs (the pipeline alone),
#     and the disk's own write+fsync speed for reference
#  3. peak server RSS (VmHWM) during a 4 GiB upload (goal < 200 MB)
#  4. the small-request benchmark, bench/small.sh (T0 GETs vs nginx, model_info, gated GETs, events/s)
# Usage: bash bench/run.sh   (WEIR_BENCH_DIR picks the scratch dir; needs ~11 GB free there and
# 2 GB of /dev/shm). Installs nginx with apt-get if missing. Best of several runs.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx >/dev/null; }
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }
CARGO_INCREMENTAL=0 cargo build --release -q -p weir
WEIR="$PWD/target/release/weir"
work="${WEIR_BENCH_DIR:-$PWD/bench-data}"
shm="/dev/shm/weir-bench-$$"
rm -rf "$work"; mkdir -p "$work/files"
wpid=""
cleanup() {
  [ -z "$wpid" ] || kill "$wpid" 2>/dev/null || true
  nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -s stop 2>/dev/null || true
  rm -rf "$work" "$shm"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
best() { sort -g | tail -1; }
mib() { python3 -c "print(f'{$1/1048576:.0f}')"; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
rate() { python3 -c "print($1/($3-$2))"; }   # bytes start end

# start_weir DATA_DIR: starts a server with a user and a repo; sets url, token, wpid.
start_weir() {
  local data=$1 p; p=$(port)
  "$WEIR" serve --data "$data" --listen "127.0.0.1:$p" > "$data.log" 2>&1 &
  wpid=$!; wait_port "$p"
  url="http://127.0.0.1:$p"
  "$WEIR" admin --data "$data" user add bench >/dev/null 2>&1 || true
  token=$("$WEIR" admin --data "$data" token create bench --scope write)
  curl -s -o /dev/null -H "authorization: Bearer $token" -d '{"name":"m"}' "$url/api/repos/create"
}
stop_weir() { kill "$wpid"; wait "$wpid" 2>/dev/null || true; wpid=""; }

# link OID SIZE: an upload link from the LFS batch endpoint (empty if already stored).
link() {
  curl -sf -H "authorization: Bearer $token" -H 'content-type: application/vnd.git-lfs+json' \
    -d "{\"operation\":\"upload\",\"objects\":[{\"oid\":\"$1\",\"size\":$2}]}" "$url/bench/m.git/info/lfs/objects/batch" |
    python3 -c 'import json,sys; o=json.load(sys.stdin)["objects"][0]; print(o.get("actions",{}).get("upload",{}).get("href",""))'
}

# upload_best DATA_DIR: best upload+ingest rate (bytes/s) of 3 runs; the blob is removed between runs.
upload_best() {
  local data=$1
  start_weir "$data"
  for _ in 1 2 3; do
    rm -f "$data/blobs/sha256/${oid:0:2}/$oid"
    curl -sf -o /dev/null -w '%{speed_upload}\n' -T "$file" "$(link "$oid" "$size")"
  done | best
  stop_weir
}

echo "== preparing a 1 GiB file of random bytes" >&2
file="$work/files/weights.bin"
head -c 1073741824 /dev/urandom > "$file"
size=$(stat -c %s "$file")
cat "$file" > /dev/null

echo "== baselines: openssl dgst -sha256, and the disk's write+fsync" >&2
ossl=$(for _ in 1 2 3; do s=$(date +%s.%N); openssl dgst -sha256 -r "$file" >/dev/null; e=$(date +%s.%N); rate "$size" "$s" "$e"; done | best)
oid=$(openssl dgst -sha256 -r "$file" | cut -d' ' -f1)
disk=$(for _ in 1 2 3; do s=$(date +%s.%N); cat "$file" > "$work/copy"; sync "$work/copy"; e=$(date +%s.%N); rm -f "$work/copy"; rate "$size" "$s" "$e"; done | best)

echo "== upload+ingest through weir: data dir on disk, then on tmpfs" >&2
up_disk=$(upload_best "$work/weir-up")
mkdir -p "$shm"
up_shm=$(upload_best "$shm/weir")
rm -rf "$shm"

echo "== download: weir vs nginx" >&2
start_weir "$work/weir"
curl -sf -o /dev/null -T "$file" "$(link "$oid" "$size")"
printf '%s\n%s\n' '{"key":"header","value":{"summary":"bench"}}' \
  "{\"key\":\"lfsFile\",\"value\":{\"path\":\"weights.bin\",\"algo\":\"sha256\",\"oid\":\"$oid\",\"size\":$size}}" |
  curl -sf -o /dev/null -H "authorization: Bearer $token" -H 'content-type: application/x-ndjson' --data-binary @- "$url/api/models/bench/m/commit/main"
echo "== release signing: weir (from content addresses) vs model_signing sign key vs openssl, 1 GiB" >&2
# A revision is released once; the manifest comes from the content addresses taken at upload.
s=$(date +%s.%N)
curl -sf -o "$work/rel.json" -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"revision":"main"}' "$url/api/v1/repos/bench/m/releases"
e=$(date +%s.%N)
rel_weir=$(python3 -c "print($e-$s)")
ms_bin="${MODEL_SIGNING:-$PWD/.venv/bin/model_signing}"
if [ -x "$ms_bin" ]; then
  openssl ecparam -name prime256v1 -genkey -noout -out "$work/p256.pem" 2>/dev/null
  ms=$(for _ in 1 2 3; do s=$(date +%s.%N); "$ms_bin" sign key "$work/files" --private_key "$work/p256.pem" --signature "$work/ms.sig" >/dev/null 2>&1; e=$(date +%s.%N); python3 -c "print($e-$s)"; done | sort -g | head -1)
else
  ms=""
fi
osl=$(for _ in 1 2 3; do s=$(date +%s.%N); openssl dgst -sha256 "$file" >/dev/null; e=$(date +%s.%N); python3 -c "print($e-$s)"; done | sort -g | head -1)
curl -sf -o "$work/files.sig" "$url/api/v1/models/bench/m/releases/main/model.sig"
curl -sf -o "$work/release.pub.pem" "$url/api/v1/keys/release.pub.pem"
s=$(date +%s.%N); WEIR_CONFIG_DIR="$work/cfg" "$WEIR" verify "$work/files" --key "$work/release.pub.pem" --server "$url" >/dev/null; e=$(date +%s.%N)
verify_s=$(python3 -c "print($e-$s)")

nport=$(port)
mkdir -p "$work/nginx/logs"
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  server { listen 127.0.0.1:$nport; root $work/files; }
}
CONF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf"
wait_port "$nport"
dl_weir=$(for _ in 1 2 3 4 5; do curl -sf -o /dev/null -w '%{speed_download}\n' "$url/bench/m/resolve/main/weights.bin"; done | best)
dl_nginx=$(for _ in 1 2 3 4 5; do curl -sf -o /dev/null -w '%{speed_download}\n' "http://127.0.0.1:$nport/weights.bin"; done | best)
stop_weir

echo "== peak RSS during a 4 GiB upload (fresh server process)" >&2
big="$work/files/big.bin"
head -c 4294967296 /dev/urandom > "$big"
bigoid=$(openssl dgst -sha256 -r "$big" | cut -d' ' -f1)
start_weir "$work/weir-big"
curl -sf -o /dev/null -T "$big" "$(link "$bigoid" "$(stat -c %s "$big")")"
hwm_kb=$(awk '/VmHWM/ {print $2}' "/proc/$wpid/status")
stop_weir

cat <<REPORT

| measurement (this machine, loopback, best of runs) | weir | baseline | ratio | goal |
|---|---|---|---|---|
| download 1 GiB, MiB/s (baseline: nginx, sendfile) | $(mib "$dl_weir") | $(mib "$dl_nginx") | $(ratio "$dl_weir" "$dl_nginx") | >= 0.9 |
| upload+ingest 1 GiB, data dir on disk, MiB/s (baseline: openssl dgst -sha256) | $(mib "$up_disk") | $(mib "$ossl") | $(ratio "$up_disk" "$ossl") | >= 0.8 |
| upload+ingest 1 GiB, data dir on tmpfs, MiB/s (baseline: openssl dgst -sha256) | $(mib "$up_shm") | $(mib "$ossl") | $(ratio "$up_shm" "$ossl") | |
| reference: the disk's write+fsync of the file, MiB/s | | $(mib "$disk") | | |
| peak server RSS during a 4 GiB upload, MB | $((hwm_kb / 1024)) | | | < 200 |
| release signing of a 1 GiB model, s (baseline: model_signing sign key 1.1.1) | $(printf '%.3f' "$rel_weir") | ${ms:-n/a} | | ≥ 1.8× faster |
| release signing vs openssl dgst -sha256 of the same file, s | $(printf '%.3f' "$rel_weir") | $(printf '%.3f' "$osl") | | ≤ 1.1× |
| weir verify of the 1 GiB model (re-hash + signature), s | $(printf '%.3f' "$verify_s") | | | |
REPORT

# 4. small requests (T0 GETs vs nginx, model_info, gated GETs, events/s): same run, same machine.
bash bench/small.sh
