//! RFC 8032's verification equation `[S]B = R + [k]A` for Ed448, checked
//! exactly as ed448-goldilocks' `verify_ctx` checks it (the same refusals,
//! in the same order), but computed as one variable-time double
//! multiplication `[S]B - [k]A` over width-5 non-adjacent forms instead of
//! two constant-time multiplications: every input of a verification (key,
//! message, signature) is public. About half the point operations.

use sigil_plugin_sdk::straus;

use ed448_goldilocks::shake::{ExtendableOutput, Shake256, Update, XofReader};
use ed448_goldilocks::{
    EdwardsPoint, EdwardsScalar, EdwardsScalarBytes, PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH,
    WideEdwardsScalarBytes,
};

/// RFC 8032's `dom4` prefix.
const DOM4: &[u8; 8] = b"SigEd448";

/// Whether `signature` (`R || S`) is valid for `key` (decoded from
/// `key_bytes` and checked by the caller) on `message` with `context` (at
/// most 255 bytes), `r` being `R` decoded and checked by the caller.
pub fn verify(
    key: &EdwardsPoint,
    key_bytes: &[u8; PUBLIC_KEY_LENGTH],
    r: &EdwardsPoint,
    signature: &[u8; SIGNATURE_LENGTH],
    context: &[u8],
    message: &[u8],
) -> bool {
    let Ok(context_len) = u8::try_from(context.len()) else {
        return false;
    };
    let (r_bytes, s_bytes) = signature.split_at(PUBLIC_KEY_LENGTH);
    // The crate's refusals, in its order: S's 57th byte, S reduced, R and
    // S not trivial (the key's are the caller's).
    if s_bytes[PUBLIC_KEY_LENGTH - 1] != 0 {
        return false;
    }
    let mut s_repr = EdwardsScalarBytes::default();
    s_repr.copy_from_slice(s_bytes);
    let Some(s) = Option::<EdwardsScalar>::from(EdwardsScalar::from_canonical_bytes(&s_repr))
    else {
        return false;
    };
    if *r == EdwardsPoint::IDENTITY || bool::from(s.is_zero()) {
        return false;
    }
    // k = SHAKE256(dom4(0, context) || R || A || M, 114) mod ℓ.
    let mut wide = WideEdwardsScalarBytes::default();
    let mut hasher = Shake256::default();
    hasher.update(DOM4);
    hasher.update(&[0, context_len]);
    hasher.update(context);
    hasher.update(r_bytes);
    hasher.update(key_bytes);
    hasher.update(message);
    hasher.finalize_xof().read(&mut wide);
    let k = EdwardsScalar::from_bytes_mod_order_wide(&wide);
    double_mul(&s, &EdwardsPoint::GENERATOR, &k, &key.negate()) == *r
}

/// `[a]P + [b]Q` in variable time (the SDK's Straus method).
pub(crate) fn double_mul(
    a: &EdwardsScalar,
    p: &EdwardsPoint,
    b: &EdwardsScalar,
    q: &EdwardsPoint,
) -> EdwardsPoint {
    straus::double_mul(&a.to_bytes(), &Edwards(*p), &b.to_bytes(), &Edwards(*q)).0
}

/// An Edwards point under the SDK's [`straus::Point`].
#[derive(Clone, Copy)]
struct Edwards(EdwardsPoint);

impl straus::Point for Edwards {
    fn identity() -> Self {
        Edwards(EdwardsPoint::IDENTITY)
    }
    fn double(&self) -> Self {
        Edwards(self.0.double())
    }
    fn add(&self, other: &Self) -> Self {
        Edwards(self.0.add(&other.0))
    }
    fn negate(&self) -> Self {
        Edwards(self.0.negate())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed448_goldilocks::{Signature, SigningKey, VerifyingKey};

    fn scalar(seed: u8) -> EdwardsScalar {
        let mut wide = WideEdwardsScalarBytes::default();
        let mut hasher = Shake256::default();
        hasher.update(&[seed]);
        hasher.finalize_xof().read(&mut wide);
        EdwardsScalar::from_bytes_mod_order_wide(&wide)
    }

    #[test]
    fn double_multiplication_is_the_sum_of_two_multiplications() {
        let base = EdwardsPoint::GENERATOR;
        for seed in 0..24u8 {
            let (a, b) = (scalar(seed), scalar(seed.wrapping_add(100)));
            let q = EdwardsPoint::GENERATOR * scalar(seed.wrapping_add(200));
            assert_eq!(
                double_mul(&a, &base, &b, &q),
                base * a + q * b,
                "seed {seed}"
            );
        }
        let zero = EdwardsScalar::ZERO;
        assert_eq!(
            double_mul(&zero, &base, &zero, &base),
            EdwardsPoint::IDENTITY
        );
        let minus_one = -EdwardsScalar::ONE;
        assert_eq!(
            double_mul(&minus_one, &base, &EdwardsScalar::ONE, &base),
            EdwardsPoint::IDENTITY
        );
    }

    /// Big-endian hex as little-endian bytes.
    fn hex_le(hex: &str) -> Vec<u8> {
        let mut bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect();
        bytes.reverse();
        bytes
    }

    /// The crate's answer and this module's, for a signature and for
    /// altered copies of it.
    fn agree(
        key: &[u8; PUBLIC_KEY_LENGTH],
        signature: &[u8; SIGNATURE_LENGTH],
        context: &[u8],
        message: &[u8],
    ) -> bool {
        let crate_says = VerifyingKey::from_bytes(key).is_ok_and(|key| {
            key.verify_ctx(&Signature::from_bytes(signature), context, message)
                .is_ok()
        });
        let mut r_bytes = [0u8; PUBLIC_KEY_LENGTH];
        r_bytes.copy_from_slice(&signature[..PUBLIC_KEY_LENGTH]);
        let ours = match (
            crate::key_point(key),
            crate::canonical_torsion_free(&r_bytes),
        ) {
            (Ok(point), Some(r)) => verify(&point, key, &r, signature, context, message),
            _ => false,
        };
        // The plugin also requires canonical encodings, which the crate does not.
        let crate_says = crate_says
            && crate::key_point(key).is_ok()
            && crate::canonical_torsion_free(&r_bytes).is_some();
        assert_eq!(
            ours, crate_says,
            "key {key:02x?} signature {signature:02x?}"
        );
        ours
    }

    #[test]
    fn verification_answers_as_the_crate_does() {
        for seed in 0..16u8 {
            let signing = SigningKey::from(&ed448_goldilocks::SecretKey::from([seed; 57]));
            let key = signing.verifying_key().to_bytes();
            let context = vec![seed; usize::from(seed) * 7];
            let message = vec![seed.wrapping_mul(31); usize::from(seed) * 13];
            let signature = signing
                .sign_ctx(&context, &message)
                .expect("sign")
                .to_bytes();
            assert!(agree(&key, &signature, &context, &message), "seed {seed}");
            let mut other_message = message.clone();
            other_message.push(1);
            assert!(!agree(&key, &signature, &context, &other_message));
            assert!(!agree(&key, &signature, &[seed, 1], &message));
            for position in [0, 30, 56, 57, 90, 112, 113] {
                let mut altered = signature;
                altered[position] ^= 0x01;
                agree(&key, &altered, &context, &message);
            }
            // S + ℓ: the same residue, not reduced.
            let mut unreduced = signature;
            let s = EdwardsScalar::from_canonical_bytes(
                &EdwardsScalarBytes::try_from(&signature[57..]).expect("57 bytes"),
            );
            assert!(bool::from(s.is_some()));
            // ℓ, RFC 8032 section 5.2, little-endian.
            let mut order = hex_le(
                "3fffffffffffffffffffffffffffffffffffffffffffffffffffffff7cca23e9c44edb49aed63690216cc2728dc58f552378c292ab5844f3",
            );
            order.resize(56, 0);
            let mut carry = 0u16;
            for i in 0..56 {
                let sum = u16::from(unreduced[57 + i]) + u16::from(order[i]) + carry;
                unreduced[57 + i] = sum as u8;
                carry = sum >> 8;
            }
            unreduced[113] = carry as u8;
            assert!(!agree(&key, &unreduced, &context, &message));
            let other_key = SigningKey::from(&ed448_goldilocks::SecretKey::from([seed ^ 0xff; 57]))
                .verifying_key()
                .to_bytes();
            assert!(!agree(&other_key, &signature, &context, &message));
        }
    }
}
