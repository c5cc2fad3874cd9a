//! Sigil's integration tests, one binary: each module is one area of the
//! service, tested black-box over HTTP against a real server on PostgreSQL
//! and Redis (`helpers::app::TestApp`), except `sandbox`, `conformance`,
//! `rsa_keys`, `rls` and `schema`, which test the plugin engine and the
//! database directly; `cli` runs the `sigil` binary's client against such a server.
//! One binary links wasmtime, sqlx and the rest once, not once per area.

mod helpers;

mod algorithms;
mod auth;
mod batch;
mod cli;
mod conformance;
mod contract;
mod history;
mod hostile;
mod input;
mod limits;
mod ops;
mod permissions;
mod plugins;
mod quotas;
mod redis;
mod redis_topologies;
mod rls;
mod rsa_keys;
mod sandbox;
mod scale;
mod schema;
mod tokens;
mod users;
mod verify;
