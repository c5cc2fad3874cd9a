# Every routine command of Sigil. `just --list` shows them.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Builds use the committed query data in .sqlx/ (no database needed).
export SQLX_OFFLINE := "true"

# Show the recipes.
default:
    @just --list

# Run Sigil: docker compose with a Docker engine, else the local PostgreSQL
# and Redis; prints the administrator's credentials.
run:
    scripts/run

# Build every plugin component into target/plugins/{default,extra}.
plugins:
    scripts/build-plugins

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

# Run Sigil's Wycheproof conformance check on a component file.
check-plugin FILE:
    cargo run --quiet --locked -- plugin check {{FILE}}

# Check every built component against Wycheproof.
check-plugins: plugins
    for f in target/plugins/default/*.wasm target/plugins/extra/ecdsa-p384.wasm target/plugins/extra/template.wasm; do cargo run --quiet --locked -- plugin check "$f" | tail -n 2; done

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

# Regenerate the compile-time query data in .sqlx/ against a migrated
# scratch database (after changing a query or a migration).
sqlx-prepare:
    scripts/sqlx-prepare

# Fail if .sqlx/ is not what the queries and migrations make (CI).
sqlx-check:
    scripts/sqlx-prepare --check

# Scaffold a new algorithm plugin in plugins/NAME from the template.
new-plugin NAME:
    scripts/new-plugin {{NAME}}
