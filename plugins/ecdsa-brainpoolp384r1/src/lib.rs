//! ECDSA over brainpoolP384r1 (RFC 5639) with SHA-384 and SHA3-384
//! digests, DER or P1363 signatures.
//!
//! Everything but the choice of curve and policy lives in
//! `sigil_plugin_sdk::ecdsa`. SHA-384 and SHA3-384 are the hashes
//! Wycheproof pairs with this curve (`ecdsa_brainpoolP384r1_sha384` and its
//! P1363 twin, and `_sha3_384` since contract 0.2.0), so they are the ones
//! declared: admission tests every hash a plugin declares. Brainpool has no low-S rule: either S verifies.

use sigil_plugin_sdk::HashAlgorithm;
use sigil_plugin_sdk::ecdsa::{Ecdsa, EcdsaCurve};

/// brainpoolP384r1 and its policy.
struct BrainpoolP384r1;

impl EcdsaCurve for BrainpoolP384r1 {
    type Curve = bp384::BrainpoolP384r1;
    const PLUGIN: &'static str = "ecdsa-brainpoolp384r1";
    const VERSION: &'static str = sigil_plugin_sdk::plugin_version!();
    const CURVE: &'static str = "brainpoolP384r1";
    const DESCRIPTION: &'static str = "Brainpool P-384 r1 (RFC 5639)";
    const HASHES: &'static [HashAlgorithm] = &[HashAlgorithm::Sha384, HashAlgorithm::Sha3384];
    const LOW_S_ONLY: bool = false;

    sigil_plugin_sdk::jacobian_verification!();
}

sigil_plugin_sdk::export_plugin!(Ecdsa<BrainpoolP384r1>);
