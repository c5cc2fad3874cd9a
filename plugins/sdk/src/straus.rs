//! `[a]P + [b]Q` in variable time for verification equations, where every
//! input is public: non-adjacent forms of both scalars and one shared
//! chain of doublings (Straus' method). About half the point operations
//! of two constant-time multiplications.

/// Window of the non-adjacent forms of a variable base: digits ±1, ±3,
/// …, ±15.
pub const WINDOW: usize = 5;

/// The group operations a double multiplication needs.
pub trait Point: Copy {
    /// The neutral element.
    fn identity() -> Self;
    /// `2P`.
    fn double(&self) -> Self;
    /// `P + Q`, for any two points (equal, opposite or neutral included).
    fn add(&self, other: &Self) -> Self;
    /// `-P`.
    fn negate(&self) -> Self;
}

/// `[a]P + [b]Q`, the scalars given as little-endian bytes (any length).
pub fn double_mul<P: Point>(a: &[u8], p: &P, b: &[u8], q: &P) -> P {
    double_mul_with_table(a, &odd_multiples(p), WINDOW, b, q)
}

/// `[a]P + [b]Q` where `p_table` holds `P, 3P, …` up to the window
/// `p_window` (`2^(p_window - 2)` points, computed once and kept, as for a
/// generator): a wider window means fewer additions for `a`.
///
/// # Panics
///
/// If `p_table` is shorter than the window needs (a programming error).
pub fn double_mul_with_table<P: Point>(
    a: &[u8],
    p_table: &[P],
    p_window: usize,
    b: &[u8],
    q: &P,
) -> P {
    assert!(
        p_table.len() >= 1 << (p_window - 2),
        "a table too short for its window"
    );
    let (a_digits, b_digits) = (non_adjacent_form(a, p_window), non_adjacent_form(b, WINDOW));
    let q_table = odd_multiples(q);
    let digit = |digits: &[i8], i: usize| digits.get(i).copied().unwrap_or(0);
    let Some(top) = (0..a_digits.len().max(b_digits.len()))
        .rev()
        .find(|&i| digit(&a_digits, i) != 0 || digit(&b_digits, i) != 0)
    else {
        return P::identity();
    };
    let mut sum = P::identity();
    for i in (0..=top).rev() {
        sum = sum.double();
        sum = add_digit(&sum, p_table, digit(&a_digits, i));
        sum = add_digit(&sum, &q_table, digit(&b_digits, i));
    }
    sum
}

/// `sum + [digit]P` for an odd digit (or zero), from `P`'s odd multiples.
fn add_digit<P: Point>(sum: &P, table: &[P], digit: i8) -> P {
    let index = usize::from(digit.unsigned_abs() / 2);
    match digit {
        0 => *sum,
        d if d > 0 => sum.add(&table[index]),
        _ => sum.add(&table[index].negate()),
    }
}

/// `P, 3P, 5P, …` up to the window `window` (`2^(window - 2)` points).
pub fn odd_multiples_for<P: Point>(point: &P, window: usize) -> Vec<P> {
    let twice = point.double();
    let mut table = vec![*point; 1 << (window - 2)];
    for i in 1..table.len() {
        table[i] = table[i - 1].add(&twice);
    }
    table
}

/// `P, 3P, 5P, …, 15P`.
fn odd_multiples<P: Point>(point: &P) -> Vec<P> {
    odd_multiples_for(point, WINDOW)
}

/// The width-`window` non-adjacent form of a little-endian integer
/// (`window` from 2 to 8): digits odd and below `2^(window-1)` in
/// magnitude, any two non-zero ones at least `window` places apart, summing
/// to the integer (curve25519-dalek's construction). One digit more than
/// the integer has bits, for the last carry.
pub fn non_adjacent_form(le_bytes: &[u8], window: usize) -> Vec<i8> {
    debug_assert!((2..=8).contains(&window));
    let digits_len = 8 * le_bytes.len() + 1;
    // Whole limbs and one spare: windows near the top read past the bits.
    let mut limbs = vec![0u64; le_bytes.len().div_ceil(8) + 1];
    for (limb, chunk) in limbs.iter_mut().zip(le_bytes.chunks(8)) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        *limb = u64::from_le_bytes(word);
    }
    let width = 1i64 << window;
    let mask = (width - 1) as u64;
    let mut digits = vec![0i8; digits_len];
    let mut position = 0;
    let mut carry = 0u64;
    while position < digits_len {
        let (index, bit) = (position / 64, position % 64);
        let low = limbs.get(index).map_or(0, |limb| limb >> bit);
        let high = match (bit, limbs.get(index + 1)) {
            (0, _) | (_, None) => 0,
            (bit, Some(limb)) => limb << (64 - bit),
        };
        let value = carry + ((low | high) & mask);
        if value & 1 == 0 {
            position += 1;
            continue;
        }
        // value < 2^window ≤ 256, so the digit fits an i8 either way.
        let value = value as i64;
        let digit = if value < width / 2 {
            carry = 0;
            value
        } else {
            carry = 1;
            value - width
        };
        digits[position] = digit as i8;
        position += window;
    }
    digits
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Integers modulo 2^64 under addition: a group in which the double
    /// multiplication's answer is plain arithmetic.
    #[derive(Clone, Copy, Debug, PartialEq)]
    struct Wrapping(u64);

    impl Point for Wrapping {
        fn identity() -> Self {
            Wrapping(0)
        }
        fn double(&self) -> Self {
            Wrapping(self.0.wrapping_mul(2))
        }
        fn add(&self, other: &Self) -> Self {
            Wrapping(self.0.wrapping_add(other.0))
        }
        fn negate(&self) -> Self {
            Wrapping(self.0.wrapping_neg())
        }
    }

    fn value(digits: &[i8]) -> i128 {
        digits
            .iter()
            .rev()
            .fold(0i128, |sum, &d| 2 * sum + i128::from(d))
    }

    #[test]
    fn a_form_sums_to_its_integer_with_odd_sparse_digits() {
        for window in 2..=8 {
            let mut x = 0x9e37_79b9_7f4a_7c15u64;
            for _ in 0..200 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let integer = x >> (x % 60);
                let digits = non_adjacent_form(&integer.to_le_bytes(), window);
                assert_eq!(digits.len(), 65);
                assert_eq!(
                    value(&digits),
                    i128::from(integer),
                    "{integer:#x}, window {window}"
                );
                let nonzero: Vec<usize> = (0..digits.len()).filter(|&i| digits[i] != 0).collect();
                let bound = 1i16 << (window - 1);
                assert!(
                    nonzero
                        .iter()
                        .all(|&i| digits[i] % 2 != 0 && i16::from(digits[i]).abs() < bound)
                );
                assert!(nonzero.windows(2).all(|w| w[1] - w[0] >= window));
            }
            // All ones carries past the top byte.
            let digits = non_adjacent_form(&[0xff; 3], window);
            assert_eq!(value(&digits), 0xff_ffff);
            assert_eq!(value(&non_adjacent_form(&[], window)), 0);
        }
    }

    #[test]
    fn double_multiplication_is_the_sum_of_two_multiplications() {
        let mut x = 1u64;
        for _ in 0..200 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let (a, b, p, q) = (x, x.rotate_left(17), x.rotate_left(31) | 1, x >> 7);
            let expected = a.wrapping_mul(p).wrapping_add(b.wrapping_mul(q));
            let got = double_mul(
                &a.to_le_bytes(),
                &Wrapping(p),
                &b.to_le_bytes(),
                &Wrapping(q),
            );
            assert_eq!(got, Wrapping(expected));
        }
        let zero = 0u64.to_le_bytes();
        assert_eq!(
            double_mul(&zero, &Wrapping(3), &zero, &Wrapping(5)),
            Wrapping(0)
        );
        // A kept table with a wider window for the first base.
        for window in [5, 6, 7] {
            let table = odd_multiples_for(&Wrapping(11), window);
            let (a, b) = (0xdead_beef_u64, 0x1234_5678_9abc_u64);
            assert_eq!(
                double_mul_with_table(
                    &a.to_le_bytes(),
                    &table,
                    window,
                    &b.to_le_bytes(),
                    &Wrapping(7)
                ),
                Wrapping(a.wrapping_mul(11).wrapping_add(b.wrapping_mul(7)))
            );
        }
        // Scalars of different lengths.
        assert_eq!(
            double_mul(&[7], &Wrapping(3), &[1, 1], &Wrapping(5)),
            Wrapping(7 * 3 + 257 * 5)
        );
    }
}
