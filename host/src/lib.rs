//! Sigil: a signature-verification service whose algorithms are sandboxed
//! WebAssembly components.
//!
//! Dependency rule (`use crate::…` between top-level modules; `app`, the
//! composition root, and `cli` may use anything, `metrics`/`telemetry`
//! anyone; `scripts/check-layers` checks it in `just lint`):
//! `http → {verify, lifecycle, keys, auth} → {store, cache} → {plugins, config}`,
//! where `plugins` imports nothing outside itself and `config` only the
//! engine's `SandboxLimits`, which it builds from its settings.
//!
//! - [`app`] — shared state and life cycle (the composition root);
//! - [`cli`] — the `sigil` command line;
//! - [`config`] — typed configuration;
//! - [`http`] — the API (one module per resource), extractors, rate
//!   limits, errors, OpenAPI;
//! - [`verify`] — the verification pipeline and its recorder;
//! - [`keys`] — public-key registration and decoding;
//! - [`lifecycle`] — hot-loading plugins across hosts (admission,
//!   activation, reconciliation with PostgreSQL);
//! - [`auth`] — passwords, tokens, sessions, account input rules,
//!   permissions;
//! - [`store`] — PostgreSQL;
//! - [`cache`] — Redis and its fallbacks, pub/sub between hosts, rate-limit
//!   windows;
//! - [`plugins`] — the plugin engine (a leaf: imports nothing else);
//! - [`metrics`] — Prometheus counters and histograms;
//! - [`telemetry`] — logging set-up.

pub mod app;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod config;
pub mod http;
pub mod keys;
pub mod lifecycle;
pub mod metrics;
pub mod plugins;
pub mod store;
pub mod telemetry;
pub mod verify;
