//! ECDSA over any RustCrypto curve: a curve plugin names its curve and
//! policy in an [`EcdsaCurve`] implementation and exports
//! `Ecdsa<ThatCurve>`.
//!
//! Policy, the same for every curve:
//! - keys: an SPKI must be `id-ecPublicKey` with the plugin's named-curve
//!   OID; points must be on the curve and not the identity; the canonical
//!   form is the SPKI with the uncompressed point;
//! - signatures: strict DER or fixed-width P1363, `r` and `s` in `[1, n-1]`;
//!   where the curve asks for it (`LOW_S_ONLY`), a high-S signature is refused
//!   as non-canonical rather than answered;
//! - digests: exactly one digest of a declared hash (the host hashes).
//!
//! The equation itself is the `ecdsa` crate's unless a curve names another
//! ([`EcdsaCurve::verify_prehash`]); the curves of the `primeorder` crate
//! name [`jacobian::verify_prehash`], the same check in variable time.

pub mod jacobian;

/// The types a curve's [`EcdsaCurve::verify_prehash`] takes.
pub use ::ecdsa::Signature;
pub use elliptic_curve::PublicKey;

/// Inside an `impl EcdsaCurve` for a curve of the `primeorder` crate:
/// verify with [`jacobian::verify_prehash`] instead of the `ecdsa` crate,
/// or, given a baked table of the generator's odd multiples and its window
/// (`jacobian_verification!(TABLE, WINDOW)`), with
/// [`jacobian::verify_prehash_with_generator_table`].
#[macro_export]
macro_rules! jacobian_verification {
    () => {
        /// Variable time, in Jacobian coordinates: every input is public.
        fn verify_prehash(
            key: &$crate::ecdsa::PublicKey<Self::Curve>,
            z: &[u8],
            signature: &$crate::ecdsa::Signature<Self::Curve>,
        ) -> bool {
            $crate::ecdsa::jacobian::verify_prehash(key, z, signature)
        }
    };
    ($table:expr, $window:expr) => {
        /// Variable time, in Jacobian coordinates, with a baked table of
        /// the generator's multiples: every input is public.
        fn verify_prehash(
            key: &$crate::ecdsa::PublicKey<Self::Curve>,
            z: &[u8],
            signature: &$crate::ecdsa::Signature<Self::Curve>,
        ) -> bool {
            $crate::ecdsa::jacobian::verify_prehash_with_generator_table(
                key, z, signature, &$table, $window,
            )
        }
    };
}

use core::marker::PhantomData;
use core::ops::Add;

use ::ecdsa::VerifyingKey;
use ::ecdsa::der::{self as ecdsa_der, MaxOverhead, MaxSize};
use ::ecdsa::signature::hazmat::PrehashVerifier;
use elliptic_curve::array::ArraySize;
use elliptic_curve::array::typenum::Unsigned;
use elliptic_curve::pkcs8::der::Decode;
use elliptic_curve::pkcs8::spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};
use elliptic_curve::pkcs8::{AssociatedOid, EncodePublicKey};
use elliptic_curve::point::AffinePoint;
use elliptic_curve::scalar::IsHigh;
use elliptic_curve::sec1::{FromSec1Point, ModulusSize, ToSec1Point};
use elliptic_curve::{CurveArithmetic, FieldBytesSize};

use crate::keys::{self, KeyBytes};
use crate::request::{require_digest, require_encoding, require_scheme};
use crate::{
    AlgorithmType, Descriptor, Error, HashAlgorithm, KeyFormat, KeyInfo, MessageInput,
    ParameterSet, Plugin, SignatureEncoding, SignatureScheme, VerifyRequest,
};

/// `id-ecPublicKey` (RFC 5480).
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// A curve and the policy its plugin applies.
pub trait EcdsaCurve {
    /// The RustCrypto curve type.
    type Curve: ::ecdsa::EcdsaCurve + CurveArithmetic + AssociatedOid;
    /// Plugin name (`ecdsa-p256`).
    const PLUGIN: &'static str;
    /// Plugin version.
    const VERSION: &'static str;
    /// Curve name as the host's catalogue spells it (`P-256`).
    const CURVE: &'static str;
    /// One line about the curve.
    const DESCRIPTION: &'static str;
    /// Hashes accepted; the first is the default.
    const HASHES: &'static [HashAlgorithm];
    /// Refuse high-S signatures (BIP 62/146 malleability rule).
    const LOW_S_ONLY: bool;

    /// Whether `signature` is valid for `key` over the digest `z`: the
    /// `ecdsa` crate's `verify_prehash` unless the curve brings a faster
    /// computation of the same answer.
    fn verify_prehash(
        key: &PublicKey<Self::Curve>,
        z: &[u8],
        signature: &Signature<Self::Curve>,
    ) -> bool {
        VerifyingKey::from(*key)
            .verify_prehash(z, signature)
            .is_ok()
    }
}

/// The ECDSA plugin for curve `C`.
pub struct Ecdsa<C>(PhantomData<C>);

const ENCODINGS: &[SignatureEncoding] = &[SignatureEncoding::Der, SignatureEncoding::P1363];
const SCHEMES: &[SignatureScheme] = &[SignatureScheme::Plain];

impl<C> Plugin for Ecdsa<C>
where
    C: EcdsaCurve,
    AffinePoint<C::Curve>: FromSec1Point<C::Curve> + ToSec1Point<C::Curve>,
    FieldBytesSize<C::Curve>: ModulusSize,
    MaxSize<C::Curve>: ArraySize,
    <FieldBytesSize<C::Curve> as Add>::Output: Add<MaxOverhead> + ArraySize,
{
    fn describe() -> Descriptor {
        let bits = curve_bits::<C::Curve>();
        Descriptor {
            name: C::PLUGIN.into(),
            version: C::VERSION.into(),
            algorithm: "ECDSA".into(),
            algorithm_type: AlgorithmType::Ecdsa,
            description: "Elliptic Curve Digital Signature Algorithm".into(),
            parameter_sets: vec![ParameterSet {
                name: C::CURVE.into(),
                description: C::DESCRIPTION.into(),
                parameters_json: format!(
                    "{{\"oid\":\"{}\",\"field_bits\":{bits},\"low_s_only\":{}}}",
                    C::Curve::OID,
                    C::LOW_S_ONLY
                ),
            }],
            key_formats: vec![KeyFormat::Pem, KeyFormat::Der, KeyFormat::Raw],
            input: MessageInput::Digest,
            hashes: C::HASHES.to_vec(),
            default_hash: C::HASHES.first().copied(),
            signature_encodings: ENCODINGS.to_vec(),
            schemes: SCHEMES.to_vec(),
            max_context_bytes: 0,
        }
    }

    fn parse_key(key: Vec<u8>, format: KeyFormat, curve: Option<String>) -> Result<KeyInfo, Error> {
        keys::check_curve_hint(curve.as_deref(), C::CURVE)?;
        let public_key = match keys::unwrap(key, format)? {
            KeyBytes::Spki(der) => decode_spki::<C>(&der)?,
            KeyBytes::Raw(point) => {
                PublicKey::<C::Curve>::from_sec1_bytes(&point).map_err(|_| {
                    Error::malformed_key(format!("not a valid {} SEC1 point", C::CURVE))
                })?
            }
        };
        let canonical = public_key
            .to_public_key_der()
            .map_err(|e| Error::Internal(format!("encoding the key: {e}")))?;
        Ok(keys::key_info(
            Some(C::CURVE),
            curve_bits::<C::Curve>(),
            canonical.as_bytes().to_vec(),
        ))
    }

    fn verify(request: VerifyRequest) -> Result<bool, Error> {
        require_digest(&request, C::HASHES)?;
        let encoding = require_encoding(&request, ENCODINGS)?;
        require_scheme(&request, SCHEMES)?;
        let key = decode_spki::<C>(&request.key)?;
        let signature = match encoding {
            SignatureEncoding::Der => {
                ecdsa_der::Signature::<C::Curve>::from_bytes(&request.signature)
                    .and_then(Signature::try_from)
                    .map_err(|_| {
                        Error::malformed_signature(
                            "not a strict DER ECDSA signature with r and s in [1, n-1]",
                        )
                    })?
            }
            _ => Signature::<C::Curve>::from_slice(&request.signature).map_err(|_| {
                Error::malformed_signature(format!(
                    "a P1363 signature is {} bytes with r and s in [1, n-1]",
                    2 * FieldBytesSize::<C::Curve>::USIZE
                ))
            })?,
        };
        if C::LOW_S_ONLY && bool::from(signature.s().is_high()) {
            return Err(Error::non_canonical_signature(
                "high-S signature; this curve's policy accepts only low-S (BIP 62)",
            ));
        }
        Ok(C::verify_prehash(&key, &request.message, &signature))
    }
}

/// The curve's size as the contract's `bits` means it: the bit length of
/// the group order (521 for P-521, whose field elements take 66 bytes).
fn curve_bits<Curve: CurveArithmetic>() -> u32 {
    use elliptic_curve::bigint::BitOps as _;
    Curve::ORDER.bit_width_vartime()
}

/// Decode an SPKI, telling a key on another curve from a malformed one.
fn decode_spki<C>(der: &[u8]) -> Result<PublicKey<C::Curve>, Error>
where
    C: EcdsaCurve,
    AffinePoint<C::Curve>: FromSec1Point<C::Curve> + ToSec1Point<C::Curve>,
    FieldBytesSize<C::Curve>: ModulusSize,
{
    let spki = SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|e| Error::malformed_key(format!("not a DER SubjectPublicKeyInfo: {e}")))?;
    if spki.algorithm.oid != EC_PUBLIC_KEY {
        return Err(Error::rejected_key(format!(
            "algorithm {} is not id-ecPublicKey",
            spki.algorithm.oid
        )));
    }
    let named_curve = spki
        .algorithm
        .parameters_oid()
        .map_err(|_| Error::rejected_key("EC parameters must be a named-curve OID"))?;
    if named_curve != C::Curve::OID {
        return Err(Error::rejected_key(format!(
            "the key is on curve {named_curve}, this plugin serves {} ({})",
            C::CURVE,
            C::Curve::OID
        )));
    }
    PublicKey::<C::Curve>::try_from(spki)
        .map_err(|_| Error::malformed_key(format!("not a valid point on {}", C::CURVE)))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct P256;
    impl EcdsaCurve for P256 {
        type Curve = p256::NistP256;
        const PLUGIN: &'static str = "test-p256";
        const VERSION: &'static str = "0.1.0";
        const CURVE: &'static str = "P-256";
        const DESCRIPTION: &'static str = "NIST P-256";
        const HASHES: &'static [HashAlgorithm] = &[HashAlgorithm::Sha256];
        const LOW_S_ONLY: bool = false;
    }

    struct P521;
    impl EcdsaCurve for P521 {
        type Curve = p521::NistP521;
        const PLUGIN: &'static str = "test-p521";
        const VERSION: &'static str = "0.1.0";
        const CURVE: &'static str = "P-521";
        const DESCRIPTION: &'static str = "NIST P-521";
        const HASHES: &'static [HashAlgorithm] = &[HashAlgorithm::Sha512];
        const LOW_S_ONLY: bool = false;
    }

    fn field_bits(descriptor: &Descriptor) -> Option<u64> {
        let parameters = &descriptor.parameter_sets.first()?.parameters_json;
        let rest = &parameters[parameters.find("\"field_bits\":")? + "\"field_bits\":".len()..];
        rest.split([',', '}']).next()?.parse().ok()
    }

    #[test]
    fn bits_are_the_order_length_not_the_field_bytes() {
        assert_eq!(curve_bits::<p256::NistP256>(), 256);
        assert_eq!(curve_bits::<p384::NistP384>(), 384);
        assert_eq!(curve_bits::<k256::Secp256k1>(), 256);
        // 66 bytes per field element, 521 bits of order.
        assert_eq!(FieldBytesSize::<p521::NistP521>::USIZE, 66);
        assert_eq!(curve_bits::<p521::NistP521>(), 521);
    }

    #[test]
    fn the_descriptor_and_key_info_report_the_order_length() {
        assert_eq!(field_bits(&Ecdsa::<P256>::describe()), Some(256));
        assert_eq!(field_bits(&Ecdsa::<P521>::describe()), Some(521));
        // A P-521 public key (the generator), as an uncompressed SEC1 point.
        let point = p521::AffinePoint::GENERATOR.to_sec1_point(false);
        let info = Ecdsa::<P521>::parse_key(point.as_bytes().to_vec(), KeyFormat::Raw, None)
            .map_err(|e| format!("{e:?}"));
        assert_eq!(info.map(|i| i.bits), Ok(521));
    }
}
