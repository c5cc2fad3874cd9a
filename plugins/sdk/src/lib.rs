//! Guest-side helpers for Sigil algorithm plugins.
//!
//! A plugin implements [`Plugin`] and calls [`export_plugin!`]; this crate
//! carries the WIT bindings, the request checks every plugin would otherwise
//! repeat (declared hashes, digest lengths, encodings, schemes), key
//! plumbing (PEM armour, fingerprints) and, behind the `ecdsa` feature, a
//! complete ECDSA implementation generic over RustCrypto curves.
//!
//! ```ignore
//! struct MyAlgorithm;
//! impl sigil_plugin_sdk::Plugin for MyAlgorithm { /* describe, parse_key, verify */ }
//! sigil_plugin_sdk::export_plugin!(MyAlgorithm);
//! ```

extern crate self as sigil_plugin_sdk;

pub mod bindings {
    //! Bindings generated from `wit/sigil-plugin.wit` (contract 0.2.0).
    #![allow(missing_docs)]
    wit_bindgen::generate!({
        path: "../../wit",
        world: "sigil:plugin/plugin",
        pub_export_macro: true,
        default_bindings_module: "sigil_plugin_sdk::bindings",
        runtime_path: "sigil_plugin_sdk::__private::wit_bindgen::rt",
    });
}

#[cfg(feature = "ecdsa")]
pub mod ecdsa;
pub mod keys;
pub mod request;
pub mod straus;

pub use bindings::sigil::plugin::types::{
    AlgorithmType, Descriptor, Error, HashAlgorithm, KeyFormat, KeyInfo, MessageInput,
    ParameterSet, SignatureEncoding, SignatureScheme, Verdict, VerifyRequest,
};

impl From<bool> for Verdict {
    /// A verdict that recovers nothing.
    fn from(valid: bool) -> Self {
        Verdict {
            valid,
            recovered: None,
        }
    }
}

/// What a plugin implements. [`export_plugin!`] turns it into the
/// component's `verifier` export.
pub trait Plugin {
    /// See `describe` in the WIT contract.
    fn describe() -> Descriptor;

    /// See `parse-key` in the WIT contract.
    fn parse_key(key: Vec<u8>, format: KeyFormat, curve: Option<String>) -> Result<KeyInfo, Error>;

    /// See `verify` in the WIT contract: valid or not. Algorithms that
    /// recover something of the signer override [`Plugin::verdict`] too.
    fn verify(request: VerifyRequest) -> Result<bool, Error>;

    /// See `verify-batch` in the WIT contract. The default verifies each
    /// request in turn; override it where the algorithm can amortise work.
    fn verify_batch(requests: Vec<VerifyRequest>) -> Vec<Result<bool, Error>> {
        requests.into_iter().map(Self::verify).collect()
    }

    /// The contract's `verify` answer. The default is [`Plugin::verify`]'s
    /// answer, recovering nothing; an algorithm that recovers the signer
    /// (Ethereum) overrides this and [`Plugin::verdict_batch`].
    fn verdict(request: VerifyRequest) -> Result<Verdict, Error> {
        Self::verify(request).map(Verdict::from)
    }

    /// The contract's `verify-batch` answer; the default is
    /// [`Plugin::verify_batch`]'s, recovering nothing.
    fn verdict_batch(requests: Vec<VerifyRequest>) -> Vec<Result<Verdict, Error>> {
        Self::verify_batch(requests)
            .into_iter()
            .map(|answer| answer.map(Verdict::from))
            .collect()
    }
}

/// The plugin's version: `SIGIL_PLUGIN_VERSION` at build time if set (to
/// build a variant), else the crate's own version.
#[macro_export]
macro_rules! plugin_version {
    () => {
        match option_env!("SIGIL_PLUGIN_VERSION") {
            Some(version) => version,
            None => env!("CARGO_PKG_VERSION"),
        }
    };
}

/// Export a [`Plugin`] implementation as the component's `verifier`.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        struct __SigilVerifierExport;

        impl $crate::bindings::exports::sigil::plugin::verifier::Guest for __SigilVerifierExport {
            fn describe() -> $crate::Descriptor {
                <$plugin as $crate::Plugin>::describe()
            }
            fn parse_key(
                key: ::std::vec::Vec<u8>,
                format: $crate::KeyFormat,
                curve: ::std::option::Option<::std::string::String>,
            ) -> ::std::result::Result<$crate::KeyInfo, $crate::Error> {
                <$plugin as $crate::Plugin>::parse_key(key, format, curve)
            }
            fn verify(
                request: $crate::VerifyRequest,
            ) -> ::std::result::Result<$crate::Verdict, $crate::Error> {
                <$plugin as $crate::Plugin>::verdict(request)
            }
            fn verify_batch(
                requests: ::std::vec::Vec<$crate::VerifyRequest>,
            ) -> ::std::vec::Vec<::std::result::Result<$crate::Verdict, $crate::Error>> {
                <$plugin as $crate::Plugin>::verdict_batch(requests)
            }
        }

        $crate::bindings::export!(__SigilVerifierExport);
    };
}

/// Shorthands for building errors with a message.
impl Error {
    /// The key bytes do not parse.
    pub fn malformed_key(why: impl core::fmt::Display) -> Self {
        Error::MalformedKey(why.to_string())
    }
    /// The key parses but policy refuses it.
    pub fn rejected_key(why: impl core::fmt::Display) -> Self {
        Error::RejectedKey(why.to_string())
    }
    /// The signature does not parse.
    pub fn malformed_signature(why: impl core::fmt::Display) -> Self {
        Error::MalformedSignature(why.to_string())
    }
    /// The signature parses but is not canonical.
    pub fn non_canonical_signature(why: impl core::fmt::Display) -> Self {
        Error::NonCanonicalSignature(why.to_string())
    }
    /// The request asks for something the plugin does not offer.
    pub fn unsupported(why: impl core::fmt::Display) -> Self {
        Error::Unsupported(why.to_string())
    }
}

#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;
}
