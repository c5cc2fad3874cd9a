//! A key as a verification uses it: the modulus and exponent out of the
//! SPKI, checked as the `rsa` crate and the plugin's policy check them,
//! with Montgomery parameters computed in variable time.
//!
//! The `rsa` crate derives a key's Montgomery parameters in constant time
//! (`R mod n` and `R² mod n` by constant-time division), a cost paid on
//! every call since each call is a fresh instance, and pointless for a
//! public modulus. `parse_key` still builds the crate's key (it holds the
//! policy at registration and re-encodes the SPKI); `verify` takes this
//! path, which accepts exactly the keys that one does (a test checks both
//! on the same keys).

use crypto_bigint::modular::BoxedMontyParams;
use crypto_bigint::{Integer as _, Odd};
use rsa_crate::BoxedUint;
use rsa_crate::PublicKey as RsaPublicKey;
use rsa_crate::pkcs1::RsaPublicKeyRef;
use rsa_crate::pkcs8::spki::der::Decode;
use rsa_crate::pkcs8::spki::der::asn1::Null;
use sigil_plugin_sdk::Error;

/// The modulus sizes the `rsa` crate accepts at all (its `PublicKey::new`);
/// the plugin's policy (`check_policy`) narrows them.
const CRATE_MIN_BITS: u32 = RsaPublicKey::MIN_SIZE as u32;
const CRATE_MAX_BITS: u32 = RsaPublicKey::MAX_SIZE as u32;

/// An RSA public key ready for `s^e mod n`.
pub struct VerifyingKey {
    n: BoxedUint,
    e: BoxedUint,
    params: BoxedMontyParams,
}

impl VerifyingKey {
    /// Decode an `rsaEncryption` SPKI and check it as `decode_spki` and
    /// `check_policy` do, with the same kinds of error.
    pub fn from_spki(der: &[u8]) -> Result<Self, Error> {
        let spki = super::rsa_encryption_spki(der)?;
        let malformed =
            |why: &str| Error::malformed_key(format!("not a valid RSA public key: {why}"));
        // rsaEncryption's parameters are NULL (RFC 8017 appendix C), as the
        // crate's `verify_algorithm_id` requires.
        if !matches!(spki.algorithm.parameters_any(), Ok(any) if any == Null.into()) {
            return Err(malformed("the algorithm's parameters are not NULL"));
        }
        let pkcs1 = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| malformed("the key's BIT STRING has unused bits"))?;
        let key = RsaPublicKeyRef::from_der(pkcs1)
            .map_err(|e| malformed(&format!("not a PKCS #1 RSAPublicKey: {e}")))?;
        let integer = |bytes: &[u8]| {
            let bits = u32::try_from(bytes.len())
                .ok()
                .and_then(|n| n.checked_mul(8))
                .ok_or_else(|| malformed("an integer is too long"))?;
            BoxedUint::from_be_slice(bytes, bits).map_err(|_| malformed("an integer is too long"))
        };
        let n = integer(key.modulus.as_bytes())?;
        let e = integer(key.public_exponent.as_bytes())?;
        // The crate's `PublicKey::new`: size, then n odd and nonzero, e odd,
        // below n and from 2 to 2^33 - 1.
        let width = n.bit_width_vartime();
        if !(CRATE_MIN_BITS..=CRATE_MAX_BITS).contains(&width) {
            return Err(malformed("the modulus' size is outside what RSA keys have"));
        }
        if e >= n || bool::from(e.is_even()) {
            return Err(malformed(
                "the public exponent is even or not below the modulus",
            ));
        }
        if e < BoxedUint::from(RsaPublicKey::MIN_PUB_EXPONENT)
            || e > BoxedUint::from(RsaPublicKey::MAX_PUB_EXPONENT)
        {
            return Err(malformed("the public exponent is out of range"));
        }
        let odd = Option::<Odd<BoxedUint>>::from(Odd::new(n.clone()))
            .ok_or_else(|| malformed("the modulus is even"))?;
        super::check_policy(&n, &e)?;
        Ok(Self {
            params: BoxedMontyParams::new_vartime(odd),
            n,
            e,
        })
    }

    /// The modulus.
    pub fn n(&self) -> &BoxedUint {
        &self.n
    }

    /// The public exponent.
    pub fn e(&self) -> &BoxedUint {
        &self.e
    }

    /// The Montgomery parameters of the modulus.
    pub fn params(&self) -> &BoxedMontyParams {
        &self.params
    }

    /// The modulus' length in octets (`k` of RFC 8017).
    pub fn size(&self) -> usize {
        usize::try_from(self.n.bit_width_vartime().div_ceil(8)).unwrap_or(usize::MAX)
    }
}
