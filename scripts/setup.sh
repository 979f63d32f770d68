#!/usr/bin/env bash
# Installs everything the build, the tests and the demo need on a fresh
# machine. Idempotent: each step checks before it installs.
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

step() { printf '== setup: %s\n' "$*"; }

if ! rustup target list --installed | grep -qx x86_64-unknown-linux-musl; then
  step "rust target x86_64-unknown-linux-musl"
  rustup target add x86_64-unknown-linux-musl
fi

missing_apt=()
command -v musl-gcc >/dev/null || missing_apt+=(musl-tools)
command -v jeprof >/dev/null || missing_apt+=(libjemalloc-dev)
# unshare: tests/restart_pid_reuse.rs makes a private pid namespace.
command -v unshare >/dev/null || missing_apt+=(util-linux)
if [ ${#missing_apt[@]} -gt 0 ]; then
  step "apt: ${missing_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing_apt[@]}" >/dev/null
fi

if ! command -v s3s-fs >/dev/null; then
  step "s3s-fs (real S3 server for tests, ~3 min)"
  cargo install --locked s3s-fs@0.14.1 --features binary
fi

if ! command -v moto_server >/dev/null || ! python3 -c 'import moto, flask, flask_cors' 2>/dev/null; then
  step "moto (STS / IMDS / S3 with session tokens)"
  python3 -m pip install -q 'moto[s3,sts,iam]' flask flask-cors
fi
if ! python3 -c 'import standardwebhooks, prometheus_client' 2>/dev/null; then
  step "standardwebhooks + prometheus-client (verify webhook signatures and /metrics in tests)"
  python3 -m pip install -q standardwebhooks prometheus-client
fi
step "ok"
