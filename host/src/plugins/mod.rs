//! The plugin engine: algorithm components behind the WIT contract, run
//! sandboxed. It imports nothing from the rest of the host; hot-loading
//! in a deployment (PostgreSQL, other hosts) is the host's `lifecycle`.
//!
//! - [`engine`] — the wasmtime engine, configured once (pooling allocator,
//!   epoch deadlines, memory cap) and a compile cache;
//! - [`sandbox`] — what a plugin may touch (nothing);
//! - [`imports`] — what a plugin may import (an allow-list), and the
//!   linker that provides it;
//! - [`plugin`] — a loaded component and the contract's calls;
//! - [`registry`] — (algorithm, curve) to plugin, swapped atomically;
//! - [`executor`] — the threads plugin calls run on;
//! - [`loader`] — loading a directory of components;
//! - [`conformance`] — Wycheproof vectors against a plugin;
//! - [`check`] — `plugin check`: a component file against [`conformance`];
//! - [`policy`] — what the catalogue says verification means, and the
//!   checks the host makes itself;
//! - [`contract`] — the contract's vocabulary on the host side;
//! - `contract_0_1` — contract 0.1.0 translated to 0.2.0, for components
//!   built before it;
//! - [`error`] — why loading or calling a plugin failed;
//! - `bindings` — the generated WIT bindings (private).

mod bindings;
pub mod check;
pub mod conformance;
pub mod contract;
mod contract_0_1;
pub mod engine;
pub mod error;
pub mod executor;
pub mod imports;
pub mod loader;
pub mod plugin;
pub mod policy;
pub mod registry;
pub mod sandbox;
pub mod signing;

pub use bindings::{CONTRACT_VERSION, CONTRACT_VERSIONS};
pub use contract::{
    AlgorithmType, CurveSpec, Descriptor, HashAlgorithm, KeyFormat, KeyInfo, MessageInput,
    RouteKey, SignatureEncoding, SignatureScheme, Verdict, VerifyInput,
};
pub use engine::{PluginEngine, SandboxLimits};
pub use error::{ContractError, PluginError, internal_detail};
pub use executor::PluginExecutor;
pub use plugin::{LoadedPlugin, MAX_BATCH_CALL};
pub use registry::PluginRegistry;
