//! Contract 0.1.0 in terms of 0.2.0: components built before 0.2.0 keep
//! loading and serving unchanged. 0.1.0 is 0.2.0 without context strings,
//! recovery, PEM labels, the `eip191` scheme and the SHA3-384 and SHA3-512
//! hashes, and with `curves` where
//! 0.2.0 says `parameter-sets`; each translation below is total from 0.1.0
//! and refuses only what a 0.1.0 plugin cannot have declared.

use super::bindings::{self as wit, v0_1};

/// Enums spelled the same in both versions, translated both ways.
macro_rules! same_enum {
    ($name:ident { $($variant:ident),+ $(,)? }) => {
        impl From<v0_1::$name> for wit::$name {
            fn from(value: v0_1::$name) -> Self {
                match value { $(v0_1::$name::$variant => wit::$name::$variant),+ }
            }
        }
        impl From<wit::$name> for v0_1::$name {
            fn from(value: wit::$name) -> Self {
                match value { $(wit::$name::$variant => v0_1::$name::$variant),+ }
            }
        }
    };
}

same_enum!(AlgorithmType {
    Ecdsa,
    Rsa,
    Eddsa,
    Other
});
same_enum!(KeyFormat { Pem, Der, Raw });
same_enum!(SignatureEncoding { Der, P1363, Raw });
same_enum!(MessageInput { Digest, RawMessage });

fn hash_from(value: v0_1::HashAlgorithm) -> wit::HashAlgorithm {
    match value {
        v0_1::HashAlgorithm::Sha256 => wit::HashAlgorithm::Sha256,
        v0_1::HashAlgorithm::Sha384 => wit::HashAlgorithm::Sha384,
        v0_1::HashAlgorithm::Sha512 => wit::HashAlgorithm::Sha512,
        v0_1::HashAlgorithm::Sha3256 => wit::HashAlgorithm::Sha3256,
        v0_1::HashAlgorithm::Keccak256 => wit::HashAlgorithm::Keccak256,
    }
}

fn hash_to(value: wit::HashAlgorithm) -> Result<v0_1::HashAlgorithm, String> {
    match value {
        wit::HashAlgorithm::Sha256 => Ok(v0_1::HashAlgorithm::Sha256),
        wit::HashAlgorithm::Sha384 => Ok(v0_1::HashAlgorithm::Sha384),
        wit::HashAlgorithm::Sha512 => Ok(v0_1::HashAlgorithm::Sha512),
        wit::HashAlgorithm::Sha3256 => Ok(v0_1::HashAlgorithm::Sha3256),
        wit::HashAlgorithm::Keccak256 => Ok(v0_1::HashAlgorithm::Keccak256),
        wit::HashAlgorithm::Sha3384 | wit::HashAlgorithm::Sha3512 => {
            Err("contract 0.1.0 has no sha3-384 or sha3-512".into())
        }
    }
}

fn scheme_from(value: v0_1::SignatureScheme) -> wit::SignatureScheme {
    match value {
        v0_1::SignatureScheme::Plain => wit::SignatureScheme::Plain,
        v0_1::SignatureScheme::Pkcs1v15 => wit::SignatureScheme::Pkcs1v15,
        v0_1::SignatureScheme::Pss => wit::SignatureScheme::Pss,
    }
}

fn scheme_to(value: wit::SignatureScheme) -> Result<v0_1::SignatureScheme, String> {
    match value {
        wit::SignatureScheme::Plain => Ok(v0_1::SignatureScheme::Plain),
        wit::SignatureScheme::Pkcs1v15 => Ok(v0_1::SignatureScheme::Pkcs1v15),
        wit::SignatureScheme::Pss => Ok(v0_1::SignatureScheme::Pss),
        wit::SignatureScheme::Eip191 => Err("contract 0.1.0 has no eip191 scheme".into()),
    }
}

/// A 0.1.0 descriptor: no context strings.
pub fn descriptor(d: v0_1::Descriptor) -> wit::Descriptor {
    wit::Descriptor {
        name: d.name,
        version: d.version,
        algorithm: d.algorithm,
        algorithm_type: d.algorithm_type.into(),
        description: d.description,
        parameter_sets: d
            .curves
            .into_iter()
            .map(|c| wit::ParameterSet {
                name: c.name,
                description: c.description,
                parameters_json: c.parameters_json,
            })
            .collect(),
        key_formats: d.key_formats.into_iter().map(Into::into).collect(),
        input: d.input.into(),
        hashes: d.hashes.into_iter().map(hash_from).collect(),
        default_hash: d.default_hash.map(hash_from),
        signature_encodings: d.signature_encodings.into_iter().map(Into::into).collect(),
        schemes: d.schemes.into_iter().map(scheme_from).collect(),
        max_context_bytes: 0,
    }
}

/// A 0.1.0 key-info: always a SubjectPublicKeyInfo.
pub fn key_info(k: v0_1::KeyInfo) -> wit::KeyInfo {
    wit::KeyInfo {
        curve: k.curve,
        bits: k.bits,
        public_key: k.spki_der,
        pem_label: super::contract::SPKI_PEM_LABEL.to_owned(),
        fingerprint: k.fingerprint,
    }
}

/// A 0.1.0 verdict: valid or not, nothing recovered.
pub fn verdict(valid: bool) -> wit::Verdict {
    wit::Verdict {
        valid,
        recovered: None,
    }
}

/// A request for a 0.1.0 plugin. The host has already refused a context
/// or scheme the plugin did not declare, so the errors here mean a host bug.
pub fn request(r: wit::VerifyRequest) -> Result<v0_1::VerifyRequest, String> {
    if !r.context.is_empty() {
        return Err("contract 0.1.0 carries no context string".into());
    }
    Ok(v0_1::VerifyRequest {
        key: r.key,
        message: r.message,
        hash: r.hash.map(hash_to).transpose()?,
        signature: r.signature,
        encoding: r.encoding.into(),
        scheme: scheme_to(r.scheme)?,
    })
}

/// A 0.1.0 error, case for case.
pub fn error(e: v0_1::Error) -> wit::Error {
    match e {
        v0_1::Error::MalformedKey(why) => wit::Error::MalformedKey(why),
        v0_1::Error::RejectedKey(why) => wit::Error::RejectedKey(why),
        v0_1::Error::MalformedSignature(why) => wit::Error::MalformedSignature(why),
        v0_1::Error::NonCanonicalSignature(why) => wit::Error::NonCanonicalSignature(why),
        v0_1::Error::Unsupported(why) => wit::Error::Unsupported(why),
        v0_1::Error::Internal(why) => wit::Error::Internal(why),
    }
}
