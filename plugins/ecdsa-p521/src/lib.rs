//! ECDSA over NIST P-521 with SHA-512 and SHA3-512 digests, DER or P1363
//! signatures.
//!
//! Everything but the choice of curve and policy lives in
//! `sigil_plugin_sdk::ecdsa`. SHA-512 and SHA3-512 are the hashes
//! Wycheproof pairs with P-521 (SHA3-512 since contract 0.2.0), so they are
//! the ones declared: admission tests every hash a plugin declares.

use sigil_plugin_sdk::HashAlgorithm;
use sigil_plugin_sdk::ecdsa::{Ecdsa, EcdsaCurve};

/// P-521 and its policy.
struct P521;

impl EcdsaCurve for P521 {
    type Curve = p521::NistP521;
    const PLUGIN: &'static str = "ecdsa-p521";
    const VERSION: &'static str = sigil_plugin_sdk::plugin_version!();
    const CURVE: &'static str = "P-521";
    const DESCRIPTION: &'static str = "NIST P-521 (secp521r1)";
    const HASHES: &'static [HashAlgorithm] = &[HashAlgorithm::Sha512, HashAlgorithm::Sha3512];
    const LOW_S_ONLY: bool = false;

    sigil_plugin_sdk::jacobian_verification!();
}

sigil_plugin_sdk::export_plugin!(Ecdsa<P521>);
