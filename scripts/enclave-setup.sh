#!/usr/bin/env bash
# What the research environment's sandbox needs on a host (run as root): bubblewrap, and a group
# with one dedicated user per job slot (no home, no shell). Idempotent. `.ci/run` calls it.
set -euo pipefail
slots="${WEIR_JOB_SLOTS:-2}"
group="${WEIR_JOB_GROUP:-weirjob}"
if ! command -v bwrap >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends bubblewrap
fi
getent group "$group" >/dev/null || groupadd --system "$group"
for i in $(seq 0 $((slots - 1))); do
  u="${group}${i}"
  id -u "$u" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin -g "$group" "$u"
done
echo "sandbox ready: $(bwrap --version), group $group, users ${group}0..${group}$((slots - 1))"
