//! A broken plugin for the admission tests: it parses P-256 keys properly
//! but says every signature is valid. Sigil must refuse to admit it.

use sigil_plugin_sdk::ecdsa::{Ecdsa, EcdsaCurve};
use sigil_plugin_sdk::{
    Descriptor, Error, HashAlgorithm, KeyFormat, KeyInfo, Plugin, VerifyRequest,
};

struct P256;

impl EcdsaCurve for P256 {
    type Curve = p256::NistP256;
    const PLUGIN: &'static str = "test-lenient";
    const VERSION: &'static str = sigil_plugin_sdk::plugin_version!();
    const CURVE: &'static str = "P-256";
    const DESCRIPTION: &'static str = "NIST P-256, verified by nobody";
    const HASHES: &'static [HashAlgorithm] = &[HashAlgorithm::Sha256];
    const LOW_S_ONLY: bool = false;
}

struct Lenient;

impl Plugin for Lenient {
    fn describe() -> Descriptor {
        <Ecdsa<P256> as Plugin>::describe()
    }

    fn parse_key(key: Vec<u8>, format: KeyFormat, curve: Option<String>) -> Result<KeyInfo, Error> {
        <Ecdsa<P256> as Plugin>::parse_key(key, format, curve)
    }

    fn verify(_request: VerifyRequest) -> Result<bool, Error> {
        Ok(true)
    }
}

sigil_plugin_sdk::export_plugin!(Lenient);
