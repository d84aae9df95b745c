#!/usr/bin/env bash
# A real Prometheus server scrapes a training run: Debian's `prometheus` listens on the loopback
# with a generated config that scrapes the run's /metrics every second; `symphony train tiny
# --metrics-port` trains and keeps serving its final figures for a few seconds
# (monitor.metrics_linger_s). PromQL queries over Prometheus' HTTP API (/api/v1/query) must
# return the run's loss, equal to the one metrics.jsonl holds for the step Prometheus scraped,
# and the per-rank gauges; a SIGTERM then ends the linger early. Fails (not skips) when
# prometheus is missing: tools/install_deps.sh installs it.
# Usage: prometheus_scrape_test.sh SYMPHONY_EXE WORK_DIR
set -euo pipefail
exe=$1 work=$2
fail() { echo "FAIL: $*"; exit 1; }
prometheus=$(command -v prometheus) || fail "prometheus is not installed (tools/install_deps.sh installs Debian's package)"
rm -rf "$work" && mkdir -p "$work/text"
prom_pid="" train_pid=""
cleanup() {
  [ -n "$train_pid" ] && kill "$train_pid" 2>/dev/null && wait "$train_pid" 2>/dev/null
  [ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null && wait "$prom_pid" 2>/dev/null
  rm -rf "$work/tsdb"
  return 0
}
trap cleanup EXIT
src_dir=$(cd "$(dirname "$0")/../.." && pwd)
for i in 1 2; do cat "$src_dir"/README.md "$src_dir"/docs/*.md > "$work/text/doc$i.txt"; done
"$exe" data prepare --input "$work/text" --out "$work/data" --val-fraction 0 > /dev/null

# A port the system reports free now (another process may take it before we bind: retried).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
steps=30
start=$(date +%s%3N)
started=0
for attempt in 1 2 3; do
  prom_port=$(free_port) metrics_port=$(free_port)
  [ "$prom_port" != "$metrics_port" ] || continue
  cat > "$work/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
scrape_configs:
  - job_name: symphony
    static_configs:
      - targets: ["127.0.0.1:$metrics_port"]
YAML
  rm -rf "$work/tsdb"
  "$prometheus" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" > "$work/prometheus.log" 2>&1 &
  prom_pid=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$prom_port/-/ready" > /dev/null 2>&1 && break
    kill -0 "$prom_pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! curl -sf "http://127.0.0.1:$prom_port/-/ready" > /dev/null 2>&1; then
    kill "$prom_pid" 2>/dev/null; wait "$prom_pid" 2>/dev/null || true; prom_pid=""
    continue  # its port was taken
  fi
  "$exe" train tiny --set "data.datasets=[\"$work/data\"]" --set train.seq_len=32 \
    --set train.micro_batch_size=2 --set optim.warmup_steps=0 --set train.eval_every=0 \
    --set train.steps=$steps --set monitor.rank_stats_every=5 --set monitor.metrics_linger_s=8 \
    --set monitor.peak_tflops=1 --metrics-port "$metrics_port" --set train.run_dir="$work/run" \
    --quiet > "$work/train.log" 2>&1 &
  train_pid=$!
  for _ in $(seq 100); do
    grep -q "metrics: serving" "$work/train.log" 2>/dev/null && break
    kill -0 "$train_pid" 2>/dev/null || break
    sleep 0.05
  done
  if grep -q "metrics: serving http://127.0.0.1:$metrics_port/metrics" "$work/train.log"; then
    started=1
    break
  fi
  wait "$train_pid" 2>/dev/null || true; train_pid=""
  grep -q "cannot bind" "$work/train.log" || { cat "$work/train.log"; fail "the run did not start its endpoint"; }
  kill "$prom_pid" 2>/dev/null; wait "$prom_pid" 2>/dev/null || true; prom_pid=""
done
[ "$started" = 1 ] || fail "no free ports after 3 attempts"

# Once Prometheus has scraped the last step (the run serves it for 8 s after training), PromQL
# must return the loss metrics.jsonl holds for that step, and the per-rank gauges.
python3 - "$prom_port" "$work/run/metrics.jsonl" "$steps" <<'PY' || { cat "$work/train.log"; tail -5 "$work/prometheus.log"; fail "PromQL checks"; }
import json, sys, time, urllib.parse, urllib.request
port, path, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
def query(promql):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as r:
        result = json.load(r)["data"]["result"]
    return float(result[0]["value"][1]) if result else None
# last_over_time: the newest scraped sample, still there once the run has stopped serving.
def last(selector):
    return query(f"last_over_time({selector}[5m])")
deadline = time.time() + 30
while (seen := last('symphony_step{job="symphony"}')) != steps:
    assert time.time() < deadline, f"Prometheus saw step {seen}, not {steps}"
    time.sleep(0.2)
step = steps
loss = last('symphony_loss{job="symphony"}')
compute = last('symphony_rank_compute_seconds{job="symphony",rank="0"}')
mfu = last('symphony_mfu_ratio{job="symphony"}')
memory = query('sum(last_over_time(symphony_memory_bytes{job="symphony",rank="0"}[5m]))')
up = last('up{job="symphony"}')
print(f"scraped: step {step}, loss {loss!r}, rank 0 compute {compute} s/step, MFU {mfu}, "
      f"memory {memory} B, up {up}")
records = [json.loads(line) for line in open(path)]
logged = [r["loss"] for r in records if r.get("step") == step and "loss" in r]
assert logged, f"no loss for step {step} in metrics.jsonl"
assert loss == logged[0], f"Prometheus has loss {loss!r}, metrics.jsonl {logged[0]!r} at step {step}"
rows = [r["rank_times"]["compute_s"] for r in records if "rank_times" in r and r["rank"] == 0]
assert compute in rows, (compute, rows)
assert mfu is not None and 0 < mfu < 1, mfu
assert memory is not None and memory > 0, memory
assert up == 1, up
print(f"ok: PromQL symphony_loss = {loss!r} = metrics.jsonl's loss at step {step}")
PY
# A stop request (SIGTERM) ends the linger early; the finished run still exits 0.
kill -TERM "$train_pid"
wait "$train_pid" || { cat "$work/train.log"; fail "the training run failed"; }
train_pid=""
grep -q "^done: final loss" "$work/train.log" || { cat "$work/train.log"; fail "the run did not finish"; }
echo "total $(( $(date +%s%3N) - start )) ms"
