//! Sigil: a signature-verification service whose algorithms are sandboxed
//! WebAssembly components.
//!
//! - [`app`] — shared state and life cycle;
//! - [`config`] — typed configuration;
//! - [`http`] — the API (one module per resource), errors, OpenAPI;
//! - [`auth`] — passwords, tokens, sessions, permissions;
//! - [`store`] — PostgreSQL;
//! - [`cache`] — Redis and its fallbacks;
//! - [`plugins`] — the plugin engine;
//! - [`verify`] — the verification pipeline and its recorder;
//! - [`cli`] — the `sigil` command line.

pub mod app;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod config;
pub mod http;
pub mod keys;
pub mod metrics;
pub mod plugins;
pub mod store;
pub mod telemetry;
pub mod verify;
