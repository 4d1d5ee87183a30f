#!/usr/bin/env bash
# A throwaway S3-compatible server for the tests: moto_server (from the interop venv) on a free
# loopback port, in memory, with the bucket the tests use. Source it to get the variables:
#   source scripts/s3.sh start VENV   exports WEIR_TEST_S3 (its URL), WEIR_TEST_S3_BUCKET,
#                                     WEIR_S3_PID and the AWS_* credentials moto accepts
#   bash scripts/s3.sh stop PID
# moto checks no signature and no expiry: weir's tests check its own presigned URLs' scope and
# expiry separately (crates/weir-store/src/blobs.rs, tests/interop/test_s3.py).
set -euo pipefail

case "${1:-}" in
  start)
    venv="${2:-.venv}"
    port="$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    log="$(mktemp -t weir-moto.XXXXXX.log)"
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
    export WEIR_S3_PID=$!
    export WEIR_TEST_S3="http://127.0.0.1:$port"
    export WEIR_TEST_S3_BUCKET=weir-test
    export AWS_ACCESS_KEY_ID=weir-test AWS_SECRET_ACCESS_KEY=weir-test-secret AWS_REGION=us-east-1
    for _ in $(seq 1 100); do
      if curl -sf -o /dev/null -X PUT "$WEIR_TEST_S3/$WEIR_TEST_S3_BUCKET"; then
        echo "== S3 (moto_server) at $WEIR_TEST_S3, bucket $WEIR_TEST_S3_BUCKET"
        break
      fi
      sleep 0.2
    done
    curl -sf -o /dev/null "$WEIR_TEST_S3/$WEIR_TEST_S3_BUCKET" || { cat "$log"; echo "moto_server did not start" >&2; return 1 2>/dev/null || exit 1; }
    ;;
  stop)
    kill "${2:?the pid of the server}" 2>/dev/null || true
    ;;
  *)
    echo "usage: source scripts/s3.sh start [VENV] | bash scripts/s3.sh stop PID" >&2
    exit 2
    ;;
esac
