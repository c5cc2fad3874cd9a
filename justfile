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

# Scaffold a new algorithm plugin in plugins/NAME from the template.
new-plugin NAME:
    scripts/new-plugin {{NAME}}
