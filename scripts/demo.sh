#!/usr/bin/env bash
# The demo: a jemalloc-profiled service that leaks slowly and then spikes,
# watched by memory-monitor with short intervals. Within about two minutes
# the local spool holds a baseline, a slow-leak and a spike dump (real
# gzipped pprof files). Ctrl-C ends it cleanly at any time.
set -euo pipefail
monitor=$(realpath "$1")
target_bin=$(realpath "$2")
spool="${SPOOL_DIR:-$PWD/demo-spool}"
work=$(mktemp -d /tmp/memory-monitor-demo.XXXXXX)
name=demo-service
pids=()

cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo; echo "demo: stopped (Ctrl-C)"; exit 0' INT TERM

rm -rf "$spool"
cp "$target_bin" "$work/$name"
echo "demo: starting $name (jemalloc profiling on): 64 MiB, leaking 1.5 MiB/s, a 400 MiB spike at 50 s"
MALLOC_CONF=prof:true,prof_active:true,lg_prof_sample:19 "$work/$name" \
  --base-mb 64 --leak-mb-per-sec 1.5 --spike-at-secs 50 --spike-mb 400 --exit-after-secs 300 \
  > "$work/target.out" 2> "$work/target.err" &
pids+=($!)
for _ in $(seq 100); do grep -q '^demo-target pid=' "$work/target.out" 2>/dev/null && break; sleep 0.1; done
cat "$work/target.out"

echo "demo: starting memory-monitor (sample every 500ms, window 20, slow leak > +15MB, spike > P95 x 2)"
echo "demo: dumps go to the local spool $spool (no S3 settings: the spool is the store)"
BINARY_NAME=$name CHECK_INTERVAL=500ms MEMORY_CHANGE_THRESHOLD=15MB INITIAL_DELAY=2s \
  BASELINE_SETTLE=3s DUMP_COOLDOWN=30s HISTORY_WINDOW_SIZE=20 SPIKE_MULTIPLIER=2 \
  POD_NAME=demo-pod SPOOL_DIR="$spool" "$monitor" &
pids+=($!)

have() { ls "$spool"/*-"$1".pprof >/dev/null 2>&1; }
for _ in $(seq 300); do
  if have baseline && have slow-leak && have spike; then break; fi
  sleep 0.5
done
sleep 1
echo
if ! (have baseline && have slow-leak && have spike); then
  echo "demo: FAILED: expected a baseline, a slow-leak and a spike dump in $spool" >&2
  ls -l "$spool" >&2 || true
  exit 1
fi
echo "demo: the spool now holds real heap profiles (gzip magic checked):"
for f in "$spool"/*.pprof; do
  printf '  %-72s %8d bytes  magic %s\n' "$(basename "$f")" "$(stat -c %s "$f")" "$(head -c2 "$f" | od -An -tx1 | tr -d ' ')"
done
leak=$(ls "$spool"/*-slow-leak.pprof | head -1)
echo
# The target keeps symbols and line tables (Cargo.toml [profile.demo]), so
# pprof names the allocating lines; the filter hides the allocator's frames.
hide='_rjem_|prof_backtrace|alloc_impl|raw_vec|__rust'
echo "demo: open one (symbolized against the target binary; Go's pprof reads the format):"
echo "  go tool pprof -top -lines -hide='$hide' $target_bin $leak      # apt-get install golang-go"
echo "  go tool pprof -http=:8080 $target_bin $leak"
echo "  each dump's metadata (RssAnon, baseline, jemalloc stats) is beside it: ${leak%.pprof}.json"
if command -v go >/dev/null; then
  go tool pprof -top -lines -hide="$hide" "$target_bin" "$leak" 2>/dev/null | sed -n '/flat%/,$p' | head -6 || true
fi
echo "demo: done; the monitor keeps watching until Ctrl-C (or run with DEMO_EXIT=1 to stop here)"
[ "${DEMO_EXIT:-0}" = 1 ] && exit 0
wait "${pids[1]}"
