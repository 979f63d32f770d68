# memory-monitor: `just --list` shows every recipe.

set shell := ["bash", "-euo", "pipefail", "-c"]

musl := "x86_64-unknown-linux-musl"
bin := "target/" + musl + "/release/memory-monitor"
# The demo target keeps symbols and line tables (Cargo.toml `[profile.demo]`).
demo_bin := "target/demo/demo-target"

# Show the recipes.
default:
    @just --list

# Install everything: build tools, plus s3s-fs, moto, python checkers, jeprof, strace, nightly, cargo-fuzz.
setup:
    scripts/setup.sh all

# Build the static musl release binary (installs the musl toolchain if missing).
build:
    @scripts/setup.sh build
    cargo build --locked --release --target {{musl}} -p memory-monitor
    @ls -l {{bin}} && (file {{bin}} 2>/dev/null || true)

# Build the jemalloc-profiled demo target (glibc host build: profiling is simplest there),
# with symbols and line tables so its heap profiles name their frames.
demo-target:
    @scripts/setup.sh build
    cargo build --locked --profile demo -p demo-target

# The demo: monitor + demo target with short intervals; Ctrl-C ends it.
demo: build demo-target
    scripts/demo.sh {{bin}} {{demo_bin}}

# Prove Dockerfile.scratch without Docker: the static binary alone in an empty chroot as uid 65532.
scratch-check: build demo-target
    scripts/scratch-check.sh {{bin}} {{demo_bin}}

# Everything CI checks: formatting, clippy, unit + integration tests, the scratch image check,
# every fuzz target for a few seconds.
test: build demo-target
    @scripts/setup.sh all
    cargo fmt --all -- --check
    cargo clippy --locked --all-targets -- -D warnings
    cargo clippy --locked -p demo-target -- -D warnings
    DEMO_TARGET="$PWD/{{demo_bin}}" MEMORY_MONITOR_RELEASE="$PWD/{{bin}}" cargo test --locked
    just scratch-check
    just fuzz-smoke 3

# The benchmark programs, in the order `just bench` runs them (examples/bench_*.rs; knobs at the top of each).
benches := "bench_size tick_allocs bench_tick_cpu bench_syscalls bench_rss idle_rss bench_capture bench_s3"

# Benchmarks that print figures: binary size, allocations, tick CPU, syscalls, idle RSS, capture, S3 upload.
# `just bench bench_tick_cpu` runs one; knobs are env vars, e.g. BENCH_ROUNDS=2 BENCH_DUMP_MIB=64.
bench *names=benches: build demo-target
    cargo build --locked --release --target {{musl}} --example minimal_loop {{prepend("--example ", names)}}
    for b in {{names}}; do \
        echo "==== $b"; \
        MEMORY_MONITOR_RELEASE="$PWD/{{bin}}" DEMO_TARGET="$PWD/{{demo_bin}}" target/{{musl}}/release/examples/$b; \
    done

# SEED=n replays the same stories under other noise; DEBUG=<trace> lists every event; VERBOSE=1 the false alerts.
# Both detectors over the labelled trace suite (tests/traces): caught or missed, latency, false alerts.
bench-detect:
    cargo run --locked --release --example bench_detect

# Write the trace suite as CSV files that `memory-monitor replay` reads (`# restart` lines, `# label` comments).
gen-traces dir="target/traces" seed="0":
    cargo run --locked --release --example gen_traces -- {{dir}} {{seed}}

# Run every cargo-fuzz target for a few seconds from its seed corpus (installs nightly and cargo-fuzz if missing).
fuzz-smoke seconds="5":
    scripts/fuzz-smoke.sh {{seconds}}
