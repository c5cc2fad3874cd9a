//! Checks of a `verify-request` against what the plugin declared, so that
//! every plugin refuses undeclared hashes, encodings and schemes the same
//! way and never sees a digest of the wrong length.

use crate::{Error, HashAlgorithm, SignatureEncoding, SignatureScheme, VerifyRequest};

/// Output length in bytes of a hash.
pub fn digest_len(hash: HashAlgorithm) -> usize {
    match hash {
        HashAlgorithm::Sha256 | HashAlgorithm::Sha3256 | HashAlgorithm::Keccak256 => 32,
        HashAlgorithm::Sha384 | HashAlgorithm::Sha3384 => 48,
        HashAlgorithm::Sha512 | HashAlgorithm::Sha3512 => 64,
    }
}

/// The hash's name as the host's API spells it.
pub fn hash_name(hash: HashAlgorithm) -> &'static str {
    match hash {
        HashAlgorithm::Sha256 => "sha256",
        HashAlgorithm::Sha384 => "sha384",
        HashAlgorithm::Sha512 => "sha512",
        HashAlgorithm::Sha3256 => "sha3-256",
        HashAlgorithm::Keccak256 => "keccak256",
        HashAlgorithm::Sha3384 => "sha3-384",
        HashAlgorithm::Sha3512 => "sha3-512",
    }
}

/// For digest-taking plugins: the request names one of `accepted` and
/// `message` is exactly one digest of it. Returns the hash.
pub fn require_digest(
    request: &VerifyRequest,
    accepted: &[HashAlgorithm],
) -> Result<HashAlgorithm, Error> {
    let hash = request.hash.ok_or_else(|| {
        Error::unsupported("a digest-taking plugin needs the hash that made the digest")
    })?;
    if !accepted.contains(&hash) {
        return Err(Error::unsupported(format!(
            "hash {} is not accepted by this plugin",
            hash_name(hash)
        )));
    }
    let expected = digest_len(hash);
    if request.message.len() != expected {
        return Err(Error::unsupported(format!(
            "a {} digest is {expected} bytes, got {}",
            hash_name(hash),
            request.message.len()
        )));
    }
    Ok(hash)
}

/// The request's encoding is one of `accepted`.
pub fn require_encoding(
    request: &VerifyRequest,
    accepted: &[SignatureEncoding],
) -> Result<SignatureEncoding, Error> {
    if accepted.contains(&request.encoding) {
        Ok(request.encoding)
    } else {
        Err(Error::unsupported(format!(
            "signature encoding {:?} is not accepted by this plugin",
            request.encoding
        )))
    }
}

/// The request's scheme is one of `accepted`.
pub fn require_scheme(
    request: &VerifyRequest,
    accepted: &[SignatureScheme],
) -> Result<SignatureScheme, Error> {
    if accepted.contains(&request.scheme) {
        Ok(request.scheme)
    } else {
        Err(Error::unsupported(format!(
            "signature scheme {:?} is not accepted by this plugin",
            request.scheme
        )))
    }
}

/// The request's context string, at most `max` bytes (the descriptor's
/// `max-context-bytes`; 0 for algorithms without context strings). The
/// host already refuses longer ones; this keeps a plugin safe without it.
pub fn require_context(request: &VerifyRequest, max: usize) -> Result<&[u8], Error> {
    if request.context.len() > max {
        return Err(Error::unsupported(format!(
            "a context string of at most {max} bytes is accepted, got {}",
            request.context.len()
        )));
    }
    Ok(&request.context)
}
