//! ECDSA over secp256k1 with SHA-256 or Keccak-256 digests, DER or P1363 signatures.
//!
//! Low-S is enforced: a signature whose `s` exceeds n/2 is refused as
//! non-canonical (BIP 62/146), because for every valid `(r, s)` the pair
//! `(r, n - s)` is valid too and would let anyone alter a signature's bytes.
//!
//! Everything but the choice of curve and policy lives in
//! `sigil_plugin_sdk::ecdsa`.

use sigil_plugin_sdk::HashAlgorithm;
use sigil_plugin_sdk::ecdsa::{Ecdsa, EcdsaCurve};

/// secp256k1 and its policy.
struct Secp256k1;

impl EcdsaCurve for Secp256k1 {
    type Curve = k256::Secp256k1;
    const PLUGIN: &'static str = "ecdsa-secp256k1";
    const VERSION: &'static str = sigil_plugin_sdk::plugin_version!();
    const CURVE: &'static str = "secp256k1";
    const DESCRIPTION: &'static str = "SECG secp256k1, the Bitcoin and Ethereum curve";
    const HASHES: &'static [HashAlgorithm] = &[HashAlgorithm::Sha256, HashAlgorithm::Keccak256];
    const LOW_S_ONLY: bool = true;
}

sigil_plugin_sdk::export_plugin!(Ecdsa<Secp256k1>);
