#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a few seconds from its committed
# committed seed corpus (fuzz/corpus/<target>/); part of `just test`.
#
#   scripts/fuzz-smoke.sh [seconds per target, default 5]
#
# Targets come from `cargo fuzz list` (the [[bin]]s of fuzz/Cargo.toml), so a
# new target is picked up without touching this file. New inputs libFuzzer
# finds go to a temp dir, never into the committed corpus. A crash, a leak, a
# timeout (10 s per input) or an RSS over 512 MiB fails the run and leaves its
# reproducer in fuzz/artifacts/<target>/ (see fuzz/README.md).
set -euo pipefail
export PATH="$HOME/.cargo/bin:$HOME/.local/bin:$PATH"
seconds=${1:-5}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "fuzz-smoke: seconds must be a positive integer, got '$seconds'" >&2; exit 2; }
cd "$(dirname "$0")/../fuzz"

if ! command -v cargo-fuzz >/dev/null; then
  echo "== fuzz-smoke: installing cargo-fuzz"
  cargo install --locked cargo-fuzz
fi
# cargo fuzz needs nightly's -Z flags. Where no nightly can be fetched, the
# default toolchain accepts them with RUSTC_BOOTSTRAP=1 (it ships the ASan
# runtime too); said out loud, never silent.
if ! rustup toolchain list | grep -q '^nightly'; then
  echo "== fuzz-smoke: installing the nightly toolchain (cargo fuzz needs it)"
  rustup toolchain install nightly --profile minimal || true
fi
if rustup toolchain list | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
else
  echo "== fuzz-smoke: no nightly toolchain: using $(rustc --version) with RUSTC_BOOTSTRAP=1"
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi

mapfile -t targets < <("${fuzz[@]}" list)
[ ${#targets[@]} -gt 0 ] || { echo "fuzz-smoke: cargo fuzz list found no targets in fuzz/Cargo.toml" >&2; exit 1; }
for t in "${targets[@]}"; do
  compgen -G "corpus/$t/*" >/dev/null ||
    { echo "fuzz-smoke: target $t has no seed corpus: add fuzz/corpus/$t/seed-<name> (fuzz/README.md)" >&2; exit 1; }
done

echo "== fuzz-smoke: building ${#targets[@]} targets: ${targets[*]}"
"${fuzz[@]}" build

work=$(mktemp -d /tmp/mm-fuzz-smoke.XXXXXX)
trap 'rm -rf "$work"' EXIT
for t in "${targets[@]}"; do
  mkdir "$work/$t"
  if ! "${fuzz[@]}" run "$t" "$work/$t" "corpus/$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=512 >"$work/$t.log" 2>&1; then
    tail -n 40 "$work/$t.log" >&2
    echo "fuzz-smoke: target $t FAILED; reproducer in fuzz/artifacts/$t/ (${fuzz[*]} run $t <file>)" >&2
    exit 1
  fi
  printf '   %-24s %s\n' "$t" "$(grep -E '^Done [0-9]+ runs' "$work/$t.log" | tail -n 1)"
done
echo "== fuzz-smoke: ok: ${#targets[@]} targets, ${seconds}s each"
