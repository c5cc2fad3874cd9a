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

use core::marker::PhantomData;
use core::ops::Add;

use ::ecdsa::der::{self as ecdsa_der, MaxOverhead, MaxSize};
use ::ecdsa::signature::hazmat::PrehashVerifier;
use ::ecdsa::{Signature, VerifyingKey};
use elliptic_curve::array::ArraySize;
use elliptic_curve::array::typenum::Unsigned;
use elliptic_curve::pkcs8::der::Decode;
use elliptic_curve::pkcs8::spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};
use elliptic_curve::pkcs8::{AssociatedOid, EncodePublicKey};
use elliptic_curve::point::AffinePoint;
use elliptic_curve::scalar::IsHigh;
use elliptic_curve::sec1::{FromSec1Point, ModulusSize, ToSec1Point};
use elliptic_curve::{CurveArithmetic, FieldBytesSize, PublicKey};

use crate::keys::{self, KeyBytes};
use crate::request::{require_digest, require_encoding, require_scheme};
use crate::{
    AlgorithmType, CurveInfo, Descriptor, Error, HashAlgorithm, KeyFormat, KeyInfo, MessageInput,
    Plugin, SignatureEncoding, SignatureScheme, VerifyRequest,
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
            curves: vec![CurveInfo {
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
        let key: VerifyingKey<C::Curve> = decode_spki::<C>(&request.key)?.into();
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
        Ok(key.verify_prehash(&request.message, &signature).is_ok())
    }
}

fn curve_bits<Curve: CurveArithmetic>() -> u32 {
    u32::try_from(FieldBytesSize::<Curve>::USIZE * 8).unwrap_or(u32::MAX)
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
