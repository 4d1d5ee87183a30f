#!/usr/bin/env bash
# Writes a PNG of every page of the demo at desktop (1280 px) and phone (390 px) width into
# OUT_DIR, as {page}-desktop.png and {page}-phone.png, and checks each with axe-core on the way.
# Needs Debian's chromium and chromium-driver (`.ci/run` installs them).
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: scripts/screenshots.sh OUT_DIR" >&2
  exit 2
fi
out=$(mkdir -p "$1" && cd "$1" && pwd)
cd "$(dirname "$0")/.."
WEIR_E2E=1 WEIR_SCREENSHOTS="$out" cargo test -p weir --test cli \
  ui::every_page_passes_axe_and_is_captured_at_desktop_and_phone_width -- --exact
ls "$out"
