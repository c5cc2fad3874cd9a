//! The host's `bindgen!`s: Rust types for the plugin contract, once for
//! each version the host speaks. `wit/sigil-plugin.wit` (0.2.0) is the
//! contract the host thinks in; `wit/0.1.0/` is frozen, for components
//! built before 0.2.0, and [`super::contract_0_1`] translates it.
//! Everything else in the host goes through the re-exports below.

mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "sigil:plugin/plugin",
    });
}

/// Contract 0.1.0, as components built before 0.2.0 export it.
pub mod v0_1 {
    mod generated {
        wasmtime::component::bindgen!({
            path: "../wit/0.1.0",
            world: "sigil:plugin/plugin",
        });
    }
    pub use generated::sigil::plugin::types::{
        AlgorithmType, Descriptor, Error, HashAlgorithm, KeyFormat, KeyInfo, MessageInput,
        SignatureEncoding, SignatureScheme, VerifyRequest,
    };
    pub use generated::{Plugin, PluginPre};

    /// The exported interface of a 0.1.0 component.
    pub const VERIFIER_EXPORT: &str = "sigil:plugin/verifier@0.1.0";
    /// Its type-only interface, which the host provides empty.
    pub const TYPES_IMPORT: &str = "sigil:plugin/types@0.1.0";
}

pub use generated::sigil::plugin::types::{
    AlgorithmType, Descriptor, Error, HashAlgorithm, KeyFormat, KeyInfo, MessageInput,
    ParameterSet, SignatureEncoding, SignatureScheme, Verdict, VerifyRequest,
};
pub use generated::{Plugin, PluginPre};

/// The exported interface a component must carry, at the contract version
/// this host thinks in.
pub const VERIFIER_EXPORT: &str = "sigil:plugin/verifier@0.2.0";
/// The contract's type-only interface, which components import for its
/// type definitions (it has no functions; the host provides it empty).
pub const TYPES_IMPORT: &str = "sigil:plugin/types@0.2.0";
/// The interface name without its version, to recognise other versions.
pub const VERIFIER_INTERFACE: &str = "sigil:plugin/verifier";
/// The contract version this host thinks in.
pub const CONTRACT_VERSION: &str = "0.2.0";
/// What a component must export, as errors name it.
pub const ACCEPTED_EXPORTS: &str = "sigil:plugin/verifier@0.2.0 (or @0.1.0)";
/// Every contract version this host loads.
pub const CONTRACT_VERSIONS: &[&str] = &["0.1.0", "0.2.0"];
