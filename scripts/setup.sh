#!/usr/bin/env bash
# Installs what the project needs on a fresh machine. Idempotent: each step
# checks before it installs and prints nothing when nothing is missing.
#
#   scripts/setup.sh build   only what `just build` / `just demo` need: the
#                            musl target, musl-tools, a C toolchain (ring,
#                            jemalloc). Seconds, not minutes.
#   scripts/setup.sh [all]   also what tests, benchmarks and fuzzing use:
#                            s3s-fs (~3 min to compile), moto + boto3, python
#                            standardwebhooks and prometheus-client, jeprof,
#                            strace, the nightly toolchain, cargo-fuzz.
set -euo pipefail
export PATH="$HOME/.cargo/bin:$HOME/.local/bin:$PATH"
what=${1:-all}
case $what in
  build | all) ;;
  *) echo "usage: $0 [build|all]" >&2; exit 2 ;;
esac
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

step() { printf '== setup: %s\n' "$*"; }

# ------------------------------------------------------------ apt packages
missing_apt=()
need_cmd() { command -v "$1" >/dev/null || missing_apt+=("$2"); }
need_cmd musl-gcc musl-tools
need_cmd cc gcc
need_cmd make make
if [ "$what" = all ]; then
  need_cmd jeprof libjemalloc-dev
  need_cmd strace strace
  # unshare: tests/restart_pid_reuse.rs makes a private pid namespace.
  need_cmd unshare util-linux
fi
if [ ${#missing_apt[@]} -gt 0 ]; then
  step "apt: ${missing_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing_apt[@]}" >/dev/null
fi

# ---------------------------------------------------------- rust toolchain
if ! rustup target list --installed | grep -qx x86_64-unknown-linux-musl; then
  step "rust target x86_64-unknown-linux-musl"
  rustup target add x86_64-unknown-linux-musl
fi
[ "$what" = all ] || exit 0

# --------------------------------------------- tests, benchmarks, fuzzing
if ! command -v s3s-fs >/dev/null; then
  step "s3s-fs (real S3 server for tests, ~3 min)"
  cargo install --locked s3s-fs@0.14.1 --features binary
fi

# moto brings boto3 (the bench's reference S3 client); standardwebhooks and
# prometheus_client verify webhook signatures and /metrics in tests.
missing_py=()
{ command -v moto_server >/dev/null && python3 -c 'import moto, flask, flask_cors' 2>/dev/null; } ||
  missing_py+=('moto[s3,sts,iam]' flask flask-cors)
python3 -c 'import standardwebhooks' 2>/dev/null || missing_py+=(standardwebhooks)
python3 -c 'import prometheus_client' 2>/dev/null || missing_py+=(prometheus-client)
if [ ${#missing_py[@]} -gt 0 ]; then
  step "python: ${missing_py[*]}"
  python3 -m pip install -q "${missing_py[@]}"
fi

if ! rustup toolchain list | grep -q '^nightly'; then
  step "rust nightly toolchain (cargo fuzz)"
  # Where none can be fetched, scripts/fuzz-smoke.sh falls back to the
  # default toolchain with RUSTC_BOOTSTRAP=1.
  rustup toolchain install nightly --profile minimal || step "no nightly toolchain available"
fi
if ! command -v cargo-fuzz >/dev/null; then
  step "cargo-fuzz"
  cargo install --locked cargo-fuzz
fi
