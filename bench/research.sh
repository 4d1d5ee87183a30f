#!/usr/bin/env bash
# The research environment's numbers (as root, after `bash scripts/enclave-setup.sh`):
#   1. sandbox start overhead per job (goal: under 50 ms);
#   2. mcq questions/s on a SmolLM-135M-shaped random model (F32, about 540 MB) on CPU, with
#      weir-runner outside the sandbox and as a real job inside it;
#   3. trivial jobs/s through the queue of `weir serve --research` (two slots).
# Release builds; results go to stdout. QUESTIONS=N (default 20), JOBS=N (default 15; a project holds 20 jobs queued or running).
set -euo pipefail
cd "$(dirname "$0")/.."
questions="${QUESTIONS:-20}"
jobs="${JOBS:-15}"
cargo build --release -q -p weir -p weir-runner
bin=target/release
work="$(mktemp -d)"
chmod 755 "$work"   # the slot users must reach DATA-enclave beside the data dir
trap 'kill $(cat "$work/pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT

echo "== 1. sandbox start overhead"
cargo bench -q -p weir-enclave --bench start 2>/dev/null | grep -E "true"

echo "== 2. mcq on a SmolLM-135M-shaped model"
"$bin/weir-runner" random-model "$work/smol" --shape smollm-135m --seed 1
python3 - "$questions" > "$work/q.jsonl" <<'PY'
import json, sys
for i in range(int(sys.argv[1])):
    q = "Which of these is the safety risk in the study of the cell and the virus number %d ?" % i
    print(json.dumps({"question": q, "choices": ["the virus", "the gene", "the protein", "the dose"], "answer": i % 4}))
PY
t0=$(date +%s.%N)
"$bin/weir-runner" mcq --weights "$work/smol" --input "$work/q.jsonl" --out "$work" --params '{"task":"wmdp_bio"}'
t1=$(date +%s.%N)
python3 -c "print('outside the sandbox: %d questions in %.1f s = %.2f questions/s (including a %s load)' % ($questions, $t1-$t0, $questions/($t1-$t0), 'model'))"

port=18490
"$bin/weir" admin --data "$work/data" user add op >/dev/null
"$bin/weir" admin --data "$work/data" user add grace >/dev/null
"$bin/weir" admin --data "$work/data" org add lab --member grace >/dev/null
"$bin/weir" admin --data "$work/data" identity set grace --level accredited --country NL >/dev/null
op=$("$bin/weir" admin --data "$work/data" token create op --scope admin)
grace=$("$bin/weir" admin --data "$work/data" token create grace --scope write)
cat > "$work/weir.toml" <<TOML
[research]
enabled = true
memory_mb = 2048
cpus = 2.0
wall_secs = 3600
TOML
WEIR_CONFIG="$work/weir.toml" "$bin/weir" serve --data "$work/data" --listen 127.0.0.1:$port >"$work/serve.log" 2>&1 &
echo $! > "$work/pid"
for _ in $(seq 100); do curl -s -o /dev/null 127.0.0.1:$port/api/v1/policy && break; sleep 0.1; done
export WEIR_SERVER=http://127.0.0.1:$port
WEIR_TOKEN=$grace "$bin/weir" push "$work/smol" grace/smol >/dev/null
WEIR_TOKEN=$grace "$bin/weir" tier set grace/smol T3 >/dev/null
WEIR_TOKEN=$grace "$bin/weir" project apply lab/bench --purpose bench --model grace/smol:AL3 --cpu-hours 100 >/dev/null
WEIR_TOKEN=$op "$bin/weir" project review lab/bench approve --reason bench >/dev/null
wait_for() {
  while WEIR_TOKEN=$grace "$bin/weir" job status "$1" | grep -qE ": (queued|running)"; do sleep 0.05; done
}
t0=$(date +%s.%N)
id=$(WEIR_TOKEN=$grace "$bin/weir" job submit grace/smol --project lab/bench --kind mcq --input "$work/q.jsonl" --params '{"task":"wmdp_bio"}' | awk 'NR==1{print $2}')
wait_for "$id"
t1=$(date +%s.%N)
WEIR_TOKEN=$grace "$bin/weir" job status "$id" | sed -n 1,2p
python3 -c "print('inside the sandbox, through the queue: %d questions in %.1f s = %.2f questions/s' % ($questions, $t1-$t0, $questions/($t1-$t0)))"

echo "== 3. trivial jobs through the queue"
t0=$(date +%s.%N)
last=""
for i in $(seq "$jobs"); do
  last=$(WEIR_TOKEN=$grace "$bin/weir" job submit grace/smol --project lab/bench --kind command -- /usr/bin/true | awk 'NR==1{print $2}')
done
wait_for "$last"
t1=$(date +%s.%N)
python3 -c "print('%d trivial jobs (submitted one by one from the CLI, each staging the 540 MB revision by hard links) in %.1f s = %.1f jobs/s' % ($jobs, $t1-$t0, $jobs/($t1-$t0)))"
