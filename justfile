# Every routine command of Sigil. `just --list` shows them.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Builds use the committed query data in .sqlx/ (no database needed).
export SQLX_OFFLINE := "true"

# Show the recipes.
default:
    @just --list

# Run Sigil: docker compose with a Docker engine, else the local PostgreSQL
# and Redis; prints the administrator's credentials. Settings (SIGIL_PORT,
# SIGIL_DB_NAME, SIGIL_RESET_ADMIN...): README, "just run".
run:
    scripts/run

# Build every plugin component into target/plugins/{default,extra}; an
# out-of-date plugins/Cargo.lock is updated (SIGIL_LOCKED=1 refuses).
plugins:
    scripts/build-plugins

# Build one plugin into target/plugins/extra/NAME.wasm.
plugin NAME:
    SIGIL_PLUGINS_ONLY={{NAME}} scripts/build-plugins

# Build the plugins, then run every test of the workspace (PostgreSQL and
# Redis on localhost; each test makes its own database).
test: plugins
    cargo test --workspace --locked

# Fuzz one decoder for SECS seconds (targets and results: fuzz/README.md).
# cargo-fuzz needs nightly features: Debian's rustc in /usr/bin with
# RUSTC_BOOTSTRAP=1 (or set FUZZ_PATH to a nightly toolchain's bin). Debian
# ships no ASan runtime, so the sanitizer is off (Rust code needs none for
# memory safety; panics and assertions are the findings). Its own target
# directory: a different compiler.
fuzz TARGET SECS="600":
    cd fuzz && PATH="${FUZZ_PATH:-/usr/bin}:$PATH" RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$PWD/../target/fuzz}" CARGO_PROFILE_RELEASE_LTO=false nice -n 19 cargo fuzz run --sanitizer none --debug-assertions --features libfuzzer {{TARGET}} -- -max_total_time={{SECS}} -rss_limit_mb=2048

# Run Sigil's Wycheproof conformance check on a component file (the
# standalone checker, checker/: no server to build).
check-plugin FILE:
    cargo run --quiet --locked -p sigil-check -- {{FILE}}

# Check every built component against Wycheproof.
check-plugins: plugins
    cargo build --quiet --locked -p sigil-check
    for f in target/plugins/default/*.wasm target/plugins/extra/ecdsa-p384.wasm target/plugins/extra/ecdsa-p521.wasm target/plugins/extra/ed448.wasm target/plugins/extra/template.wasm; do cargo run --quiet --locked -p sigil-check -- "$f" | tail -n 2; done

# Benchmarks (criterion); results are summarised in BENCHMARKS.md.
bench: plugins
    cargo bench --locked --bench plugins

# Check formatting of both workspaces, then clippy on both (warnings are
# errors). The plugins are checked for the host's target: their code has no
# target-specific parts, and this needs no wasm toolchain.
lint:
    cargo fmt --all -- --check
    cd plugins && cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
    cd plugins && cargo clippy --workspace --all-targets --locked -- -D warnings
    scripts/check-layers

# Format both workspaces.
fmt:
    cargo fmt --all
    cd plugins && cargo fmt --all

# HTTP throughput against the plugin-only rate (needs local PostgreSQL and Redis).
bench-http: plugins
    cargo bench --locked --bench http

# The heavy hostile-load suite against a release build (figures and verdicts;
# local PostgreSQL and Redis). The light half runs in `just test`.
abuse: plugins
    scripts/abuse

# CPU per recorded verification for sigil, PostgreSQL and Redis beside
# `openssl speed`, driven by wrk against a release build (BENCHMARKS.md).
bench-cost: plugins
    scripts/bench-cost

# Ten minutes of distinct verifications against the shipped Redis
# configuration: memory stays under the caps, revocation and rate limits
# keep working, nothing fails because Redis is full (BENCHMARKS.md).
soak: plugins
    scripts/soak

# Regenerate the compile-time query data in .sqlx/ against a migrated
# scratch database (after changing a query or a migration).
sqlx-prepare:
    scripts/sqlx-prepare

# Fail if .sqlx/ is not what the queries and migrations make (CI).
sqlx-check:
    scripts/sqlx-prepare --check

# Scaffold a new algorithm plugin in plugins/NAME from the template
# (`just new-plugin my-p521 --crate p521 --curve P-521 --hash sha512`).
new-plugin NAME *OPTIONS:
    scripts/new-plugin {{NAME}} {{OPTIONS}}

# Build, check and upload plugins/NAME to a running `just run`, then again
# on every save (--once: one round).
plugin-dev NAME *OPTIONS:
    scripts/plugin-dev {{NAME}} {{OPTIONS}}

# From a fresh clone: scaffold a P-521 plugin, build, check and upload it
# to a Sigil this starts (slow: not part of `just test`; DEVELOPERS.md).
author-walk:
    scripts/author-walk
