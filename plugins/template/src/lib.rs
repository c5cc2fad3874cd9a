//! A Sigil algorithm plugin, scaffolded by `just new-plugin`.
//!
//! As generated it is complete and passes `sigil plugin check`: ECDSA over
//! brainpoolP256r1 (RFC 5639) with SHA-256 digests, DER or P1363
//! signatures. Everything but the curve and its policy comes from
//! `sigil_plugin_sdk::ecdsa`.
//!
//! To serve another curve of the RustCrypto family, swap the `Curve` type
//! and the constants. To write a different algorithm, implement
//! `sigil_plugin_sdk::Plugin` yourself (describe, parse_key, verify and
//! optionally verify_batch) and export it with `export_plugin!`; PLUGINS.md
//! walks through it.

use sigil_plugin_sdk::HashAlgorithm;
use sigil_plugin_sdk::ecdsa::{Ecdsa, EcdsaCurve};

/// The curve this plugin serves, and its policy.
struct Curve;

impl EcdsaCurve for Curve {
    type Curve = bp256::BrainpoolP256r1;
    const PLUGIN: &'static str = "template";
    const VERSION: &'static str = sigil_plugin_sdk::plugin_version!();
    const CURVE: &'static str = "brainpoolP256r1";
    const DESCRIPTION: &'static str = "Brainpool P-256 r1 (RFC 5639)";
    const HASHES: &'static [HashAlgorithm] = &[HashAlgorithm::Sha256];
    const LOW_S_ONLY: bool = false;
}

sigil_plugin_sdk::export_plugin!(Ecdsa<Curve>);
