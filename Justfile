# memory-monitor: `just --list` shows every recipe.

set shell := ["bash", "-euo", "pipefail", "-c"]

musl := "x86_64-unknown-linux-musl"
bin := "target/" + musl + "/release/memory-monitor"

# Show the recipes.
default:
    @just --list

# Install what builds and tests need: musl target, musl-tools, s3s-fs, moto, jeprof.
setup:
    scripts/setup.sh

# Build the static musl release binary (installs the musl toolchain if missing).
build:
    @rustup target list --installed | grep -qx {{musl}} || scripts/setup.sh
    @command -v musl-gcc >/dev/null || scripts/setup.sh
    cargo build --locked --release --target {{musl}} -p memory-monitor
    @ls -l {{bin}} && (file {{bin}} 2>/dev/null || true)

# Build the jemalloc-profiled demo target (glibc host build: profiling is simplest there).
demo-target:
    cargo build --locked --release -p demo-target

# The demo: monitor + demo target with short intervals; Ctrl-C ends it.
demo: build demo-target
    scripts/demo.sh {{bin}} target/release/demo-target

# Prove Dockerfile.scratch without Docker: the static binary alone in an empty chroot as uid 65532.
scratch-check: build demo-target
    scripts/scratch-check.sh {{bin}} target/release/demo-target

# Everything CI checks: formatting, clippy, unit + integration tests, the scratch image check.
test: build demo-target
    @command -v s3s-fs >/dev/null && command -v moto_server >/dev/null || scripts/setup.sh
    cargo fmt --all -- --check
    cargo clippy --locked --all-targets -- -D warnings
    cargo clippy --locked -p demo-target -- -D warnings
    DEMO_TARGET="$PWD/target/release/demo-target" MEMORY_MONITOR_RELEASE="$PWD/{{bin}}" cargo test --locked
    just scratch-check

# Benchmarks that print figures (tick cost, allocations, syscalls, RSS, binary size).
bench: build demo-target
    scripts/bench.sh {{bin}} target/release/demo-target

# Run each cargo-fuzz target for a few seconds (needs nightly and cargo-fuzz).
fuzz-smoke seconds="5":
    @command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
    cd fuzz && for t in $(cargo +nightly fuzz list); do cargo +nightly fuzz run $t -- -max_total_time={{seconds}} -rss_limit_mb=512; done
