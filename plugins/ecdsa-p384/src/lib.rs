//! ECDSA over NIST P-384 with SHA-384/256/512 and SHA3-384/512 digests, DER
//! or P1363 signatures.
//!
//! Everything but the choice of curve and policy lives in
//! `sigil_plugin_sdk::ecdsa`.

use sigil_plugin_sdk::HashAlgorithm;
use sigil_plugin_sdk::ecdsa::{Ecdsa, EcdsaCurve};

/// P-384 and its policy.
struct P384;

impl EcdsaCurve for P384 {
    type Curve = p384::NistP384;
    const PLUGIN: &'static str = "ecdsa-p384";
    const VERSION: &'static str = sigil_plugin_sdk::plugin_version!();
    const CURVE: &'static str = "P-384";
    const DESCRIPTION: &'static str = "NIST P-384 (secp384r1)";
    const HASHES: &'static [HashAlgorithm] = &[
        HashAlgorithm::Sha384,
        HashAlgorithm::Sha256,
        HashAlgorithm::Sha512,
        HashAlgorithm::Sha3384,
        HashAlgorithm::Sha3512,
    ];
    const LOW_S_ONLY: bool = false;

    sigil_plugin_sdk::jacobian_verification!();
}

sigil_plugin_sdk::export_plugin!(Ecdsa<P384>);
