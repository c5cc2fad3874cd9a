//! The contract's vocabulary on the host side: serialisable, named the way
//! the HTTP API spells them, and converted to and from the generated
//! bindings at the sandbox boundary only.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::bindings as wit;

macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal => $wit:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name the API uses.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, UnknownName> {
                $(if s.eq_ignore_ascii_case($text) { return Ok($name::$variant); })+
                Err(UnknownName { kind: stringify!($name), value: s.to_owned() })
            }
        }

        impl From<wit::$name> for $name {
            fn from(value: wit::$name) -> Self {
                match value { $(wit::$name::$wit => $name::$variant),+ }
            }
        }

        impl From<$name> for wit::$name {
            fn from(value: $name) -> Self {
                match value { $($name::$variant => wit::$name::$wit),+ }
            }
        }
    };
}

/// A name that is not one of a vocabulary's values.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownName {
    /// Which vocabulary.
    pub kind: &'static str,
    /// The name given.
    pub value: String,
}

vocabulary!(
    /// Family of a signature algorithm (`algorithms.type`).
    AlgorithmType {
        /// Elliptic-curve DSA.
        Ecdsa = "ECDSA" => Ecdsa,
        /// RSA.
        Rsa = "RSA" => Rsa,
        /// Edwards-curve DSA.
        EdDsa = "EdDSA" => Eddsa,
        /// Anything else.
        Other = "other" => Other,
    }
);

vocabulary!(
    /// How a public key is presented (`public_keys.format`).
    KeyFormat {
        /// PEM SubjectPublicKeyInfo.
        Pem = "PEM" => Pem,
        /// DER SubjectPublicKeyInfo.
        Der = "DER" => Der,
        /// The algorithm's bare key.
        Raw = "raw" => Raw,
    }
);

vocabulary!(
    /// Hash functions the host applies to documents.
    HashAlgorithm {
        /// SHA-256.
        Sha256 = "sha256" => Sha256,
        /// SHA-384.
        Sha384 = "sha384" => Sha384,
        /// SHA-512.
        Sha512 = "sha512" => Sha512,
        /// SHA3-256.
        Sha3_256 = "sha3-256" => Sha3256,
        /// Keccak-256 (Ethereum).
        Keccak256 = "keccak256" => Keccak256,
        /// SHA3-384.
        Sha3_384 = "sha3-384" => Sha3384,
        /// SHA3-512.
        Sha3_512 = "sha3-512" => Sha3512,
    }
);

vocabulary!(
    /// Signature encodings.
    SignatureEncoding {
        /// ASN.1 DER (ECDSA).
        Der = "der" => Der,
        /// IEEE P1363 `r || s` (ECDSA).
        P1363 = "p1363" => P1363,
        /// The algorithm's only encoding (Ed25519, RSA).
        Raw = "raw" => Raw,
    }
);

vocabulary!(
    /// Signature schemes (RSA paddings, Ethereum's message prefix).
    SignatureScheme {
        /// The algorithm's only scheme.
        Plain = "plain" => Plain,
        /// RSASSA-PKCS1-v1_5.
        Pkcs1v15 = "pkcs1v15" => Pkcs1v15,
        /// RSASSA-PSS.
        Pss = "pss" => Pss,
        /// Ethereum `personal_sign` (EIP-191).
        Eip191 = "eip191" => Eip191,
    }
);

vocabulary!(
    /// Whether a plugin takes a digest or the document.
    MessageInput {
        /// A digest made by the host.
        Digest = "digest" => Digest,
        /// The raw document.
        RawMessage = "raw-message" => RawMessage,
    }
);

impl HashAlgorithm {
    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlgorithm::Sha256 | HashAlgorithm::Sha3_256 | HashAlgorithm::Keccak256 => 32,
            HashAlgorithm::Sha384 | HashAlgorithm::Sha3_384 => 48,
            HashAlgorithm::Sha512 | HashAlgorithm::Sha3_512 => 64,
        }
    }

    /// Hash `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        use sha2::Digest as _;
        match self {
            HashAlgorithm::Sha256 => sha2::Sha256::digest(data).to_vec(),
            HashAlgorithm::Sha384 => sha2::Sha384::digest(data).to_vec(),
            HashAlgorithm::Sha512 => sha2::Sha512::digest(data).to_vec(),
            HashAlgorithm::Sha3_256 => sha3::Sha3_256::digest(data).to_vec(),
            HashAlgorithm::Keccak256 => sha3::Keccak256::digest(data).to_vec(),
            HashAlgorithm::Sha3_384 => sha3::Sha3_384::digest(data).to_vec(),
            HashAlgorithm::Sha3_512 => sha3::Sha3_512::digest(data).to_vec(),
        }
    }
}

/// A curve a plugin serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurveSpec {
    /// Curve name (`P-256`).
    pub name: String,
    /// One line for humans.
    pub description: String,
    /// Curve parameters (JSON object).
    pub parameters: serde_json::Value,
}

/// What a plugin says it is and accepts (the contract's `descriptor`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// Plugin name.
    pub name: String,
    /// Plugin version.
    pub version: String,
    /// Algorithm name (`algorithms.name`).
    pub algorithm: String,
    /// Algorithm family.
    pub algorithm_type: AlgorithmType,
    /// One line about the algorithm.
    pub description: String,
    /// Curves served (empty for RSA).
    pub curves: Vec<CurveSpec>,
    /// Key formats `parse-key` accepts.
    pub key_formats: Vec<KeyFormat>,
    /// Digest or raw message.
    pub input: MessageInput,
    /// Hashes accepted (digest plugins).
    pub hashes: Vec<HashAlgorithm>,
    /// Hash used when a request names none.
    pub default_hash: Option<HashAlgorithm>,
    /// Signature encodings; the first is the default.
    pub signature_encodings: Vec<SignatureEncoding>,
    /// Signature schemes; the first is the default.
    pub schemes: Vec<SignatureScheme>,
    /// Longest context string accepted (0: none).
    #[serde(default)]
    pub max_context_bytes: u32,
}

/// The longest context string FIPS 204 and 205 allow.
pub const MAX_CONTEXT_BYTES: u32 = 255;

/// Longest `recovered` text accepted from a plugin.
const MAX_RECOVERED: usize = 128;

/// Longest PEM label accepted from a plugin.
const MAX_PEM_LABEL: usize = 32;

/// Longest plugin, algorithm or curve name accepted from a descriptor
/// (the catalogue columns are VARCHAR(32) and VARCHAR(64)).
const MAX_NAME: usize = 32;

impl Descriptor {
    /// Convert and validate a descriptor a plugin returned.
    pub fn from_wit(d: wit::Descriptor) -> Result<Self, String> {
        let curves = d
            .parameter_sets
            .into_iter()
            .map(|c| {
                let parameters: serde_json::Value = serde_json::from_str(&c.parameters_json)
                    .map_err(|e| format!("curve {:?} parameters are not JSON: {e}", c.name))?;
                if !parameters.is_object() {
                    return Err(format!(
                        "curve {:?} parameters must be a JSON object",
                        c.name
                    ));
                }
                Ok(CurveSpec {
                    name: c.name,
                    description: c.description,
                    parameters,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let descriptor = Descriptor {
            name: d.name,
            version: d.version,
            algorithm: d.algorithm,
            algorithm_type: d.algorithm_type.into(),
            description: d.description,
            curves,
            key_formats: d.key_formats.into_iter().map(Into::into).collect(),
            input: d.input.into(),
            hashes: d.hashes.into_iter().map(Into::into).collect(),
            default_hash: d.default_hash.map(Into::into),
            signature_encodings: d.signature_encodings.into_iter().map(Into::into).collect(),
            schemes: d.schemes.into_iter().map(Into::into).collect(),
            max_context_bytes: d.max_context_bytes,
        };
        descriptor.validate()?;
        Ok(descriptor)
    }

    fn validate(&self) -> Result<(), String> {
        let name_ok = |s: &str| {
            !s.is_empty()
                && s.len() <= MAX_NAME
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if !name_ok(&self.name) {
            return Err(format!(
                "plugin name {:?} must be 1-{MAX_NAME} characters of [A-Za-z0-9._-]",
                self.name
            ));
        }
        if !name_ok(&self.algorithm) {
            return Err(format!(
                "algorithm name {:?} must be 1-{MAX_NAME} characters of [A-Za-z0-9._-]",
                self.algorithm
            ));
        }
        if self.version.is_empty() || self.version.len() > MAX_NAME {
            return Err("version must be 1-32 characters".into());
        }
        for curve in &self.curves {
            if !name_ok(&curve.name) {
                return Err(format!(
                    "curve name {:?} must be 1-{MAX_NAME} characters of [A-Za-z0-9._-]",
                    curve.name
                ));
            }
        }
        if self.algorithm_type == AlgorithmType::Ecdsa && self.curves.is_empty() {
            return Err("an ECDSA plugin must serve at least one curve".into());
        }
        if self.signature_encodings.is_empty() || self.schemes.is_empty() {
            return Err(
                "a plugin must declare at least one signature encoding and one scheme".into(),
            );
        }
        if self.key_formats.is_empty() {
            return Err("a plugin must accept at least one key format".into());
        }
        if self.max_context_bytes > MAX_CONTEXT_BYTES {
            return Err(format!(
                "max-context-bytes is at most {MAX_CONTEXT_BYTES}, got {}",
                self.max_context_bytes
            ));
        }
        match self.input {
            MessageInput::Digest => {
                if self.hashes.is_empty() {
                    return Err("a digest-taking plugin must declare its hashes".into());
                }
                match self.default_hash {
                    Some(h) if self.hashes.contains(&h) => {}
                    _ => return Err("the default hash must be one of the declared hashes".into()),
                }
            }
            MessageInput::RawMessage => {
                if !self.hashes.is_empty() || self.default_hash.is_some() {
                    return Err("a raw-message plugin declares no hashes".into());
                }
            }
        }
        Ok(())
    }

    /// The routes this plugin serves: one per curve, or the bare algorithm.
    pub fn routes(&self) -> Vec<RouteKey> {
        if self.curves.is_empty() {
            vec![RouteKey::new(&self.algorithm, None)]
        } else {
            self.curves
                .iter()
                .map(|c| RouteKey::new(&self.algorithm, Some(&c.name)))
                .collect()
        }
    }
}

/// Where requests for an (algorithm, curve) go. Names compare without case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteKey {
    algorithm: String,
    curve: Option<String>,
}

impl RouteKey {
    /// The route for `algorithm` on `curve` (none for curve-less algorithms).
    pub fn new(algorithm: &str, curve: Option<&str>) -> Self {
        Self {
            algorithm: algorithm.to_ascii_lowercase(),
            curve: curve.map(str::to_ascii_lowercase),
        }
    }
}

impl fmt::Display for RouteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.curve {
            Some(curve) => write!(f, "{}/{}", self.algorithm, curve),
            None => f.write_str(&self.algorithm),
        }
    }
}

/// A key as the plugin canonicalised it (the contract's `key-info`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// The parameter set (curve) the key belongs to.
    pub curve: Option<String>,
    /// Key size in bits.
    pub bits: u32,
    /// The canonical key: DER SubjectPublicKeyInfo, or the algorithm's own
    /// bytes where it has none.
    #[serde(skip)]
    pub public_key: Vec<u8>,
    /// The PEM label `public_key` is stored under (`PUBLIC KEY`).
    #[serde(skip)]
    pub pem_label: String,
    /// Hex SHA-256 of `public_key`.
    pub fingerprint: String,
}

/// The PEM label of a SubjectPublicKeyInfo.
pub const SPKI_PEM_LABEL: &str = "PUBLIC KEY";

impl KeyInfo {
    /// Convert and check a key-info a plugin returned: the label must be
    /// one the host can write and read back as PEM.
    pub fn from_wit(k: wit::KeyInfo) -> Result<Self, String> {
        let label_ok = !k.pem_label.is_empty()
            && k.pem_label.len() <= MAX_PEM_LABEL
            && !k.pem_label.starts_with(' ')
            && !k.pem_label.ends_with(' ')
            && k.pem_label
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ');
        if !label_ok {
            return Err(format!(
                "pem-label {:?} must be 1-{MAX_PEM_LABEL} upper-case letters, digits and inner spaces",
                k.pem_label
            ));
        }
        if k.public_key.is_empty() {
            return Err("parse-key answered an empty public key".into());
        }
        Ok(KeyInfo {
            curve: k.curve,
            bits: k.bits,
            public_key: k.public_key,
            pem_label: k.pem_label,
            fingerprint: k.fingerprint,
        })
    }
}

/// A plugin's answer to a verification that reached a yes/no (the
/// contract's `verdict`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    /// Whether the signature is valid.
    pub valid: bool,
    /// What the signature reveals of its signer (an Ethereum address).
    pub recovered: Option<String>,
}

impl Verdict {
    /// A verdict that recovers nothing.
    pub fn of(valid: bool) -> Self {
        Verdict {
            valid,
            recovered: None,
        }
    }

    /// Whether `text` may be a verdict's `recovered`: 1 to 128 printable
    /// ASCII characters without `|`, as it goes into answers, records and
    /// the result cache's `|`-separated entries.
    pub fn recovered_is_valid(text: &str) -> bool {
        !text.is_empty()
            && text.len() <= MAX_RECOVERED
            && text.bytes().all(|b| b.is_ascii_graphic() && b != b'|')
    }

    /// Convert and check a verdict a plugin returned
    /// ([`Verdict::recovered_is_valid`]).
    pub fn from_wit(v: wit::Verdict) -> Result<Self, String> {
        if let Some(text) = &v.recovered
            && !Self::recovered_is_valid(text)
        {
            return Err(format!(
                "recovered must be 1-{MAX_RECOVERED} printable ASCII characters other than |, got {} bytes",
                text.len()
            ));
        }
        Ok(Verdict {
            valid: v.valid,
            recovered: v.recovered,
        })
    }
}

/// One verification as the host hands it to a plugin.
#[derive(Debug, Clone)]
pub struct VerifyInput {
    /// The canonical key (`KeyInfo::public_key`).
    pub key: Vec<u8>,
    /// Digest or document, per the plugin's input.
    pub message: Vec<u8>,
    /// The hash that made `message` (digest plugins).
    pub hash: Option<HashAlgorithm>,
    /// Signature bytes.
    pub signature: Vec<u8>,
    /// Signature encoding.
    pub encoding: SignatureEncoding,
    /// Signature scheme.
    pub scheme: SignatureScheme,
    /// Context string (empty: none).
    pub context: Vec<u8>,
}

impl VerifyInput {
    pub(super) fn into_wit(self) -> wit::VerifyRequest {
        wit::VerifyRequest {
            key: self.key,
            message: self.message,
            hash: self.hash.map(Into::into),
            signature: self.signature,
            encoding: self.encoding.into(),
            scheme: self.scheme.into(),
            context: self.context,
        }
    }
}
