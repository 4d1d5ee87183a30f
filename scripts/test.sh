#!/usr/bin/env bash
# The whole test suite: Rust unit and integration tests (real SQLite and PostgreSQL, real HTTP on
# loopback, the real binary), then the interop tests that drive the official huggingface_hub client
# against a live `weir serve`. Creates .venv from tests/interop/requirements.txt when needed.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

venv="${WEIR_VENV:-.venv}"
req=tests/interop/requirements.txt
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "== installing the interop peers into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
fi

# The research environment's sandbox runs for real: as root, install bubblewrap, the job group and
# its slot users, and fail (not skip) the escape tests if the sandbox cannot start.
if [ "$(id -u)" = 0 ]; then
  bash scripts/enclave-setup.sh
  export WEIR_ENCLAVE_REQUIRED=1
else
  echo "note: not root, so the sandbox's escape tests are skipped (run as root for the whole suite)"
fi

echo "== cargo test (SQLite, local blobs)"
cargo build --workspace --bins
WEIR_TEST_POSTGRES='' WEIR_TEST_S3='' cargo test --workspace

# The same store, service and server suites, and the interop suite below, on PostgreSQL with the
# blobs on S3: a throwaway cluster from the machine's binaries (scripts/postgres.sh), one
# database per test, and moto_server (scripts/s3.sh), one prefix per test.
# WEIR_TEST_POSTGRES=URL / WEIR_TEST_S3=URL given: those servers instead; WEIR_SKIP_POSTGRES=1:
# SQLite and local blobs only.
if [ -z "${WEIR_SKIP_POSTGRES:-}" ]; then
  stops=()
  if [ -z "${WEIR_TEST_POSTGRES:-}" ]; then
    # shellcheck source=scripts/postgres.sh
    source scripts/postgres.sh start
    stops+=("bash scripts/postgres.sh stop '$WEIR_PG_DIR'")
  fi
  if [ -z "${WEIR_TEST_S3:-}" ]; then
    # shellcheck source=scripts/s3.sh
    source scripts/s3.sh start "$venv"
    stops+=("bash scripts/s3.sh stop $WEIR_S3_PID")
  fi
  trap 'for s in "${stops[@]}"; do eval "$s"; done' EXIT
  export WEIR_S3_REQUIRED=1
  echo "== cargo test (PostgreSQL, blobs on S3)"
  cargo test -p weir-store -p weir-registry -p weir-server
fi

echo "== fuzz: a short run of every target (weir-fuzz; longer: target/debug/weir-fuzz all --seconds 600)"
target/debug/weir-fuzz all --seconds "${WEIR_FUZZ_SECONDS:-3}"

echo "== interop: huggingface_hub against weir serve (SQLite, local blobs)"
WEIR_TEST_POSTGRES='' WEIR_TEST_S3='' WEIR_BIN="$PWD/target/debug/weir" "$venv/bin/python" -m pytest tests/interop -q -p no:cacheprovider
if [ -n "${WEIR_TEST_POSTGRES:-}" ]; then
  echo "== interop: huggingface_hub against weir serve (PostgreSQL, blobs on S3)"
  WEIR_BIN="$PWD/target/debug/weir" "$venv/bin/python" -m pytest tests/interop -q -p no:cacheprovider
fi
