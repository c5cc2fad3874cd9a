//! A lenient secp256k1 plugin for the policy tests. It calls itself
//! `ecdsa-secp256k1` 0.2.0 and, before verifying, normalises S (replaces a
//! high S by n - S), so a malleated high-S signature verifies.
//!
//! What it declares depends on how it is built:
//! - by default `"low_s_only": false`, which disagrees with the catalogue
//!   (admission refuses it with `policy_mismatch`);
//! - with `SIGIL_LENIENT_DECLARES_LOW_S` set at build time it claims
//!   `"low_s_only": true` and still normalises, so only the complete low-S
//!   sets and Sigil's high-S vectors catch it.

use sigil_plugin_sdk::ecdsa::{Ecdsa, EcdsaCurve};
use sigil_plugin_sdk::{
    Descriptor, Error, HashAlgorithm, KeyFormat, KeyInfo, Plugin, SignatureEncoding, VerifyRequest,
};

struct Secp256k1;

impl EcdsaCurve for Secp256k1 {
    type Curve = k256::Secp256k1;
    const PLUGIN: &'static str = "ecdsa-secp256k1";
    const VERSION: &'static str = "0.2.0";
    const CURVE: &'static str = "secp256k1";
    const DESCRIPTION: &'static str = "secp256k1, S normalised (test fixture)";
    const HASHES: &'static [HashAlgorithm] = &[HashAlgorithm::Sha256, HashAlgorithm::Keccak256];
    const LOW_S_ONLY: bool = option_env!("SIGIL_LENIENT_DECLARES_LOW_S").is_some();
}

struct Lenient;

impl Plugin for Lenient {
    fn describe() -> Descriptor {
        <Ecdsa<Secp256k1> as Plugin>::describe()
    }

    fn parse_key(key: Vec<u8>, format: KeyFormat, curve: Option<String>) -> Result<KeyInfo, Error> {
        <Ecdsa<Secp256k1> as Plugin>::parse_key(key, format, curve)
    }

    fn verify(mut request: VerifyRequest) -> Result<bool, Error> {
        let parsed = match request.encoding {
            SignatureEncoding::P1363 => k256::ecdsa::Signature::from_slice(&request.signature),
            _ => k256::ecdsa::Signature::from_der(&request.signature),
        };
        if let Ok(signature) = parsed {
            // The leniency under test: a high S becomes n - S.
            request.signature = signature.normalize_s().to_bytes().to_vec();
            request.encoding = SignatureEncoding::P1363;
        }
        <Ecdsa<Secp256k1> as Plugin>::verify(request)
    }
}

sigil_plugin_sdk::export_plugin!(Lenient);
