//! ECDSA over brainpoolP512r1 (RFC 5639) with SHA-512 and SHA3-512
//! digests, DER or P1363 signatures.
//!
//! RustCrypto has no crate for this curve, so [`curve`] defines it: RFC
//! 5639's parameters (as OpenSSL prints them) on the generic arithmetic
//! that `bp256` and `bp384` use, with nothing of Sigil's own in the field
//! or point code. Everything else lives in `sigil_plugin_sdk::ecdsa`, as
//! for every ECDSA plugin. SHA-512 and SHA3-512 are the hashes Wycheproof
//! pairs with this curve (`ecdsa_brainpoolP512r1_sha512`, its P1363 twin,
//! and `_sha3_512`), so they are the ones declared: admission tests every
//! hash a plugin declares. Brainpool has no low-S rule: either S verifies.

mod curve;

use sigil_plugin_sdk::HashAlgorithm;
use sigil_plugin_sdk::ecdsa::{Ecdsa, EcdsaCurve};

/// brainpoolP512r1 and its policy.
struct BrainpoolP512r1;

impl EcdsaCurve for BrainpoolP512r1 {
    type Curve = curve::BrainpoolP512r1;
    const PLUGIN: &'static str = "ecdsa-brainpoolp512r1";
    const VERSION: &'static str = sigil_plugin_sdk::plugin_version!();
    const CURVE: &'static str = "brainpoolP512r1";
    const DESCRIPTION: &'static str = "Brainpool P-512 r1 (RFC 5639)";
    const HASHES: &'static [HashAlgorithm] = &[HashAlgorithm::Sha512, HashAlgorithm::Sha3512];
    const LOW_S_ONLY: bool = false;

    sigil_plugin_sdk::jacobian_verification!();
}

sigil_plugin_sdk::export_plugin!(Ecdsa<BrainpoolP512r1>);
