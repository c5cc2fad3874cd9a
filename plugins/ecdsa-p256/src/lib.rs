//! ECDSA over NIST P-256 with SHA-256/384/512 and SHA3-256/512 digests, DER
//! or P1363 signatures.
//!
//! Everything but the choice of curve and policy lives in
//! `sigil_plugin_sdk::ecdsa`.

mod generator;

use sigil_plugin_sdk::HashAlgorithm;
use sigil_plugin_sdk::ecdsa::{Ecdsa, EcdsaCurve};

/// P-256 and its policy.
struct P256;

impl EcdsaCurve for P256 {
    type Curve = p256::NistP256;
    const PLUGIN: &'static str = "ecdsa-p256";
    const VERSION: &'static str = sigil_plugin_sdk::plugin_version!();
    const CURVE: &'static str = "P-256";
    const DESCRIPTION: &'static str = "NIST P-256 (secp256r1, prime256v1)";
    const HASHES: &'static [HashAlgorithm] = &[
        HashAlgorithm::Sha256,
        HashAlgorithm::Sha384,
        HashAlgorithm::Sha512,
        HashAlgorithm::Sha3256,
        HashAlgorithm::Sha3512,
    ];
    const LOW_S_ONLY: bool = false;

    sigil_plugin_sdk::jacobian_verification!(generator::GENERATOR_ODD_MULTIPLES, generator::WINDOW);
}

sigil_plugin_sdk::export_plugin!(Ecdsa<P256>);
