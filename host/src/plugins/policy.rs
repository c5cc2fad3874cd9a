//! Verification policy: what the catalogue says a verification on a curve
//! (or with a curveless algorithm such as RSA) means, independent of the
//! plugin that runs it.
//!
//! The catalogue rows carry a [`CurvePolicy`] or an [`AlgorithmPolicy`]
//! (`curves.policy`, `algorithms.policy`). Admission refuses a plugin whose
//! descriptor disagrees with them ([`disagreements`]) and derives its
//! conformance sets from them; the verification pipeline checks what public
//! data allows before any plugin is called ([`check_signature`]): a high-S
//! ECDSA signature on a low-S curve, an Ed25519 signature whose S is not
//! reduced. This module is pure (bytes in, verdict out) so that both sides
//! use the same code.

use serde::{Deserialize, Serialize};

use super::contract::{AlgorithmType, CurveSpec, Descriptor, HashAlgorithm, SignatureEncoding};
use super::{ContractError, SignatureScheme};

/// What a verification on one curve means.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurvePolicy {
    /// ECDSA: only signatures with S <= n/2 (BIP 62/146).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low_s_only: Option<bool>,
    /// ECDSA: the group order n, hex (big-endian).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    /// EdDSA: strict verification (canonical encodings, no small-order or
    /// mixed-order points, cofactorless equation; S < L).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    /// Hashes a request may name; absent: any the plugin declares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashes: Option<Vec<HashAlgorithm>>,
    /// Signature encodings a request may use; absent: any the plugin
    /// declares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encodings: Option<Vec<SignatureEncoding>>,
}

/// What a verification with a curveless algorithm (RSA) means.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlgorithmPolicy {
    /// Smallest modulus, in bits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_modulus_bits: Option<u32>,
    /// Largest modulus, in bits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_modulus_bits: Option<u32>,
    /// Smallest public exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_exponent: Option<u64>,
    /// Largest public exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_exponent: Option<u64>,
    /// Signature schemes a request may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schemes: Option<Vec<SignatureScheme>>,
    /// Hashes a request may name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashes: Option<Vec<HashAlgorithm>>,
}

/// Group orders of the curves Sigil knows by name (hex, big-endian), for
/// the policy of a curve first catalogued by the plugin that serves it.
const KNOWN_ORDERS: &[(&str, &str)] = &[
    (
        "secp256k1",
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
    ),
    (
        "P-256",
        "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
    ),
    (
        "P-384",
        "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
    ),
    (
        "P-521",
        "01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409",
    ),
    // RFC 5639, sections 3.4, 3.6 and 3.7 (q).
    (
        "brainpoolP256r1",
        "a9fb57dba1eea9bc3e660a909d838d718c397aa3b561a6f7901e0e82974856a7",
    ),
    (
        "brainpoolP384r1",
        "8cb91e82a3386d280f5d6f7e50e641df152f7109ed5456b31f166e6cac0425a7cf3ab6af6b7fc3103b883202e9046565",
    ),
    (
        "brainpoolP512r1",
        "aadd9db8dbe9c48b3fd4e6ae33c9fc07cb308db3b3c9d20ed6639cca70330870553e5c414ca92619418661197fac10471db1d381085ddaddb58796829ca90069",
    ),
];

/// The order of a curve Sigil knows by name.
pub fn known_order(curve: &str) -> Option<&'static str> {
    KNOWN_ORDERS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(curve))
        .map(|(_, order)| *order)
}

/// What the descriptor's curve parameters say about low-S (absent: no).
fn declared_low_s(spec: &CurveSpec) -> bool {
    spec.parameters.get("low_s_only").and_then(|v| v.as_bool()) == Some(true)
}

/// What the descriptor's curve parameters say about strict EdDSA.
fn declared_strict(spec: &CurveSpec) -> bool {
    spec.parameters.get("verification").and_then(|v| v.as_str()) == Some("strict")
}

impl CurvePolicy {
    /// The policy a curve gets when the first plugin serving it catalogues
    /// it: what that plugin declares, with the order where Sigil knows it.
    pub fn proposed_by(descriptor: &Descriptor, spec: &CurveSpec) -> Self {
        let mut policy = CurvePolicy {
            hashes: (!descriptor.hashes.is_empty()).then(|| descriptor.hashes.clone()),
            encodings: Some(descriptor.signature_encodings.clone()),
            ..CurvePolicy::default()
        };
        match descriptor.algorithm_type {
            AlgorithmType::Ecdsa => {
                policy.low_s_only = Some(declared_low_s(spec));
                policy.order = known_order(&spec.name).map(str::to_owned);
            }
            AlgorithmType::EdDsa => policy.strict = Some(declared_strict(spec)),
            AlgorithmType::Rsa | AlgorithmType::Other => {}
        }
        policy
    }

    /// Low-S only.
    pub fn low_s(&self) -> bool {
        self.low_s_only == Some(true)
    }

    /// Strict EdDSA.
    pub fn is_strict(&self) -> bool {
        self.strict == Some(true)
    }

    /// The group order as big-endian bytes without leading zeros, if the
    /// policy names a well-formed one.
    pub fn order_bytes(&self) -> Option<Vec<u8>> {
        let order = self.order.as_deref()?;
        let padded = if order.len() % 2 == 1 {
            format!("0{order}")
        } else {
            order.to_owned()
        };
        let bytes = hex::decode(padded).ok()?;
        let trimmed = strip_zeros(&bytes).to_vec();
        (!trimmed.is_empty()).then_some(trimmed)
    }
}

/// Everything in `declared` that `allowed` (if it constrains) does not
/// allow.
fn outside<T: PartialEq + Copy>(declared: &[T], allowed: Option<&Vec<T>>) -> Vec<T> {
    match allowed {
        Some(allowed) => declared
            .iter()
            .copied()
            .filter(|d| !allowed.contains(d))
            .collect(),
        None => Vec::new(),
    }
}

fn names<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where a plugin's descriptor disagrees with the catalogue: one sentence
/// per disagreement (empty: it agrees). `curves` pairs each curve the
/// plugin serves with its catalogue policy (absent: a new curve, which
/// takes the plugin's proposal); `algorithm` is the algorithm row's policy.
pub fn disagreements(
    descriptor: &Descriptor,
    curves: &[(&CurveSpec, Option<&CurvePolicy>)],
    algorithm: Option<&AlgorithmPolicy>,
) -> Vec<String> {
    let mut found = Vec::new();
    for (spec, policy) in curves {
        let proposed;
        let policy = match policy {
            Some(policy) => *policy,
            None => {
                proposed = CurvePolicy::proposed_by(descriptor, spec);
                &proposed
            }
        };
        // What the policy says applies, whatever type the plugin claims.
        let curve = &spec.name;
        let declared = declared_low_s(spec);
        if let Some(required) = policy.low_s_only
            && required != declared
        {
            found.push(format!(
                "the plugin declares low_s_only {declared} on {curve}; the catalogue says {required}"
            ));
        }
        if policy.low_s() && policy.order_bytes().is_none() {
            found.push(format!(
                "{curve} is low-S only but its catalogue row names no group order, so the host cannot enforce it; add policy.order first"
            ));
        }
        if policy.is_strict() && !declared_strict(spec) {
            found.push(format!(
                "the plugin does not declare strict verification on {curve}; the catalogue requires it"
            ));
        }
        let hashes = outside(&descriptor.hashes, policy.hashes.as_ref());
        if !hashes.is_empty() {
            found.push(format!(
                "the plugin accepts hashes the catalogue does not allow on {curve}: {}",
                names(&hashes)
            ));
        }
        let encodings = outside(&descriptor.signature_encodings, policy.encodings.as_ref());
        if !encodings.is_empty() {
            found.push(format!(
                "the plugin accepts signature encodings the catalogue does not allow on {curve}: {}",
                names(&encodings)
            ));
        }
    }
    if let Some(policy) = algorithm {
        let algorithm = &descriptor.algorithm;
        let hashes = outside(&descriptor.hashes, policy.hashes.as_ref());
        if !hashes.is_empty() {
            found.push(format!(
                "the plugin accepts hashes the catalogue does not allow for {algorithm}: {}",
                names(&hashes)
            ));
        }
        let schemes = outside(&descriptor.schemes, policy.schemes.as_ref());
        if !schemes.is_empty() {
            found.push(format!(
                "the plugin accepts signature schemes the catalogue does not allow for {algorithm}: {}",
                names(&schemes)
            ));
        }
    }
    found
}

/// The order of Ed25519's prime subgroup, L = 2^252 +
/// 27742317777372353535851937790883648493, little-endian.
const ED25519_L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
];

/// Whether `curve` names Ed25519's curve.
pub fn is_ed25519(curve: &str) -> bool {
    ["Curve25519", "Ed25519", "edwards25519"]
        .iter()
        .any(|n| curve.eq_ignore_ascii_case(n))
}

/// The checks on a signature that need only public data, for `curve`
/// whose policy is `policy` (the policy, not the plugin, says which apply):
/// on a low-S curve the signature must be strict DER or P1363 with
/// S <= n/2; on strict Ed25519 it must be 64 bytes with S < L. Other
/// curves pass.
pub fn check_signature(
    policy: &CurvePolicy,
    curve: &str,
    encoding: SignatureEncoding,
    signature: &[u8],
) -> Result<(), ContractError> {
    if policy.low_s() {
        let order = policy.order_bytes().ok_or_else(|| {
            ContractError::Unsupported(
                "the curve is low-S only but its catalogue row names no group order".into(),
            )
        })?;
        let s = ecdsa_s(signature, encoding, order.len()).ok_or_else(|| {
            ContractError::MalformedSignature("not a strict DER or P1363 ECDSA signature".into())
        })?;
        if is_high(s, &order) {
            return Err(ContractError::NonCanonicalSignature(
                "high-S signature; this curve's policy accepts only low-S (BIP 62)".into(),
            ));
        }
    }
    if policy.is_strict() && is_ed25519(curve) {
        let Some(s) = signature.get(32..).filter(|_| signature.len() == 64) else {
            return Err(ContractError::MalformedSignature(
                "an Ed25519 signature is 64 bytes".into(),
            ));
        };
        if !ed25519_s_canonical(s) {
            return Err(ContractError::NonCanonicalSignature(
                "S is not reduced modulo the group order".into(),
            ));
        }
    }
    Ok(())
}

/// S (32 bytes, little-endian) is below L.
fn ed25519_s_canonical(s: &[u8]) -> bool {
    // Compare from the most significant byte.
    for (byte, limit) in s.iter().rev().zip(ED25519_L.iter().rev()) {
        if byte != limit {
            return byte < limit;
        }
    }
    false
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// Compare big-endian unsigned numbers.
fn compare(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let (a, b) = (strip_zeros(a), strip_zeros(b));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// S > n/2 (n odd: S > (n - 1) / 2).
fn is_high(s: &[u8], order: &[u8]) -> bool {
    let mut half = Vec::with_capacity(order.len());
    let mut carry = 0u8;
    for byte in order {
        half.push((byte >> 1) | carry);
        carry = (byte & 1) << 7;
    }
    compare(s, &half) == std::cmp::Ordering::Greater
}

/// n - s, big-endian, for s < n.
fn subtract(n: &[u8], s: &[u8]) -> Vec<u8> {
    let s = strip_zeros(s);
    let mut out = n.to_vec();
    let mut borrow = 0i16;
    for i in 0..out.len() {
        let at = out.len() - 1 - i;
        let sub = if i < s.len() {
            i16::from(s[s.len() - 1 - i])
        } else {
            0
        };
        let mut value = i16::from(out[at]) - sub - borrow;
        borrow = 0;
        if value < 0 {
            value += 256;
            borrow = 1;
        }
        out[at] = u8::try_from(value).unwrap_or(0);
    }
    strip_zeros(&out).to_vec()
}

/// S of an ECDSA signature: strict DER (minimal lengths and integers,
/// positive, nothing after) or P1363 (two scalars of the order's width).
fn ecdsa_s(signature: &[u8], encoding: SignatureEncoding, order_len: usize) -> Option<&[u8]> {
    match encoding {
        SignatureEncoding::P1363 => {
            (signature.len() == 2 * order_len).then(|| &signature[order_len..])
        }
        SignatureEncoding::Der => der_integers(signature).map(|(_, s)| s),
        SignatureEncoding::Raw => None,
    }
}

/// A DER length at `at`: (length, bytes it took).
fn der_length(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    let first = *bytes.get(at)?;
    match first {
        0..=0x7f => Some((usize::from(first), 1)),
        0x81 => {
            let len = *bytes.get(at + 1)?;
            (len >= 0x80).then_some((usize::from(len), 2))
        }
        _ => None,
    }
}

/// One strict DER INTEGER at `at`: (its magnitude, where the next item
/// starts).
fn der_integer(bytes: &[u8], at: usize) -> Option<(&[u8], usize)> {
    if *bytes.get(at)? != 0x02 {
        return None;
    }
    let (len, took) = der_length(bytes, at + 1)?;
    let start = at + 1 + took;
    let value = bytes.get(start..start + len)?;
    let (&first, rest) = value.split_first()?;
    if first & 0x80 != 0 {
        return None; // negative
    }
    if first == 0 && rest.first().is_none_or(|b| b & 0x80 == 0) {
        return None; // not minimal (or zero)
    }
    Some((strip_zeros(value), start + len))
}

/// (r, s) of a strict DER ECDSA signature.
fn der_integers(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    if *bytes.first()? != 0x30 {
        return None;
    }
    let (len, took) = der_length(bytes, 1)?;
    if 1 + took + len != bytes.len() {
        return None;
    }
    let (r, next) = der_integer(bytes, 1 + took)?;
    let (s, end) = der_integer(bytes, next)?;
    (end == bytes.len()).then_some((r, s))
}

fn der_encode_integer(out: &mut Vec<u8>, magnitude: &[u8]) {
    let magnitude = strip_zeros(magnitude);
    let pad = magnitude.first().is_none_or(|b| b & 0x80 != 0);
    out.push(0x02);
    out.push(u8::try_from(magnitude.len() + usize::from(pad)).unwrap_or(0));
    if pad {
        out.push(0);
    }
    out.extend_from_slice(magnitude);
}

/// The malleated twin of a DER ECDSA signature: (r, n - s). `None` if the
/// signature is not strict DER or S is not below n.
pub fn high_s_twin_der(signature: &[u8], order: &[u8]) -> Option<Vec<u8>> {
    let (r, s) = der_integers(signature)?;
    if compare(s, order) != std::cmp::Ordering::Less {
        return None;
    }
    let twin = subtract(order, s);
    let mut body = Vec::new();
    der_encode_integer(&mut body, r);
    der_encode_integer(&mut body, &twin);
    let mut out = vec![0x30];
    if body.len() >= 0x80 {
        out.push(0x81);
    }
    out.push(u8::try_from(body.len()).ok()?);
    out.extend(body);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECP256K1_N: &str = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";

    fn secp256k1() -> CurvePolicy {
        CurvePolicy {
            low_s_only: Some(true),
            order: Some(SECP256K1_N.into()),
            ..CurvePolicy::default()
        }
    }

    fn der(r: &[u8], s: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        der_encode_integer(&mut body, r);
        der_encode_integer(&mut body, s);
        let mut out = vec![0x30, u8::try_from(body.len()).expect("short")];
        out.extend(body);
        out
    }

    #[test]
    fn s_at_half_the_order_is_low_and_one_above_is_high() {
        let n = hex::decode(SECP256K1_N).expect("hex");
        let half = hex::decode("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0")
            .expect("hex");
        let above = hex::decode("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a1")
            .expect("hex");
        assert!(!is_high(&half, &n));
        assert!(is_high(&above, &n));
        let policy = secp256k1();
        let ecdsa = "secp256k1";
        assert!(check_signature(&policy, ecdsa, SignatureEncoding::Der, &der(&[1], &half)).is_ok());
        let refused = check_signature(&policy, ecdsa, SignatureEncoding::Der, &der(&[1], &above));
        assert!(matches!(
            refused,
            Err(ContractError::NonCanonicalSignature(_))
        ));
        let mut p1363 = vec![0u8; 31];
        p1363.push(1);
        p1363.extend(&above);
        let refused = check_signature(&policy, ecdsa, SignatureEncoding::P1363, &p1363);
        assert!(matches!(
            refused,
            Err(ContractError::NonCanonicalSignature(_))
        ));
        // The same bytes on a curve without the rule pass.
        let p256 = CurvePolicy {
            low_s_only: Some(false),
            ..policy.clone()
        };
        assert!(check_signature(&p256, ecdsa, SignatureEncoding::Der, &der(&[1], &above)).is_ok());
    }

    #[test]
    fn the_twin_of_a_signature_has_n_minus_s_and_flips_between_low_and_high() {
        let n = hex::decode(SECP256K1_N).expect("hex");
        let s = hex::decode("0123").expect("hex");
        let signature = der(&[0x80, 1], &s);
        let twin = high_s_twin_der(&signature, &n).expect("twin");
        let (r, high) = der_integers(&twin).expect("strict DER");
        assert_eq!(r, &[0x80, 1]);
        assert!(is_high(high, &n));
        assert_eq!(subtract(&n, high), s);
        let back = high_s_twin_der(&twin, &n).expect("twin of the twin");
        assert_eq!(back, signature);
    }

    #[test]
    fn non_strict_der_is_refused_on_a_low_s_curve() {
        let policy = secp256k1();
        let good = der(&[1], &[1]);
        let mut long_form = vec![0x30, 0x81, good[1]];
        long_form.extend(&good[2..]);
        let mut padded = good.clone();
        padded[1] += 1;
        padded[3] += 1;
        padded.insert(4, 0);
        let mut trailing = good.clone();
        trailing.push(0);
        for bad in [long_form, padded, trailing, vec![], vec![0x30, 0]] {
            let refused = check_signature(&policy, "secp256k1", SignatureEncoding::Der, &bad);
            assert!(
                matches!(refused, Err(ContractError::MalformedSignature(_))),
                "{bad:02x?}"
            );
        }
    }

    #[test]
    fn ed25519_s_must_be_below_l() {
        let policy = CurvePolicy {
            strict: Some(true),
            ..CurvePolicy::default()
        };
        let eddsa = "Curve25519";
        let mut signature = vec![0u8; 32];
        signature.extend(ED25519_L);
        let refused = check_signature(&policy, eddsa, SignatureEncoding::Raw, &signature);
        assert!(matches!(
            refused,
            Err(ContractError::NonCanonicalSignature(_))
        ));
        signature[32] -= 1; // L - 1
        assert!(check_signature(&policy, eddsa, SignatureEncoding::Raw, &signature).is_ok());
        let refused = check_signature(&policy, eddsa, SignatureEncoding::Raw, &signature[..63]);
        assert!(matches!(refused, Err(ContractError::MalformedSignature(_))));
        // Not strict: the plugin decides.
        signature[32] += 1;
        let lax = CurvePolicy::default();
        assert!(check_signature(&lax, eddsa, SignatureEncoding::Raw, &signature).is_ok());
    }
}
