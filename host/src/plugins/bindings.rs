//! The one `bindgen!` of the host: Rust types for `wit/sigil-plugin.wit`.
//! Everything else in the host goes through the re-exports below.

mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "sigil:plugin/plugin",
    });
}

pub use generated::sigil::plugin::types::{
    AlgorithmType, Descriptor, Error, HashAlgorithm, KeyFormat, KeyInfo, MessageInput,
    SignatureEncoding, SignatureScheme, VerifyRequest,
};
pub use generated::{Plugin, PluginPre};

/// The exported interface a component must carry, at the contract version
/// this host speaks.
pub const VERIFIER_EXPORT: &str = "sigil:plugin/verifier@0.1.0";
/// The contract's type-only interface, which components import for its
/// type definitions (it has no functions; the host provides it empty).
pub const TYPES_IMPORT: &str = "sigil:plugin/types@0.1.0";
/// The interface name without its version, to recognise other versions.
pub const VERIFIER_INTERFACE: &str = "sigil:plugin/verifier";
/// The contract version this host speaks.
pub const CONTRACT_VERSION: &str = "0.1.0";
