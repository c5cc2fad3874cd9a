//! Sigil: a signature-verification service whose algorithms are sandboxed
//! WebAssembly components.
//!
//! - [`plugins`]: the plugin engine (wasmtime, the WIT contract, the
//!   sandbox, the registry, conformance checks);
//! - [`cli`]: the `sigil` command line.

pub mod cli;
pub mod plugins;
