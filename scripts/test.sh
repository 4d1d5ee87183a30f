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

echo "== cargo test (SQLite)"
cargo build --workspace --bins
WEIR_TEST_POSTGRES='' cargo test --workspace

# The same store, service and server suites, and the interop suite below, on PostgreSQL: a
# throwaway cluster from the machine's binaries (scripts/postgres.sh), one database per test.
# WEIR_TEST_POSTGRES=URL given: that server instead; WEIR_SKIP_POSTGRES=1: SQLite only.
if [ -z "${WEIR_SKIP_POSTGRES:-}" ]; then
  if [ -z "${WEIR_TEST_POSTGRES:-}" ]; then
    # shellcheck source=scripts/postgres.sh
    source scripts/postgres.sh start
    trap 'bash scripts/postgres.sh stop "$WEIR_PG_DIR"' EXIT
  fi
  echo "== cargo test (PostgreSQL)"
  cargo test -p weir-store -p weir-registry -p weir-server
fi

echo "== fuzz: a short run of every target (weir-fuzz; longer: target/debug/weir-fuzz all --seconds 600)"
target/debug/weir-fuzz all --seconds "${WEIR_FUZZ_SECONDS:-3}"

echo "== interop: huggingface_hub against weir serve (SQLite)"
WEIR_TEST_POSTGRES='' WEIR_BIN="$PWD/target/debug/weir" "$venv/bin/python" -m pytest tests/interop -q -p no:cacheprovider
if [ -n "${WEIR_TEST_POSTGRES:-}" ]; then
  echo "== interop: huggingface_hub against weir serve (PostgreSQL)"
  WEIR_BIN="$PWD/target/debug/weir" "$venv/bin/python" -m pytest tests/interop -q -p no:cacheprovider
fi
