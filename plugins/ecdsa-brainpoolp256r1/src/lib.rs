//! ECDSA over brainpoolP256r1 (RFC 5639) with SHA-256 or SHA3-256
//! digests, DER or P1363 signatures.
//!
//! Everything but the choice of curve and policy lives in
//! `sigil_plugin_sdk::ecdsa`. The hashes are the two Wycheproof pairs with
//! this curve (`ecdsa_brainpoolP256r1_sha256`, its P1363 twin, and
//! `ecdsa_brainpoolP256r1_sha3_256`): admission tests every hash a plugin
//! declares, so none is declared that no vector covers. Brainpool has no
//! low-S rule: either S verifies.

use sigil_plugin_sdk::HashAlgorithm;
use sigil_plugin_sdk::ecdsa::{Ecdsa, EcdsaCurve};

/// brainpoolP256r1 and its policy.
struct BrainpoolP256r1;

impl EcdsaCurve for BrainpoolP256r1 {
    type Curve = bp256::BrainpoolP256r1;
    const PLUGIN: &'static str = "ecdsa-brainpoolp256r1";
    const VERSION: &'static str = sigil_plugin_sdk::plugin_version!();
    const CURVE: &'static str = "brainpoolP256r1";
    const DESCRIPTION: &'static str = "Brainpool P-256 r1 (RFC 5639)";
    const HASHES: &'static [HashAlgorithm] = &[HashAlgorithm::Sha256, HashAlgorithm::Sha3256];
    const LOW_S_ONLY: bool = false;

    sigil_plugin_sdk::jacobian_verification!();
}

sigil_plugin_sdk::export_plugin!(Ecdsa<BrainpoolP256r1>);
