//! The signature check itself, in time that varies with public data only.
//!
//! Everything a verification handles is public (the key, the signature,
//! the digest), so nothing here needs to be constant-time. The `rsa`
//! crate's verification is: its `s^e mod n` runs a constant-time
//! windowed exponentiation, which for e = 65537 costs about twice the 16
//! squarings and one multiplication a plain square-and-multiply needs
//! (BENCHMARKS.md). This module does RSAVP1 (RFC 8017 §5.2.2) that way and
//! checks the two encodings on the result, on a key `verifying_key`
//! decoded (with the `rsa` crate's checks and the plugin's policy).

use crypto_bigint::modular::BoxedMontyForm;
use rsa_crate::BoxedUint;
use rsa_crate::sha2::Digest;

use crate::verifying_key::VerifyingKey;

/// `EM = I2OSP(s^e mod n, k)` for a signature of exactly `k` octets
/// (the modulus' length), or `None` when `s` is not below the modulus.
pub fn recover_encoded_message(key: &VerifyingKey, signature: &[u8]) -> Option<Vec<u8>> {
    let k = key.size();
    if signature.len() != k {
        return None;
    }
    let s = BoxedUint::from_be_slice(signature, key.n().bits_precision()).ok()?;
    if s >= *key.n() {
        return None;
    }
    let e = key.e();
    let base = BoxedMontyForm::new(s, key.params());
    // Left to right over the exponent's bits below its leading one (the
    // key's policy makes e at least 3, so there is at least one).
    let mut power = base.clone();
    for bit in (0..e.bit_width_vartime().saturating_sub(1)).rev() {
        power = power.square();
        if e.bit_vartime(bit) {
            power = &power * &base;
        }
    }
    let m = power.retrieve().to_be_bytes();
    // The integer's storage is whole 64-bit limbs, at least k octets; m < n
    // leaves the octets above k zero.
    let (high, em) = m.split_at(m.len().checked_sub(k)?);
    high.iter().all(|&b| b == 0).then(|| em.to_vec())
}

/// RSASSA-PKCS1-v1_5 (RFC 8017 §8.2.2): `em` must be exactly
/// `0x00 0x01 FF.. 0x00 || DigestInfo(digest)`, compared whole.
pub fn pkcs1v15_matches(em: &[u8], digest_info_prefix: &[u8], digest: &[u8]) -> bool {
    // The DigestInfo's last octet is the digest's length.
    if digest_info_prefix.last().map(|&n| usize::from(n)) != Some(digest.len()) {
        return false;
    }
    let k = em.len();
    let t_len = digest_info_prefix.len() + digest.len();
    if k < t_len + 11 {
        return false;
    }
    let padding = k - t_len - 3;
    em[0] == 0x00
        && em[1] == 0x01
        && em[2..2 + padding].iter().all(|&b| b == 0xff)
        && em[2 + padding] == 0x00
        && &em[k - t_len..k - digest.len()] == digest_info_prefix
        && &em[k - digest.len()..] == digest
}

/// EMSA-PSS-VERIFY (RFC 8017 §9.1.2) with MGF1 over `D` and a salt as
/// long as `D`'s output. `em` is the k-octet `I2OSP(m, k)`; `modulus_bits`
/// sets emBits = modBits - 1.
pub fn pss_matches<D: Digest>(em: &[u8], digest: &[u8], modulus_bits: usize) -> bool {
    let h_len = <D as Digest>::output_size();
    let s_len = h_len;
    let Some(em_bits) = modulus_bits.checked_sub(1) else {
        return false;
    };
    let em_len = em_bits.div_ceil(8);
    // emLen is k or k - 1; in the second case the leading octet is zero.
    let Some(extra) = em.len().checked_sub(em_len) else {
        return false;
    };
    if em[..extra].iter().any(|&b| b != 0) {
        return false;
    }
    let em = &em[extra..];
    if digest.len() != h_len || em_len < h_len + s_len + 2 || em[em_len - 1] != 0xbc {
        return false;
    }
    let (masked_db, rest) = em.split_at(em_len - h_len - 1);
    let h = &rest[..h_len];
    // The leftmost 8 * emLen - emBits bits (0 to 7) must be zero.
    let top_bits = 0xffu8 >> (8 * em_len - em_bits);
    if masked_db[0] & !top_bits != 0 {
        return false;
    }
    let mut db = masked_db.to_vec();
    mgf1_xor::<D>(&mut db, h);
    db[0] &= top_bits;
    let zeros = em_len - h_len - s_len - 2;
    if db[..zeros].iter().any(|&b| b != 0) || db[zeros] != 0x01 {
        return false;
    }
    let salt = &db[db.len() - s_len..];
    let mut hash = D::new();
    hash.update([0u8; 8]);
    hash.update(digest);
    hash.update(salt);
    hash.finalize().as_slice() == h
}

/// `out ^= MGF1(seed, out.len())` (RFC 8017 appendix B.2.1).
fn mgf1_xor<D: Digest>(out: &mut [u8], seed: &[u8]) {
    for (counter, chunk) in (0u32..).zip(out.chunks_mut(<D as Digest>::output_size())) {
        let mut hash = D::new();
        hash.update(seed);
        hash.update(counter.to_be_bytes());
        for (byte, mask) in chunk.iter_mut().zip(hash.finalize().iter()) {
            *byte ^= mask;
        }
    }
}
