#!/usr/bin/env bash
# Proves Dockerfile.scratch without a Docker engine: the static binary runs
# alone in an empty root (only /proc and a /tmp, as in the image), as the
# image's non-root user, finds a real target, and stops on SIGTERM.
set -euo pipefail
bin=$(realpath "$1"); target_bin=$(realpath "$2")
[ "$(id -u)" = 0 ] || { echo "scratch-check: needs root for chroot and mounts" >&2; exit 1; }
root=$(mktemp -d /tmp/mm-scratch.XXXXXX)
name=scratchcheck$$
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  umount "$root/proc" 2>/dev/null || true
  rm -rf "$root" "/tmp/$name"
}
trap cleanup EXIT

if file "$bin" | grep -q 'dynamically linked'; then
  echo "scratch-check: $bin is not static" >&2; exit 1
fi
chmod 755 "$root"
mkdir -p "$root/proc" "$root/tmp" "$root/etc"
chmod 1777 "$root/tmp"
cp "$bin" "$root/memory-monitor"
echo 'monitor:x:65532:65532:memory-monitor:/:/memory-monitor' > "$root/etc/passwd"
echo 'monitor:x:65532:' > "$root/etc/group"
mount -t proc proc "$root/proc"
echo "scratch-check: root holds only: $(cd "$root" && find . -path ./proc -prune -o -type f -print | tr '\n' ' ')"

chroot --userspec=65532:65532 "$root" /memory-monitor --version
cp "$target_bin" "/tmp/$name"

setpriv --reuid=65532 --regid=65532 --clear-groups "/tmp/$name" --base-mb 8 --exit-after-secs 30 > /dev/null &
pids+=($!)
log="$root/tmp/monitor.log"
BINARY_NAME=$name CHECK_INTERVAL=100ms MEMORY_CHANGE_THRESHOLD=100MB INITIAL_DELAY=0s \
  BASELINE_SETTLE=0s DUMP_COOLDOWN=1h HISTORY_WINDOW_SIZE=5 \
  chroot --userspec=65532:65532 "$root" /memory-monitor 2> "$log" &
mon=$!; pids+=($mon)
for _ in $(seq 100); do grep -q 'event=baseline ' "$log" && break; sleep 0.1; done
grep -q 'event=target-found' "$log" || { cat "$log"; echo "scratch-check: target not found" >&2; exit 1; }
grep -q 'event=baseline ' "$log" || { cat "$log"; echo "scratch-check: no baseline" >&2; exit 1; }
kill -TERM "$mon"
for _ in $(seq 20); do kill -0 "$mon" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$mon" 2>/dev/null; then echo "scratch-check: did not stop on SIGTERM" >&2; exit 1; fi
wait "$mon" && rc=0 || rc=$?
[ "$rc" = 0 ] || { cat "$log"; echo "scratch-check: exit status $rc" >&2; exit 1; }
echo "scratch-check: ok: static binary ran alone as uid 65532, found the target, stopped on SIGTERM with 0"
grep -E 'event=(target-found|baseline |dump-not-taken)' "$log" | cut -c1-200
