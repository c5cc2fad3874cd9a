use crate::{consts::*, types::Fn1600};
use core::ops::{BitAnd, BitAndAssign, BitXor, BitXorAssign, Not};
#[cfg(feature = "parallel")]
use hybrid_array::typenum::U1;

/// Keccak is a permutation over an array of lanes which comprise the sponge construction.
pub trait LaneSize:
    Copy
    + Clone
    + Default
    + PartialEq
    + BitAndAssign
    + BitAnd<Output = Self>
    + BitXorAssign
    + BitXor<Output = Self>
    + Not<Output = Self>
    + 'static
{
    /// Round constants
    const RC: &[Self];

    /// Rotate left function.
    #[must_use]
    fn rotate_left(self, n: u32) -> Self;
}

macro_rules! impl_lanesize {
    ($type:ty, $round:expr) => {
        impl LaneSize for $type {
            const RC: &[Self] = &{
                let mut res = [0; $round];
                let mut i = 0;
                #[allow(clippy::cast_possible_truncation, trivial_numeric_casts)]
                while i < res.len() {
                    res[i] = RC[i] as Self;
                    i += 1;
                }
                res
            };

            fn rotate_left(self, n: u32) -> Self {
                self.rotate_left(n)
            }
        }
    };
}

impl_lanesize!(u8, F200_ROUNDS);
impl_lanesize!(u16, F400_ROUNDS);
impl_lanesize!(u32, F800_ROUNDS);
impl_lanesize!(u64, F1600_ROUNDS);

/// Generic Keccak-p sponge function.
///
/// # Panics
/// If the `ROUNDS` is greater than `L::KECCAK_F_ROUND_COUNT`.
pub(crate) fn keccak_p<L: LaneSize, const ROUNDS: usize>(state: &mut [L; PLEN]) {
    const { assert!(ROUNDS <= L::RC.len()) };

    // https://nvlpubs.nist.gov/nistpubs/FIPS/NIST.FIPS.202.pdf#page=25
    // "the rounds of KECCAK-p[b, nr] match the last rounds of KECCAK-f[b]"
    let round_consts = L::RC
        .last_chunk::<ROUNDS>()
        .expect("Number of rounds is checked above");

    // Not unrolling this loop results in a much smaller function, plus
    // it positively influences performance due to the smaller load on I-cache
    for rc in round_consts {
        let mut array = [L::default(); 5];

        // Theta
        for x in 0..5 {
            for y in 0..5 {
                array[x] ^= state[5 * y + x];
            }
        }

        for x in 0..5 {
            let t1 = array[(x + 4) % 5];
            let t2 = array[(x + 1) % 5].rotate_left(1);
            for y in 0..5 {
                state[5 * y + x] ^= t1 ^ t2;
            }
        }

        // Rho and pi
        let mut last = state[1];
        for x in 0..24 {
            array[0] = state[PI[x]];
            state[PI[x]] = last.rotate_left(RHO[x]);
            last = array[0];
        }

        // Chi
        for y_step in 0..5 {
            let y = 5 * y_step;

            array.copy_from_slice(&state[y..][..5]);

            for x in 0..5 {
                let t1 = !array[(x + 1) % 5];
                let t2 = array[(x + 2) % 5];
                state[y + x] = array[x] ^ (t1 & t2);
            }
        }

        // Iota
        state[0] ^= *rc;
    }
}

/// Keccak-p\[1600, `ROUNDS`\] written out as straight-line code over lanes
/// held in locals: theta's parities, then rho and pi into 25 new lanes,
/// then chi and iota. (Sigil's vendored copy: the generic [`keccak_p`]
/// above works on the state in memory in place, which Cranelift compiles
/// from WebAssembly to about 2.2x the time of this form; natively both run
/// alike. Same permutation: the tests compare the two on every round
/// count.)
pub(crate) fn keccak_p1600<const ROUNDS: usize>(state: &mut [u64; PLEN]) {
    const { assert!(ROUNDS <= F1600_ROUNDS) };
    let round_consts = <u64 as LaneSize>::RC
        .last_chunk::<ROUNDS>()
        .expect("Number of rounds is checked above");
    let mut a = *state;
    for rc in round_consts {
        // Theta: the column parities c, mixed into d.
        let c0 = a[0] ^ a[5] ^ a[10] ^ a[15] ^ a[20];
        let c1 = a[1] ^ a[6] ^ a[11] ^ a[16] ^ a[21];
        let c2 = a[2] ^ a[7] ^ a[12] ^ a[17] ^ a[22];
        let c3 = a[3] ^ a[8] ^ a[13] ^ a[18] ^ a[23];
        let c4 = a[4] ^ a[9] ^ a[14] ^ a[19] ^ a[24];
        let d0 = c4 ^ c1.rotate_left(1);
        let d1 = c0 ^ c2.rotate_left(1);
        let d2 = c1 ^ c3.rotate_left(1);
        let d3 = c2 ^ c4.rotate_left(1);
        let d4 = c3 ^ c0.rotate_left(1);
        // Rho and pi: lane x + 5y, with d of its column, rotated, goes to
        // lane y + 5((2x + 3y) mod 5).
        let b0 = (a[0] ^ d0).rotate_left(0);
        let b1 = (a[6] ^ d1).rotate_left(44);
        let b2 = (a[12] ^ d2).rotate_left(43);
        let b3 = (a[18] ^ d3).rotate_left(21);
        let b4 = (a[24] ^ d4).rotate_left(14);
        let b5 = (a[3] ^ d3).rotate_left(28);
        let b6 = (a[9] ^ d4).rotate_left(20);
        let b7 = (a[10] ^ d0).rotate_left(3);
        let b8 = (a[16] ^ d1).rotate_left(45);
        let b9 = (a[22] ^ d2).rotate_left(61);
        let b10 = (a[1] ^ d1).rotate_left(1);
        let b11 = (a[7] ^ d2).rotate_left(6);
        let b12 = (a[13] ^ d3).rotate_left(25);
        let b13 = (a[19] ^ d4).rotate_left(8);
        let b14 = (a[20] ^ d0).rotate_left(18);
        let b15 = (a[4] ^ d4).rotate_left(27);
        let b16 = (a[5] ^ d0).rotate_left(36);
        let b17 = (a[11] ^ d1).rotate_left(10);
        let b18 = (a[17] ^ d2).rotate_left(15);
        let b19 = (a[23] ^ d3).rotate_left(56);
        let b20 = (a[2] ^ d2).rotate_left(62);
        let b21 = (a[8] ^ d3).rotate_left(55);
        let b22 = (a[14] ^ d4).rotate_left(39);
        let b23 = (a[15] ^ d0).rotate_left(41);
        let b24 = (a[21] ^ d1).rotate_left(2);
        // Chi, row by row; then iota.
        a = [
            b0 ^ (!b1 & b2),
            b1 ^ (!b2 & b3),
            b2 ^ (!b3 & b4),
            b3 ^ (!b4 & b0),
            b4 ^ (!b0 & b1),
            b5 ^ (!b6 & b7),
            b6 ^ (!b7 & b8),
            b7 ^ (!b8 & b9),
            b8 ^ (!b9 & b5),
            b9 ^ (!b5 & b6),
            b10 ^ (!b11 & b12),
            b11 ^ (!b12 & b13),
            b12 ^ (!b13 & b14),
            b13 ^ (!b14 & b10),
            b14 ^ (!b10 & b11),
            b15 ^ (!b16 & b17),
            b16 ^ (!b17 & b18),
            b17 ^ (!b18 & b19),
            b18 ^ (!b19 & b15),
            b19 ^ (!b15 & b16),
            b20 ^ (!b21 & b22),
            b21 ^ (!b22 & b23),
            b22 ^ (!b23 & b24),
            b23 ^ (!b24 & b20),
            b24 ^ (!b20 & b21),
        ];
        a[0] ^= *rc;
    }
    *state = a;
}

/// Default backend based on software implementation.
pub(crate) struct Backend;

impl super::Backend for Backend {
    #[cfg(feature = "parallel")]
    type ParSize1600 = U1;

    #[inline]
    fn get_p1600<const ROUNDS: usize>() -> Fn1600 {
        keccak_p1600::<ROUNDS>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The straight-line permutation equals the generic one, for every
    /// round count, over a chain of states.
    fn same_as_generic<const ROUNDS: usize>() {
        let mut generic = [0u64; PLEN];
        for (i, lane) in generic.iter_mut().enumerate() {
            *lane = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
        let mut unrolled = generic;
        for _ in 0..64 {
            keccak_p::<u64, ROUNDS>(&mut generic);
            keccak_p1600::<ROUNDS>(&mut unrolled);
            assert_eq!(generic, unrolled, "{ROUNDS} rounds");
        }
    }

    #[test]
    fn straight_line_p1600_is_the_generic_permutation() {
        same_as_generic::<1>();
        same_as_generic::<12>();
        same_as_generic::<14>();
        same_as_generic::<24>();
    }
}
