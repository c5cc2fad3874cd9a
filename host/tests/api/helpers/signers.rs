//! Keys and signatures from an independent implementation: OpenSSL (the
//! `openssl` crate over the system's libcrypto), never the plugins' crates.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey, PointConversionForm};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{RsaPssSaltlen, Signer};
use serde_json::{Value, json};

/// The algorithms the tests sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// ECDSA over P-256.
    P256,
    /// ECDSA over P-384.
    P384,
    /// ECDSA over secp256k1 (low-S normalised).
    Secp256k1,
    /// Ed25519.
    Ed25519,
    /// RSA-2048.
    Rsa2048,
}

/// A signing key of one kind.
pub struct TestKey {
    /// Which algorithm.
    pub kind: Kind,
    key: PKey<Private>,
}

impl TestKey {
    /// A fresh key.
    pub fn generate(kind: Kind) -> Self {
        let key = match kind {
            Kind::P256 => ec(Nid::X9_62_PRIME256V1),
            Kind::P384 => ec(Nid::SECP384R1),
            Kind::Secp256k1 => ec(Nid::SECP256K1),
            Kind::Ed25519 => PKey::generate_ed25519().expect("ed25519"),
            Kind::Rsa2048 => PKey::from_rsa(Rsa::generate(2048).expect("rsa")).expect("pkey"),
        };
        Self { kind, key }
    }

    /// `algorithm` as the API names it.
    pub fn algorithm(&self) -> &'static str {
        match self.kind {
            Kind::P256 | Kind::P384 | Kind::Secp256k1 => "ECDSA",
            Kind::Ed25519 => "EdDSA",
            Kind::Rsa2048 => "RSA",
        }
    }

    /// The curve as the API names it.
    pub fn curve(&self) -> Option<&'static str> {
        match self.kind {
            Kind::P256 => Some("P-256"),
            Kind::P384 => Some("P-384"),
            Kind::Secp256k1 => Some("secp256k1"),
            Kind::Ed25519 => Some("Curve25519"),
            Kind::Rsa2048 => None,
        }
    }

    /// The `POST /v1/keys` body registering this key as PEM.
    pub fn pem_registration(&self) -> Value {
        json!({"key_data": self.pem(), "format": "PEM", "algorithm": self.algorithm()})
    }

    /// PEM SubjectPublicKeyInfo.
    pub fn pem(&self) -> String {
        String::from_utf8(self.key.public_key_to_pem().expect("pem")).expect("utf-8")
    }

    /// DER SubjectPublicKeyInfo, base64.
    pub fn der_b64(&self) -> String {
        STANDARD.encode(self.key.public_key_to_der().expect("der"))
    }

    /// The raw form, base64: SEC1 point, 32 Ed25519 bytes, PKCS #1 DER.
    pub fn raw_b64(&self, compressed: bool) -> String {
        let bytes = match self.kind {
            Kind::Ed25519 => self.key.raw_public_key().expect("raw"),
            Kind::Rsa2048 => self
                .key
                .rsa()
                .expect("rsa")
                .public_key_to_der_pkcs1()
                .expect("pkcs1"),
            _ => {
                let ec = self.key.ec_key().expect("ec");
                let mut ctx = BigNumContext::new().expect("ctx");
                let form = if compressed {
                    PointConversionForm::COMPRESSED
                } else {
                    PointConversionForm::UNCOMPRESSED
                };
                ec.public_key()
                    .to_bytes(ec.group(), form, &mut ctx)
                    .expect("point")
            }
        };
        STANDARD.encode(bytes)
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Value {
        match self.kind {
            Kind::Ed25519 => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(self.key.raw_public_key().expect("raw"))})
            }
            Kind::Rsa2048 => {
                let rsa = self.key.rsa().expect("rsa");
                json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode(rsa.n().to_vec()), "e": URL_SAFE_NO_PAD.encode(rsa.e().to_vec())})
            }
            _ => {
                let ec = self.key.ec_key().expect("ec");
                let mut ctx = BigNumContext::new().expect("ctx");
                let (mut x, mut y) = (BigNum::new().expect("x"), BigNum::new().expect("y"));
                ec.public_key()
                    .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
                    .expect("coordinates");
                let size = usize::try_from(ec.group().degree().div_ceil(8)).expect("size");
                json!({
                    "kty": "EC",
                    "crv": self.curve().expect("curve"),
                    "x": URL_SAFE_NO_PAD.encode(x.to_vec_padded(size as i32).expect("x")),
                    "y": URL_SAFE_NO_PAD.encode(y.to_vec_padded(size as i32).expect("y")),
                })
            }
        }
    }

    /// The default digest for the kind.
    pub fn digest(&self) -> MessageDigest {
        match self.kind {
            Kind::P384 => MessageDigest::sha384(),
            _ => MessageDigest::sha256(),
        }
    }

    /// Sign `message` the default way: ECDSA DER (low-S on secp256k1),
    /// Ed25519, RSA PKCS #1 v1.5; all with the kind's default hash.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self.kind {
            Kind::Ed25519 => {
                let mut signer = Signer::new_without_digest(&self.key).expect("signer");
                signer.sign_oneshot_to_vec(message).expect("sign")
            }
            Kind::Rsa2048 => self.sign_with(self.digest(), message),
            _ => {
                let der = self.sign_with(self.digest(), message);
                if self.kind == Kind::Secp256k1 {
                    low_s(&der, &self.key)
                } else {
                    der
                }
            }
        }
    }

    /// Sign with a given digest (ECDSA DER, RSA PKCS #1 v1.5).
    pub fn sign_with(&self, digest: MessageDigest, message: &[u8]) -> Vec<u8> {
        let mut signer = Signer::new(digest, &self.key).expect("signer");
        signer.sign_oneshot_to_vec(message).expect("sign")
    }

    /// RSA-PSS with MGF1 over the same hash and a salt as long as the hash.
    pub fn sign_pss(&self, digest: MessageDigest, message: &[u8]) -> Vec<u8> {
        let mut signer = Signer::new(digest, &self.key).expect("signer");
        signer.set_rsa_padding(Padding::PKCS1_PSS).expect("pss");
        signer
            .set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
            .expect("salt");
        signer.set_rsa_mgf1_md(digest).expect("mgf1");
        signer.sign_oneshot_to_vec(message).expect("sign")
    }

    /// ECDSA over a digest computed elsewhere (e.g. Keccak-256), DER.
    pub fn sign_digest(&self, digest: &[u8]) -> Vec<u8> {
        let ec = self.key.ec_key().expect("ec");
        let der = EcdsaSig::sign(digest, &ec)
            .expect("sign")
            .to_der()
            .expect("der");
        if self.kind == Kind::Secp256k1 {
            low_s(&der, &self.key)
        } else {
            der
        }
    }

    /// The same ECDSA signature with `s` replaced by `n - s` (high-S when
    /// the original is low-S).
    pub fn flip_s(&self, der: &[u8]) -> Vec<u8> {
        let ec = self.key.ec_key().expect("ec");
        let sig = EcdsaSig::from_der(der).expect("der");
        let mut ctx = BigNumContext::new().expect("ctx");
        let mut order = BigNum::new().expect("order");
        ec.group().order(&mut order, &mut ctx).expect("order");
        let mut flipped = BigNum::new().expect("s");
        flipped.checked_sub(&order, sig.s()).expect("sub");
        EcdsaSig::from_private_components(sig.r().to_owned().expect("r"), flipped)
            .expect("sig")
            .to_der()
            .expect("der")
    }
}

/// An ECDSA DER signature as fixed-width r||s.
pub fn der_to_p1363(der: &[u8], size: usize) -> Vec<u8> {
    let sig = EcdsaSig::from_der(der).expect("der");
    let mut out = sig.r().to_vec_padded(size as i32).expect("r");
    out.extend(sig.s().to_vec_padded(size as i32).expect("s"));
    out
}

fn ec(nid: Nid) -> PKey<Private> {
    let group = EcGroup::from_curve_name(nid).expect("group");
    PKey::from_ec_key(EcKey::generate(&group).expect("key")).expect("pkey")
}

/// Normalise an ECDSA signature to low-S (BIP 62).
fn low_s(der: &[u8], key: &PKey<Private>) -> Vec<u8> {
    let ec = key.ec_key().expect("ec");
    let sig = EcdsaSig::from_der(der).expect("der");
    let mut ctx = BigNumContext::new().expect("ctx");
    let mut order = BigNum::new().expect("order");
    ec.group().order(&mut order, &mut ctx).expect("order");
    let mut half = BigNum::new().expect("half");
    half.rshift1(&order).expect("half");
    if sig.s() > &half {
        let mut s = BigNum::new().expect("s");
        s.checked_sub(&order, sig.s()).expect("sub");
        EcdsaSig::from_private_components(sig.r().to_owned().expect("r"), s)
            .expect("sig")
            .to_der()
            .expect("der")
    } else {
        der.to_vec()
    }
}

/// Base64 (standard) of bytes.
pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}
