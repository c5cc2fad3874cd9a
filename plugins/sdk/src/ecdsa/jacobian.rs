//! ECDSA's verification equation for the curves of the `primeorder`
//! crate (P-256, P-384, P-521, Brainpool), checked as the `ecdsa` crate's
//! `verify_prehashed` checks it but computed in variable time, in Jacobian
//! coordinates, with one Straus double multiplication.
//!
//! Every input of a verification is public, and the crate's complete
//! projective formulas (made for constant-time signing) cost a doubling
//! about 13 multiplications and 21 additions of field elements; Jacobian
//! doubling costs 8 multiplications and about 12 additions where `a = -3`
//! (dbl-2001-b), 10 where `a` is general (dbl-2007-bl). Doublings are
//! nearly all of a verification's point operations.

use elliptic_curve::bigint::{BitOps as _, Encoding as _};
use elliptic_curve::ops::{Invert as _, Reduce};
use elliptic_curve::point::AffineCoordinates as _;
use elliptic_curve::scalar::IsHigh as _;
use elliptic_curve::{Field, FieldBytes, PrimeField, ProjectivePoint, PublicKey, Scalar};
use primeorder::PrimeCurveParams;

use ::ecdsa::{EcdsaCurve, Signature};

use crate::straus;

/// A point `(X : Y : Z)` standing for `(X/Z², Y/Z³)`, or the point at
/// infinity. The facts every operation needs are kept beside the
/// coordinates rather than computed per operation: for some fields (P-521's)
/// comparing elements means encoding both.
#[derive(Clone, Copy)]
struct Jacobian<C: PrimeCurveParams> {
    x: C::FieldElement,
    y: C::FieldElement,
    z: C::FieldElement,
    /// The point at infinity (its coordinates and the flags below mean
    /// nothing: doubling returns it as it is, adding returns the other
    /// operand).
    infinity: bool,
    /// `Z = 1` (a point read from affine coordinates): additions with it
    /// take the cheaper mixed formula.
    z_is_one: bool,
    /// The curve's `a` is `-3` (the NIST curves): the cheaper doubling.
    /// Worked out once per verification ([`a_is_minus_3`]) and carried
    /// from the affine points into every point computed from them.
    a_is_minus_3: bool,
}

/// Whether the curve's `a` is `-3`: a conversion and a comparison of field
/// elements (on P-521 an encoding of both), so once per verification.
fn a_is_minus_3<C: PrimeCurveParams>() -> bool {
    C::EQUATION_A == -C::FieldElement::from(3)
}

impl<C: PrimeCurveParams> Jacobian<C> {
    fn from_affine(x: C::FieldElement, y: C::FieldElement, a_is_minus_3: bool) -> Self {
        Self {
            x,
            y,
            z: C::FieldElement::ONE,
            infinity: false,
            z_is_one: true,
            a_is_minus_3,
        }
    }

    /// The affine x-coordinate, or `None` at infinity.
    fn affine_x(&self) -> Option<C::FieldElement> {
        if self.infinity {
            return None;
        }
        let z_inv = Option::<C::FieldElement>::from(Field::invert(&self.z))?;
        Some(self.x * z_inv.square())
    }

    /// A point computed from this one (its `Z` is no longer 1).
    fn with(&self, x: C::FieldElement, y: C::FieldElement, z: C::FieldElement) -> Self {
        Self {
            x,
            y,
            z,
            z_is_one: false,
            ..*self
        }
    }

    /// `self + other` where `other` has `Z = 1` (madd-2007-bl, 7M + 4S);
    /// neither is at infinity.
    fn add_affine(&self, other: &Self) -> Self {
        let z1z1 = self.z.square();
        let u2 = other.x * z1z1;
        let s2 = other.y * self.z * z1z1;
        let h = u2 - self.x;
        let r = (s2 - self.y).double();
        if bool::from(h.is_zero()) {
            return if bool::from(r.is_zero()) {
                straus::Point::double(self)
            } else {
                straus::Point::identity()
            };
        }
        let hh = h.square();
        let i = hh.double().double();
        let j = h * i;
        let v = self.x * i;
        let x3 = r.square() - j - v.double();
        let y3 = r * (v - x3) - (self.y * j).double();
        let z3 = (self.z + h).square() - z1z1 - hh;
        self.with(x3, y3, z3)
    }
}

/// `3x`.
fn triple<F: Field>(x: F) -> F {
    x.double() + x
}

impl<C: PrimeCurveParams> straus::Point for Jacobian<C> {
    fn identity() -> Self {
        Self {
            x: C::FieldElement::ONE,
            y: C::FieldElement::ONE,
            z: C::FieldElement::ZERO,
            infinity: true,
            z_is_one: false,
            a_is_minus_3: false,
        }
    }

    fn double(&self) -> Self {
        // A prime-order curve has no point of order 2 (none has Y = 0), so
        // only the point at infinity doubles to itself.
        if self.infinity {
            return *self;
        }
        if self.a_is_minus_3 {
            // dbl-2001-b, 3M + 5S.
            let delta = self.z.square();
            let gamma = self.y.square();
            let beta = self.x * gamma;
            let alpha = triple((self.x - delta) * (self.x + delta));
            let four_beta = beta.double().double();
            let x3 = alpha.square() - four_beta.double();
            let z3 = (self.y + self.z).square() - gamma - delta;
            let y3 = alpha * (four_beta - x3) - gamma.square().double().double().double();
            self.with(x3, y3, z3)
        } else {
            // dbl-2007-bl, 1M + 8S + one multiplication by a.
            let xx = self.x.square();
            let yy = self.y.square();
            let yyyy = yy.square();
            let zz = self.z.square();
            let s = ((self.x + yy).square() - xx - yyyy).double();
            let m = triple(xx) + C::EQUATION_A * zz.square();
            let x3 = m.square() - s.double();
            let y3 = m * (s - x3) - yyyy.double().double().double();
            let z3 = (self.y + self.z).square() - yy - zz;
            self.with(x3, y3, z3)
        }
    }

    fn add(&self, other: &Self) -> Self {
        if self.infinity {
            return *other;
        }
        if other.infinity {
            return *self;
        }
        if other.z_is_one {
            return self.add_affine(other);
        }
        if self.z_is_one {
            return other.add_affine(self);
        }
        // add-2007-bl, 11M + 5S.
        let z1z1 = self.z.square();
        let z2z2 = other.z.square();
        let u1 = self.x * z2z2;
        let u2 = other.x * z1z1;
        let s1 = self.y * other.z * z2z2;
        let s2 = other.y * self.z * z1z1;
        let h = u2 - u1;
        let r = (s2 - s1).double();
        if bool::from(h.is_zero()) {
            // Same x: the same point (double it) or opposite ones.
            return if bool::from(r.is_zero()) {
                self.double()
            } else {
                Self::identity()
            };
        }
        let i = h.double().square();
        let j = h * i;
        let v = u1 * i;
        let x3 = r.square() - j - v.double();
        let y3 = r * (v - x3) - (s1 * j).double();
        let z3 = ((self.z + other.z).square() - z1z1 - z2z2) * h;
        self.with(x3, y3, z3)
    }

    fn negate(&self) -> Self {
        Self {
            y: -self.y,
            ..*self
        }
    }
}

/// Whether `signature` is valid for `key` over the digest `z`, with the
/// answer of `ecdsa::hazmat::verify_prehashed` (whose steps these are).
pub fn verify_prehash<C>(key: &PublicKey<C>, z: &[u8], signature: &Signature<C>) -> bool
where
    C: PrimeCurveParams + EcdsaCurve,
{
    let (gx, gy) = C::GENERATOR;
    let a_is_minus_3 = a_is_minus_3::<C>();
    let generator = straus::odd_multiples_for(
        &Jacobian::<C>::from_affine(gx, gy, a_is_minus_3),
        straus::WINDOW,
    );
    verify_with_generator(key, z, signature, &generator, straus::WINDOW, a_is_minus_3)
}

/// [`verify_prehash`] with the generator's odd multiples `G, 3G, …` read
/// from `table` (affine `x || y`, big-endian, as [`generator_table`] makes
/// it) for a NAF of width `window`: no table built per call, fewer and
/// cheaper additions for `u1`. A table whose points are not the curve's
/// (a programming error) gives wrong answers, which the plugin's test of
/// its table rules out.
pub fn verify_prehash_with_generator_table<C>(
    key: &PublicKey<C>,
    z: &[u8],
    signature: &Signature<C>,
    table: &[u8],
    window: usize,
) -> bool
where
    C: PrimeCurveParams + EcdsaCurve,
{
    let size = FieldBytes::<C>::default().len();
    let a_is_minus_3 = a_is_minus_3::<C>();
    let generator: Option<Vec<Jacobian<C>>> = table
        .chunks_exact(2 * size)
        .take(1 << (window - 2))
        .map(|point| {
            let (x, y) = point.split_at(size);
            let x = Option::from(C::FieldElement::from_repr(
                FieldBytes::<C>::try_from(x).ok()?,
            ))?;
            let y = Option::from(C::FieldElement::from_repr(
                FieldBytes::<C>::try_from(y).ok()?,
            ))?;
            Some(Jacobian::from_affine(x, y, a_is_minus_3))
        })
        .collect();
    match generator {
        Some(generator) if generator.len() == 1 << (window - 2) => {
            verify_with_generator(key, z, signature, &generator, window, a_is_minus_3)
        }
        _ => false,
    }
}

/// The generator's odd multiples `G, 3G, …` for a NAF of width `window`,
/// as [`verify_prehash_with_generator_table`] reads them (for a test that
/// holds a plugin's baked table to the curve).
pub fn generator_table<C: PrimeCurveParams>(window: usize) -> Vec<u8> {
    let g = ProjectivePoint::<C>::GENERATOR;
    let twice = g + g;
    let mut point = g;
    let mut table = Vec::new();
    for _ in 0..1 << (window - 2) {
        let affine = point.to_affine();
        table.extend_from_slice(&affine.x());
        table.extend_from_slice(&affine.y());
        point += twice;
    }
    table
}

fn verify_with_generator<C>(
    key: &PublicKey<C>,
    z: &[u8],
    signature: &Signature<C>,
    generator: &[Jacobian<C>],
    window: usize,
    a_is_minus_3: bool,
) -> bool
where
    C: PrimeCurveParams + EcdsaCurve,
{
    let (r, s) = signature.split_scalars();
    if C::NORMALIZE_S && bool::from(s.is_high()) {
        return false;
    }
    let z = bytes_to_scalar::<C>(z);
    let s_inv = *s.invert_vartime();
    let u1 = z * s_inv;
    let u2 = *r * s_inv;
    let Some(q) = key_point(key, a_is_minus_3) else {
        return false;
    };
    let sum = straus::double_mul_with_table(
        &little_endian::<C>(&u1),
        generator,
        window,
        &little_endian::<C>(&u2),
        &q,
    );
    // At infinity the crate's affine x is zero, never a valid r.
    sum.affine_x()
        .is_some_and(|x| *r == bytes_to_scalar::<C>(&x.to_repr()))
}

/// The key's affine coordinates (a public key is never the identity).
fn key_point<C: PrimeCurveParams>(key: &PublicKey<C>, a_is_minus_3: bool) -> Option<Jacobian<C>> {
    let affine = key.as_affine();
    let x = Option::from(C::FieldElement::from_repr(affine.x()))?;
    let y = Option::from(C::FieldElement::from_repr(affine.y()))?;
    Some(Jacobian::from_affine(x, y, a_is_minus_3))
}

/// A scalar's bytes, least significant first (`to_repr` is big-endian).
fn little_endian<C: PrimeCurveParams>(scalar: &Scalar<C>) -> Vec<u8> {
    let mut bytes = scalar.to_repr().to_vec();
    bytes.reverse();
    bytes
}

/// The `ecdsa` crate's `bytes2scalar` (private there): the leftmost bits
/// of `bytes`, as many as the order has, reduced modulo the order.
fn bytes_to_scalar<C: PrimeCurveParams>(mut bytes: &[u8]) -> Scalar<C> {
    let n_bits = C::ORDER.bit_width();
    let n_bytes = usize::try_from(n_bits.div_ceil(8)).unwrap_or(usize::MAX);
    if bytes.len() > n_bytes {
        bytes = &bytes[..n_bytes];
    }
    <Scalar<C> as Reduce<C::Uint>>::reduce(&C::Uint::from_be_slice_truncated(bytes, n_bits))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::ecdsa::VerifyingKey;
    use ::ecdsa::signature::hazmat::PrehashVerifier as _;
    use elliptic_curve::{FieldBytes, NonZeroScalar, ProjectivePoint};
    use sha2::{Digest as _, Sha512};

    /// Deterministic bytes for a test case.
    fn bytes(label: &str, seed: u32, len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut counter = 0u32;
        while out.len() < len {
            let mut hash = Sha512::new();
            hash.update(label.as_bytes());
            hash.update(seed.to_be_bytes());
            hash.update(counter.to_be_bytes());
            out.extend_from_slice(&hash.finalize());
            counter += 1;
        }
        out.truncate(len);
        out
    }

    fn scalar<C: PrimeCurveParams + EcdsaCurve>(seed: u32) -> Scalar<C> {
        bytes_to_scalar::<C>(&bytes("scalar", seed, 80))
    }

    /// `[a]G + [b]Q` by this module, as affine bytes (None at infinity).
    fn ours<C: PrimeCurveParams>(
        a: &Scalar<C>,
        b: &Scalar<C>,
        q: &ProjectivePoint<C>,
    ) -> Option<(FieldBytes<C>, FieldBytes<C>)> {
        let affine = q.to_affine();
        let q = Jacobian::<C>::from_affine(
            C::FieldElement::from_repr(affine.x()).expect("x"),
            C::FieldElement::from_repr(affine.y()).expect("y"),
            a_is_minus_3::<C>(),
        );
        let (gx, gy) = C::GENERATOR;
        let sum = straus::double_mul(
            &little_endian::<C>(a),
            &Jacobian::<C>::from_affine(gx, gy, a_is_minus_3::<C>()),
            &little_endian::<C>(b),
            &q,
        );
        if sum.infinity {
            return None;
        }
        let z_inv = Option::<C::FieldElement>::from(Field::invert(&sum.z))?;
        let x = sum.x * z_inv.square();
        let y = sum.y * z_inv.square() * z_inv;
        Some((x.to_repr(), y.to_repr()))
    }

    /// The same by the crate.
    fn theirs<C: PrimeCurveParams>(
        a: &Scalar<C>,
        b: &Scalar<C>,
        q: &ProjectivePoint<C>,
    ) -> Option<(FieldBytes<C>, FieldBytes<C>)> {
        let sum = ProjectivePoint::<C>::GENERATOR * a + *q * b;
        let affine = sum.to_affine();
        (!bool::from(affine.is_identity())).then(|| (affine.x(), affine.y()))
    }

    fn double_multiplications_agree<C: PrimeCurveParams + EcdsaCurve>() {
        let g = ProjectivePoint::<C>::GENERATOR;
        let zero = Scalar::<C>::ZERO;
        let one = Scalar::<C>::ONE;
        let mut cases = vec![
            // Cancelling, doubling and neutral cases.
            (scalar::<C>(1), -scalar::<C>(1), g),
            (scalar::<C>(2), scalar::<C>(2), g),
            (zero, scalar::<C>(3), g),
            (zero, zero, g),
            (one, one, -g),
            (-one, one, g),
            (one, -one - one, g + g),
        ];
        for seed in 10..40 {
            let q = g * scalar::<C>(seed + 1000);
            cases.push((scalar::<C>(seed), scalar::<C>(seed + 500), q));
        }
        for (i, (a, b, q)) in cases.iter().enumerate() {
            assert_eq!(ours::<C>(a, b, q), theirs::<C>(a, b, q), "case {i}");
        }
    }

    #[test]
    fn double_multiplication_is_the_crates_linear_combination() {
        double_multiplications_agree::<p256::NistP256>();
        double_multiplications_agree::<p384::NistP384>();
        double_multiplications_agree::<p521::NistP521>();
        // a ≠ -3: the general doubling.
        double_multiplications_agree::<bp256::BrainpoolP256r1>();
    }

    fn nonzero<C: PrimeCurveParams + EcdsaCurve>(label: &str, seed: u32) -> NonZeroScalar<C> {
        Option::from(NonZeroScalar::new(bytes_to_scalar::<C>(&bytes(
            label, seed, 80,
        ))))
        .expect("a nonzero scalar")
    }

    /// Both answers for a signature and altered copies of it, over digests
    /// shorter than, as long as and longer than the order.
    fn verifications_agree<C: PrimeCurveParams + EcdsaCurve>(field_bytes: usize) -> (usize, usize) {
        let (mut valid, mut invalid) = (0, 0);
        let table = generator_table::<C>(7);
        let public = |secret: &NonZeroScalar<C>| {
            PublicKey::<C>::from_affine((ProjectivePoint::<C>::GENERATOR * **secret).to_affine())
                .expect("a public key")
        };
        for seed in 0..12u32 {
            let secret = nonzero::<C>("key", seed);
            let (key, other) = (public(&secret), public(&nonzero::<C>("other", seed)));
            for len in [20, field_bytes, 64, 80] {
                let digest = bytes("digest", seed, len);
                let k = nonzero::<C>("k", seed * 100 + len as u32);
                let Ok((signature, _)) = ::ecdsa::hazmat::sign_prehashed::<C>(&secret, &k, &digest)
                else {
                    continue;
                };
                let (r, s) = signature.split_scalars();
                let mut flipped = digest.clone();
                flipped[seed as usize % len] ^= 1 << (seed % 8);
                let mut attempts = vec![
                    (key, digest.clone(), signature),
                    (key, flipped, signature),
                    (other, digest.clone(), signature),
                ];
                for (r, s) in [(*s, *r), (*r, -*s), (-*r, *s), (*r + Scalar::<C>::ONE, *s)] {
                    if let Ok(altered) = Signature::<C>::from_scalars(r.to_repr(), s.to_repr()) {
                        attempts.push((key, digest.clone(), altered));
                    }
                }
                for (i, (key, digest, signature)) in attempts.iter().enumerate() {
                    let crate_says = VerifyingKey::from(*key)
                        .verify_prehash(digest, signature)
                        .is_ok();
                    assert_eq!(
                        verify_prehash::<C>(key, digest, signature),
                        crate_says,
                        "seed {seed}, digest of {len} bytes, attempt {i}"
                    );
                    assert_eq!(
                        verify_prehash_with_generator_table::<C>(key, digest, signature, &table, 7),
                        crate_says,
                        "with the table: seed {seed}, digest of {len} bytes, attempt {i}"
                    );
                    if crate_says {
                        valid += 1;
                    } else {
                        invalid += 1;
                    }
                }
            }
        }
        (valid, invalid)
    }

    #[test]
    fn a_table_not_of_the_curve_verifies_nothing() {
        let secret = nonzero::<p256::NistP256>("key", 1);
        let key = PublicKey::<p256::NistP256>::from_affine(
            (ProjectivePoint::<p256::NistP256>::GENERATOR * *secret).to_affine(),
        )
        .expect("key");
        let digest = bytes("digest", 1, 32);
        let k = nonzero::<p256::NistP256>("k", 1);
        let (signature, _) =
            ::ecdsa::hazmat::sign_prehashed::<p256::NistP256>(&secret, &k, &digest).expect("sign");
        let table = generator_table::<p256::NistP256>(7);
        assert!(verify_prehash_with_generator_table(
            &key, &digest, &signature, &table, 7
        ));
        // Another point in the place of 3G, a short table, a window the
        // table does not reach.
        let mut wrong = table.clone();
        wrong[64..128].copy_from_slice(&table[128..192]);
        assert!(!verify_prehash_with_generator_table(
            &key, &digest, &signature, &wrong, 7
        ));
        assert!(!verify_prehash_with_generator_table(
            &key,
            &digest,
            &signature,
            &table[..64 * 31],
            7
        ));
        assert!(!verify_prehash_with_generator_table(
            &key, &digest, &signature, &table, 8
        ));
    }

    #[test]
    fn verification_answers_as_the_crate_does() {
        for (curve, (valid, invalid)) in [
            ("P-256", verifications_agree::<p256::NistP256>(32)),
            ("P-384", verifications_agree::<p384::NistP384>(48)),
            ("P-521", verifications_agree::<p521::NistP521>(66)),
            (
                "brainpoolP256r1",
                verifications_agree::<bp256::BrainpoolP256r1>(32),
            ),
        ] {
            // 48 signatures and their negated-s twins hold; the rest not.
            assert_eq!(valid, 96, "{curve}");
            assert_eq!(invalid, 5 * 48, "{curve}");
        }
    }
}
