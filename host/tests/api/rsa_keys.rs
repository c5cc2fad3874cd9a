//! The RSA plugin reads a key twice: at registration through the `rsa`
//! crate (`parse-key`), and on every verification through its own lean
//! decoder, without the crate's constant-time Montgomery setup. The two
//! must accept the same keys and refuse the others with the same code;
//! this checks them side by side on keys made to sit on every boundary.

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use sha2::Digest as _;
use sigil::plugins::{HashAlgorithm, KeyFormat, SignatureEncoding, SignatureScheme, VerifyInput};

/// DER: a tag, its length, its content.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(u8::try_from(len).expect("short"));
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | u8::try_from(bytes.len()).expect("length of length"));
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A DER INTEGER of the unsigned big-endian `magnitude` (minimal).
fn integer(magnitude: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = magnitude.iter().copied().skip_while(|&b| b == 0).collect();
    let mut content = if trimmed.first().is_some_and(|&b| b & 0x80 != 0) {
        vec![0]
    } else {
        Vec::new()
    };
    content.extend(if trimmed.is_empty() { vec![0] } else { trimmed });
    tlv(0x02, &content)
}

const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const RSASSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const NULL: &[u8] = &[0x05, 0x00];

/// An SPKI: algorithm `oid` with `parameters` (DER, or none), and `key`
/// in a BIT STRING with `unused` bits.
fn spki(oid: &[u8], parameters: Option<&[u8]>, key: &[u8], unused: u8) -> Vec<u8> {
    let mut algorithm = tlv(0x06, oid);
    if let Some(parameters) = parameters {
        algorithm.extend_from_slice(parameters);
    }
    let mut bits = vec![unused];
    bits.extend_from_slice(key);
    let mut content = tlv(0x30, &algorithm);
    content.extend(tlv(0x03, &bits));
    tlv(0x30, &content)
}

/// A PKCS #1 RSAPublicKey of two INTEGERs already encoded.
fn pkcs1(n: &[u8], e: &[u8]) -> Vec<u8> {
    tlv(0x30, &[n, e].concat())
}

/// The usual SPKI of modulus `n` and exponent `e`.
fn rsa_spki(n: &[u8], e: &[u8]) -> Vec<u8> {
    spki(
        RSA_ENCRYPTION,
        Some(NULL),
        &pkcs1(&integer(n), &integer(e)),
        0,
    )
}

#[test]
fn rsa_verification_reads_keys_exactly_as_registration_does() {
    let plugin = crate::helpers::plugin("rsa");
    let modulus = |bits: u32| Rsa::generate(bits).expect("key").n().to_vec();
    let n2048 = modulus(2048);
    let n1024 = modulus(1024);
    let n8192_plus = {
        // Odd, 8200 bits: above what either accepts.
        let mut n = vec![0xc5; 1025];
        n[0] = 0x80;
        n
    };
    let mut even = n2048.clone();
    *even.last_mut().expect("bytes") &= 0xfe;
    let f4 = [0x01, 0x00, 0x01];
    let big_e = (1u64 << 33) + 1;
    let e_at_most = (1u64 << 33) - 1;
    let pkcs1_good = pkcs1(&integer(&n2048), &integer(&f4));
    let negative_n = {
        // The modulus without its leading zero: a negative INTEGER.
        let mut content = n2048.clone();
        content[0] |= 0x80;
        tlv(0x02, &content)
    };
    let padded_n = {
        let mut content = vec![0, 0];
        content.extend_from_slice(&n2048);
        tlv(0x02, &content)
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("genuine 2048-bit, e = 65537", rsa_spki(&n2048, &f4)),
        ("e = 3", rsa_spki(&n2048, &[3])),
        ("e = 2^33 - 1", rsa_spki(&n2048, &e_at_most.to_be_bytes())),
        (
            "1024-bit modulus (the crate's floor, under policy)",
            rsa_spki(&n1024, &f4),
        ),
        ("8200-bit modulus", rsa_spki(&n8192_plus, &f4)),
        ("even modulus", rsa_spki(&even, &f4)),
        ("e = 1", rsa_spki(&n2048, &[1])),
        ("e = 2", rsa_spki(&n2048, &[2])),
        ("e = 4", rsa_spki(&n2048, &[4])),
        ("e = 2^33 + 1", rsa_spki(&n2048, &big_e.to_be_bytes())),
        ("e = n", rsa_spki(&n2048, &n2048)),
        ("e = 0", rsa_spki(&n2048, &[0])),
        ("modulus 0", rsa_spki(&[0], &f4)),
        (
            "negative modulus",
            spki(
                RSA_ENCRYPTION,
                Some(NULL),
                &pkcs1(&negative_n, &integer(&f4)),
                0,
            ),
        ),
        (
            "non-minimal modulus",
            spki(
                RSA_ENCRYPTION,
                Some(NULL),
                &pkcs1(&padded_n, &integer(&f4)),
                0,
            ),
        ),
        ("no parameters", spki(RSA_ENCRYPTION, None, &pkcs1_good, 0)),
        (
            "OCTET STRING parameters",
            spki(RSA_ENCRYPTION, Some(&[0x04, 0x00]), &pkcs1_good, 0),
        ),
        (
            "RSASSA-PSS algorithm",
            spki(RSASSA_PSS, None, &pkcs1_good, 0),
        ),
        (
            "ecPublicKey algorithm",
            spki(EC_PUBLIC_KEY, Some(NULL), &pkcs1_good, 0),
        ),
        (
            "BIT STRING with unused bits",
            spki(RSA_ENCRYPTION, Some(NULL), &pkcs1_good, 1),
        ),
        (
            "trailing octets after the RSAPublicKey",
            spki(
                RSA_ENCRYPTION,
                Some(NULL),
                &[pkcs1_good.clone(), vec![0]].concat(),
                0,
            ),
        ),
        (
            "trailing octets after the SPKI",
            [rsa_spki(&n2048, &f4), vec![0]].concat(),
        ),
        (
            "a third INTEGER",
            spki(
                RSA_ENCRYPTION,
                Some(NULL),
                &pkcs1(&integer(&n2048), &[integer(&f4), integer(&[1])].concat()),
                0,
            ),
        ),
        ("not DER at all", b"not a key".to_vec()),
    ];
    let digest = sha2::Sha256::digest(b"document").to_vec();
    let mut accepted = 0;
    for (label, der) in cases {
        let registered = plugin
            .parse_key(&der, KeyFormat::Der, None)
            .expect("parse-key call");
        // A signature of the modulus' length (zero: below any modulus), so
        // only the key can make verification refuse.
        let k = registered.as_ref().map_or(256, |info| {
            usize::try_from(info.bits.div_ceil(8)).expect("octets")
        });
        let verified = plugin
            .verify(VerifyInput {
                key: der,
                message: digest.clone(),
                hash: Some(HashAlgorithm::Sha256),
                signature: vec![0; k],
                encoding: SignatureEncoding::Raw,
                scheme: SignatureScheme::Pkcs1v15,
                context: Vec::new(),
            })
            .expect("verify call");
        match (&registered, &verified) {
            (Ok(_), Ok(verdict)) => {
                assert!(!verdict.valid, "{label}: a zero signature verified");
                accepted += 1;
            }
            (Err(at_registration), Err(at_verification)) => assert_eq!(
                at_registration.code(),
                at_verification.code(),
                "{label}: registration said {at_registration}, verification {at_verification}"
            ),
            _ => panic!("{label}: registration {registered:?}, verification {verified:?}"),
        }
    }
    // The three good keys; the 1024-bit one is refused by policy.
    assert_eq!(accepted, 3);

    // And a genuine signature verifies on the lean path.
    let key = Rsa::generate(2048).expect("key");
    let private = PKey::from_rsa(key).expect("pkey");
    let mut signer = Signer::new(MessageDigest::sha256(), &private).expect("signer");
    let signature = signer.sign_oneshot_to_vec(b"document").expect("sign");
    let verdict = plugin
        .verify(VerifyInput {
            key: private.public_key_to_der().expect("der"),
            message: digest,
            hash: Some(HashAlgorithm::Sha256),
            signature,
            encoding: SignatureEncoding::Raw,
            scheme: SignatureScheme::Pkcs1v15,
            context: Vec::new(),
        })
        .expect("call")
        .expect("verdict");
    assert!(verdict.valid);
}
