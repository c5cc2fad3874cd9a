use crate::algebra::{BaseField, Elem, NttPolynomial, NttVector, Polynomial, Vector};
use module_lattice::{ArraySize, Field, MultiplyNtt};

// Since the powers of zeta used in the NTT and MultiplyNTTs are fixed, we use pre-computed tables
// to avoid the need to compute the exponentiations at runtime.
//
//   ZETA_POW_BITREV[i] = zeta^{BitRev_8(i)}
//
// Note that the const environment here imposes some annoying conditions.  Because operator
// overloading can't be const, we have to do all the reductions here manually.  Because `for` loops
// are forbidden in `const` functions, we do them manually with `while` loops.
//
// The values computed here match those provided in Appendix B of FIPS 204.
#[allow(clippy::cast_possible_truncation)]
#[allow(clippy::as_conversions)]
#[allow(clippy::integer_division_remainder_used, reason = "constant")]
const ZETA_POW_BITREV: [Elem; 256] = {
    const ZETA: u64 = 1753;
    const fn bitrev8(x: usize) -> usize {
        (x as u8).reverse_bits() as usize
    }

    // Compute the powers of zeta
    let mut pow = [Elem::new(0); 256];
    let mut i = 0;
    let mut curr = 1u64;
    while i < 256 {
        pow[i] = Elem::new(curr as u32);
        i += 1;
        curr = (curr * ZETA) % BaseField::QL;
    }

    // Reorder the powers according to bitrev8
    // Note that entry 0 is left as zero, in order to match the `zetas` array in the
    // specification.
    let mut pow_bitrev = [Elem::new(0); 256];
    let mut i = 1;
    while i < 256 {
        pow_bitrev[i] = pow[bitrev8(i)];
        i += 1;
    }
    pow_bitrev
};

pub(crate) trait Ntt {
    type Output;
    fn ntt(&self) -> Self::Output;
}

// Sigil: the transforms below run on signed 32-bit coefficients with
// Montgomery multiplication and no reduction after additions, as the
// reference implementation (pq-crystals/dilithium, `ref/ntt.c`) does, and
// return every coefficient reduced to [0, q), as the crate's own
// transforms did (its tests below hold them to schoolbook multiplication).
// Everything a verification transforms is public, so the division in
// `canonical` leaks nothing a plugin holds. Why: the crate's Barrett
// reduction works in 128-bit integers and reduces after every addition,
// which from WebAssembly costs several times the instructions
// (plugins/vendor/README.md).

/// The field's modulus.
const Q: i32 = 8_380_417;

/// `q^-1 mod 2^32`.
const QINV: i32 = 58_728_449;

/// `ZETA_POW_BITREV[i] * 2^32 mod q`: the same powers, in Montgomery form.
#[allow(clippy::as_conversions, clippy::cast_possible_truncation)]
#[allow(clippy::integer_division_remainder_used, reason = "constant")]
const ZETAS_MONTGOMERY: [i32; 256] = {
    let mut out = [0i32; 256];
    let mut i = 0;
    while i < 256 {
        out[i] = ((ZETA_POW_BITREV[i].0 as u64) * (1u64 << 32) % (Q as u64)) as i32;
        i += 1;
    }
    out
};

/// `2^32 / 256 mod q`: the inverse transform's final scaling by `256^-1`,
/// in Montgomery form.
#[allow(clippy::as_conversions, clippy::cast_possible_truncation)]
#[allow(clippy::integer_division_remainder_used, reason = "constant")]
const INVERSE_256_MONTGOMERY: i32 = ((1u64 << 32) % (Q as u64) * 8_347_681 % (Q as u64)) as i32;

/// `a * 2^-32 mod q`, in (-q, q) for |a| < 2^31 q.
#[allow(clippy::as_conversions, clippy::cast_possible_truncation)]
#[allow(clippy::inline_always)]
#[inline(always)]
fn montgomery_reduce(a: i64) -> i32 {
    let t = (a as i32).wrapping_mul(QINV);
    ((a - i64::from(t) * i64::from(Q)) >> 32) as i32
}

/// A coefficient in the crate's representation, [0, q), as a signed one.
#[allow(clippy::as_conversions, clippy::cast_possible_wrap)]
#[allow(clippy::inline_always)]
#[inline(always)]
fn signed(x: Elem) -> i32 {
    debug_assert!(x.0 < BaseField::Q);
    x.0 as i32
}

/// A signed coefficient back in [0, q).
#[allow(clippy::as_conversions, clippy::cast_sign_loss)]
#[allow(clippy::integer_division_remainder_used, reason = "public data")]
#[allow(clippy::inline_always)]
#[inline(always)]
fn canonical(x: i32) -> Elem {
    Elem::new(x.rem_euclid(Q) as u32)
}

/// One layer of the forward transform: every |coefficient| grows by less
/// than q.
#[allow(clippy::inline_always)]
#[inline(always)]
fn ntt_layer<const LEN: usize, const ITERATIONS: usize>(w: &mut [i32; 256], m: &mut usize) {
    for i in 0..ITERATIONS {
        let start = i * 2 * LEN;
        *m += 1;
        let z = i64::from(ZETAS_MONTGOMERY[*m]);
        for j in start..(start + LEN) {
            let t = montgomery_reduce(z * i64::from(w[j + LEN]));
            w[j + LEN] = w[j] - t;
            w[j] += t;
        }
    }
}

impl Ntt for Polynomial {
    type Output = NttPolynomial;

    // Algorithm 41 NTT
    fn ntt(&self) -> Self::Output {
        // Inputs in [0, q); after eight layers every |coefficient| < 9q.
        let mut w: [i32; 256] = core::array::from_fn(|i| signed(self.0[i]));
        let mut m = 0;

        ntt_layer::<128, 1>(&mut w, &mut m);
        ntt_layer::<64, 2>(&mut w, &mut m);
        ntt_layer::<32, 4>(&mut w, &mut m);
        ntt_layer::<16, 8>(&mut w, &mut m);
        ntt_layer::<8, 16>(&mut w, &mut m);
        ntt_layer::<4, 32>(&mut w, &mut m);
        ntt_layer::<2, 64>(&mut w, &mut m);
        ntt_layer::<1, 128>(&mut w, &mut m);

        NttPolynomial::new(w.map(canonical).into())
    }
}

impl<K: ArraySize> Ntt for Vector<K> {
    type Output = NttVector<K>;

    fn ntt(&self) -> Self::Output {
        NttVector::new(self.0.iter().map(Polynomial::ntt).collect())
    }
}

#[allow(clippy::module_name_repetitions)]
pub(crate) trait NttInverse {
    type Output;
    fn ntt_inverse(&self) -> Self::Output;
}

/// One layer of the inverse transform: a sum at most doubles, a difference
/// comes back in (-q, q).
#[allow(clippy::inline_always)]
#[inline(always)]
fn ntt_inverse_layer<const LEN: usize, const ITERATIONS: usize>(w: &mut [i32; 256], m: &mut usize) {
    for i in 0..ITERATIONS {
        let start = i * 2 * LEN;
        *m -= 1;
        let z = -i64::from(ZETAS_MONTGOMERY[*m]);
        for j in start..(start + LEN) {
            let t = w[j];
            w[j] = t + w[j + LEN];
            w[j + LEN] = montgomery_reduce(z * i64::from(t - w[j + LEN]));
        }
    }
}

impl NttInverse for NttPolynomial {
    type Output = Polynomial;

    // Algorithm 42 NTT^{−1}
    fn ntt_inverse(&self) -> Self::Output {
        // Inputs in [0, q); after eight layers every |coefficient| < 256 q,
        // which is below 2^31.
        let mut w: [i32; 256] = core::array::from_fn(|i| signed(self.0[i]));
        let mut m = 256;

        ntt_inverse_layer::<1, 128>(&mut w, &mut m);
        ntt_inverse_layer::<2, 64>(&mut w, &mut m);
        ntt_inverse_layer::<4, 32>(&mut w, &mut m);
        ntt_inverse_layer::<8, 16>(&mut w, &mut m);
        ntt_inverse_layer::<16, 8>(&mut w, &mut m);
        ntt_inverse_layer::<32, 4>(&mut w, &mut m);
        ntt_inverse_layer::<64, 2>(&mut w, &mut m);
        ntt_inverse_layer::<128, 1>(&mut w, &mut m);

        let f = i64::from(INVERSE_256_MONTGOMERY);
        Polynomial::new(
            w.map(|x| canonical(montgomery_reduce(f * i64::from(x))))
                .into(),
        )
    }
}

impl<K: ArraySize> NttInverse for NttVector<K> {
    type Output = Vector<K>;

    fn ntt_inverse(&self) -> Self::Output {
        Vector::new(self.0.iter().map(NttPolynomial::ntt_inverse).collect())
    }
}

impl MultiplyNtt for BaseField {
    // Algorithm 45 MultiplyNTT
    fn multiply_ntt(lhs: &NttPolynomial, rhs: &NttPolynomial) -> NttPolynomial {
        NttPolynomial::new(
            lhs.0
                .iter()
                .zip(rhs.0.iter())
                .map(|(&x, &y)| x * y)
                .collect(),
        )
    }
}

#[cfg(test)]
#[allow(clippy::as_conversions)]
#[allow(clippy::cast_possible_truncation)]
mod test {
    use super::*;
    use hybrid_array::{
        Array,
        typenum::{U2, U3},
    };

    use crate::algebra::*;
    extern crate alloc;
    use alloc::{vec, vec::Vec};

    // Multiplication in R_q, modulo X^256 + 1
    fn poly_mul(lhs: &Polynomial, rhs: &Polynomial) -> Polynomial {
        let mut out = Polynomial::default();
        for (i, x) in lhs.0.iter().enumerate() {
            for (j, y) in rhs.0.iter().enumerate() {
                let (sign, index) = if i + j < 256 {
                    (Elem::new(1), i + j)
                } else {
                    (Elem::new(BaseField::Q - 1), i + j - 256)
                };

                out.0[index] = out.0[index] + (sign * *x * *y);
            }
        }
        out
    }

    // A polynomial with only a scalar component, to make simple test cases
    fn const_ntt(x: Int) -> NttPolynomial {
        let mut p = Polynomial::default();
        p.0[0] = Elem::new(x);
        p.ntt()
    }

    // Sigil: the release's transforms, on the crate's own field arithmetic,
    // against which the Montgomery ones are held on inputs at the bounds
    // (every coefficient q - 1, halves and alternations of extremes) and on
    // pseudo-random ones.
    fn release_ntt(p: &Polynomial) -> NttPolynomial {
        let mut w: [Elem; 256] = p.0.clone().into();
        let (mut m, mut len) = (0, 128);
        while len >= 1 {
            for start in (0..256).step_by(2 * len) {
                m += 1;
                let z = ZETA_POW_BITREV[m];
                for j in start..start + len {
                    let t = z * w[j + len];
                    w[j + len] = w[j] - t;
                    w[j] = w[j] + t;
                }
            }
            len /= 2;
        }
        NttPolynomial::new(w.into())
    }

    fn release_ntt_inverse(p: &NttPolynomial) -> Polynomial {
        let mut w: [Elem; 256] = p.0.clone().into();
        let (mut m, mut len) = (256, 1);
        while len < 256 {
            for start in (0..256).step_by(2 * len) {
                m -= 1;
                let z = -ZETA_POW_BITREV[m];
                for j in start..start + len {
                    let t = w[j];
                    w[j] = t + w[j + len];
                    w[j + len] = z * (t - w[j + len]);
                }
            }
            len *= 2;
        }
        Elem::new(8_347_681) * &Polynomial::new(w.into())
    }

    #[allow(clippy::integer_division_remainder_used, reason = "test data")]
    fn test_coefficients() -> Vec<[Int; 256]> {
        let q = BaseField::Q;
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut random = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % u64::from(q)) as Int
        };
        vec![
            [q - 1; 256],
            [0; 256],
            core::array::from_fn(|i| if i % 2 == 0 { q - 1 } else { 0 }),
            core::array::from_fn(|i| if i < 128 { q - 1 } else { 1 }),
            core::array::from_fn(|i| if i % 3 == 0 { 0 } else { q - 1 }),
            core::array::from_fn(|_| random()),
            core::array::from_fn(|_| random()),
            core::array::from_fn(|_| random()),
            core::array::from_fn(|_| random()),
        ]
    }

    #[test]
    fn transforms_are_the_releases() {
        for coefficients in test_coefficients() {
            let p = Polynomial::new(Array(coefficients.map(Elem::new)));
            assert_eq!(p.ntt(), release_ntt(&p));
            let p_hat = NttPolynomial::new(Array(coefficients.map(Elem::new)));
            assert_eq!(p_hat.ntt_inverse(), release_ntt_inverse(&p_hat));
        }
    }

    #[test]
    #[allow(clippy::integer_division_remainder_used, reason = "test data")]
    fn mul_sub_is_the_operators() {
        use hybrid_array::typenum::U7;
        let polys: Vec<NttPolynomial> = test_coefficients()
            .into_iter()
            .map(|c| NttPolynomial::new(Array(c.map(Elem::new))))
            .collect();
        let pick = |i: usize| polys[i % polys.len()].clone();
        for shift in 0..polys.len() {
            let a: NttMatrix<U2, U7> =
                NttMatrix::from_fn(|i| NttVector::new(Array::from_fn(|j| pick(shift + 7 * i + j))));
            let z: NttVector<U7> = NttVector::new(Array::from_fn(|j| pick(shift + j)));
            let c = pick(shift + 3);
            let t: NttVector<U2> = NttVector::new(Array::from_fn(|i| pick(shift + 5 + i)));
            let expected = &(&a * &z) - &(&c * &t);
            assert_eq!(a.mul_sub(&z, &c, &t), expected);
        }
    }

    #[test]
    fn ntt() {
        let f = Polynomial::new(Array::from_fn(|i| Elem::new(i as Int)));
        let g = Polynomial::new(Array::from_fn(|i| Elem::new((2 * i) as Int)));
        let f_hat = f.ntt();
        let g_hat = g.ntt();

        // Verify that NTT and NTT^-1 are actually inverses
        let f_unhat = f_hat.ntt_inverse();
        assert_eq!(f, f_unhat);

        // Verify that NTT is a homomorphism with regard to addition
        let fg = &f + &g;
        let f_hat_g_hat = &f_hat + &g_hat;
        let fg_unhat = f_hat_g_hat.ntt_inverse();
        assert_eq!(fg, fg_unhat);

        // Verify that NTT is a homomorphism with regard to multiplication
        let fg = poly_mul(&f, &g);
        let f_hat_g_hat = &f_hat * &g_hat;
        let fg_unhat = f_hat_g_hat.ntt_inverse();
        assert_eq!(fg, fg_unhat);
    }

    #[test]
    fn ntt_vector() {
        // Verify vector addition
        let v1: NttVector<U3> = NttVector::new(Array([const_ntt(1), const_ntt(1), const_ntt(1)]));
        let v2: NttVector<U3> = NttVector::new(Array([const_ntt(2), const_ntt(2), const_ntt(2)]));
        let v3: NttVector<U3> = NttVector::new(Array([const_ntt(3), const_ntt(3), const_ntt(3)]));
        assert_eq!((&v1 + &v2), v3);

        // Verify dot product
        assert_eq!((&v1 * &v2), const_ntt(6));
        assert_eq!((&v1 * &v3), const_ntt(9));
        assert_eq!((&v2 * &v3), const_ntt(18));
    }

    #[test]
    fn ntt_matrix() {
        // Verify matrix multiplication by a vector
        let rows = [
            NttVector::new(Array([const_ntt(1), const_ntt(2)])),
            NttVector::new(Array([const_ntt(3), const_ntt(4)])),
            NttVector::new(Array([const_ntt(5), const_ntt(6)])),
        ];
        let a: NttMatrix<U3, U2> = NttMatrix::from_fn(|i| rows[i].clone());
        let v_in: NttVector<U2> = NttVector::new(Array([const_ntt(1), const_ntt(2)]));
        let v_out: NttVector<U3> =
            NttVector::new(Array([const_ntt(5), const_ntt(11), const_ntt(17)]));
        assert_eq!(&a * &v_in, v_out);
    }
}
