//! A key as the client sent it (PEM, DER, raw or a JWK), decoded into the
//! bytes and format a plugin's `parse-key` takes.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use super::{KeyError, NewKeyRequest};
use crate::plugins::KeyFormat;

/// Largest key accepted (an 8192-bit RSA key in PEM is about 1.5 KiB).
pub const MAX_KEY_TEXT: usize = 16 * 1024;

/// A key as sent, decoded.
#[derive(Debug, PartialEq, Eq)]
pub struct Decoded {
    /// The bytes the plugin parses.
    pub bytes: Vec<u8>,
    /// Their format.
    pub format: KeyFormat,
    /// A curve hint (a JWK's `crv`).
    pub curve: Option<String>,
    /// The format the client used (`JWK` arrives as `raw`).
    pub uploaded_as: &'static str,
}

/// Decode the key as sent into what the plugin parses (pure: no plugin,
/// no store; public for the fuzz targets).
pub fn decode(request: &NewKeyRequest) -> Result<Decoded, KeyError> {
    let text = || {
        request
            .key_data
            .as_str()
            .filter(|s| s.len() <= MAX_KEY_TEXT)
            .ok_or_else(|| {
                KeyError::MalformedKey(format!(
                    "key_data must be a string of at most {MAX_KEY_TEXT} bytes"
                ))
            })
    };
    let base64 = |s: &str| {
        STANDARD
            .decode(s.trim())
            .map_err(|e| KeyError::MalformedKey(format!("key_data is not base64: {e}")))
    };
    let decoded = |bytes, format, uploaded_as| Decoded {
        bytes,
        format,
        curve: None,
        uploaded_as,
    };
    match request.format.to_ascii_uppercase().as_str() {
        "PEM" => Ok(decoded(text()?.as_bytes().to_vec(), KeyFormat::Pem, "PEM")),
        "DER" => Ok(decoded(base64(text()?)?, KeyFormat::Der, "DER")),
        "RAW" => Ok(decoded(base64(text()?)?, KeyFormat::Raw, "raw")),
        "JWK" => {
            let (bytes, curve) = jwk_to_raw(&request.key_data)?;
            Ok(Decoded {
                curve,
                ..decoded(bytes, KeyFormat::Raw, "JWK")
            })
        }
        other => Err(KeyError::UnsupportedKeyFormat(format!(
            "format {other:?} is not PEM, DER, raw or JWK"
        ))),
    }
}

/// A public JWK (RFC 7517/7518/8037) as the plugin's raw form, with the
/// curve it names.
pub(super) fn jwk_to_raw(jwk: &serde_json::Value) -> Result<(Vec<u8>, Option<String>), KeyError> {
    let object = jwk
        .as_object()
        .ok_or_else(|| KeyError::MalformedKey("a JWK is a JSON object".into()))?;
    if object.contains_key("d") || object.contains_key("p") {
        return Err(KeyError::PrivateKeyRefused);
    }
    let field = |name: &str| -> Result<Vec<u8>, KeyError> {
        let value = object
            .get(name)
            .and_then(|v| v.as_str())
            .ok_or_else(|| KeyError::MalformedKey(format!("the JWK lacks {name:?}")))?;
        URL_SAFE_NO_PAD
            .decode(value)
            .map_err(|_| KeyError::MalformedKey(format!("JWK {name:?} is not base64url")))
    };
    match object.get("kty").and_then(|v| v.as_str()) {
        Some("EC") => {
            let crv = object
                .get("crv")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned();
            let (x, y) = (field("x")?, field("y")?);
            if x.len() != y.len() || x.is_empty() {
                return Err(KeyError::MalformedKey(
                    "JWK x and y must have the curve's size".into(),
                ));
            }
            let mut point = Vec::with_capacity(1 + x.len() * 2);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            Ok((point, Some(crv)))
        }
        Some("OKP") => {
            if object.get("crv").and_then(|v| v.as_str()) != Some("Ed25519") {
                return Err(KeyError::UnsupportedCurve(
                    "OKP JWKs are accepted for Ed25519 only".into(),
                ));
            }
            Ok((field("x")?, None))
        }
        Some("RSA") => Ok((pkcs1_public_key(&field("n")?, &field("e")?), None)),
        _ => Err(KeyError::UnsupportedKeyFormat(
            "JWK kty must be EC, OKP or RSA".into(),
        )),
    }
}

/// DER `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
pub(super) fn pkcs1_public_key(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    der_integer(n, &mut body);
    der_integer(e, &mut body);
    let mut der = vec![0x30];
    der_length(body.len(), &mut der);
    der.extend(body);
    der
}

/// A DER length: short form below 128, else long form.
fn der_length(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
}

/// A DER unsigned INTEGER: leading zeros dropped, one zero added if the
/// top bit is set (so it does not read as negative).
fn der_integer(value: &[u8], out: &mut Vec<u8>) {
    let trimmed: &[u8] = match value.iter().position(|b| *b != 0) {
        Some(start) => &value[start..],
        None => &[0],
    };
    let pad = trimmed.first().is_some_and(|b| b & 0x80 != 0);
    out.push(0x02);
    der_length(trimmed.len() + usize::from(pad), out);
    if pad {
        out.push(0);
    }
    out.extend_from_slice(trimmed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64url(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn request(format: &str, key_data: serde_json::Value) -> NewKeyRequest {
        NewKeyRequest {
            key_data,
            format: format.into(),
            algorithm: "ECDSA".into(),
            curve: None,
            name: None,
            expires_at: None,
            metadata: None,
        }
    }

    #[test]
    fn an_ec_jwk_is_an_uncompressed_point_on_its_curve() {
        let jwk =
            json!({"kty": "EC", "crv": "P-256", "x": b64url(&[1; 32]), "y": b64url(&[2; 32])});
        let (point, curve) = jwk_to_raw(&jwk).expect("point");
        assert_eq!(point.len(), 65);
        assert_eq!(point[0], 0x04);
        assert_eq!(&point[1..33], &[1; 32]);
        assert_eq!(&point[33..], &[2; 32]);
        assert_eq!(curve.as_deref(), Some("P-256"));
    }

    #[test]
    fn an_okp_jwk_is_its_x_and_an_rsa_jwk_is_pkcs1() {
        let okp = json!({"kty": "OKP", "crv": "Ed25519", "x": b64url(&[7; 32])});
        assert_eq!(jwk_to_raw(&okp).expect("okp"), (vec![7; 32], None));
        let rsa = json!({"kty": "RSA", "n": b64url(&[0xc0, 1]), "e": b64url(&[1, 0, 1])});
        let (der, curve) = jwk_to_raw(&rsa).expect("rsa");
        assert_eq!(der, pkcs1_public_key(&[0xc0, 1], &[1, 0, 1]));
        assert_eq!(curve, None);
    }

    #[test]
    fn every_unusable_jwk_has_its_code() {
        let x = b64url(&[1; 32]);
        let cases = [
            (json!("a string"), "malformed_key"),
            (
                json!({"kty": "EC", "crv": "P-256", "x": x, "y": x, "d": x}),
                "private_key_refused",
            ),
            (
                json!({"kty": "RSA", "n": x, "e": x, "p": x}),
                "private_key_refused",
            ),
            (
                json!({"kty": "EC", "crv": "P-256", "x": x}),
                "malformed_key",
            ),
            (
                json!({"kty": "EC", "crv": "P-256", "x": x, "y": b64url(&[2; 31])}),
                "malformed_key",
            ),
            (
                json!({"kty": "EC", "crv": "P-256", "x": "", "y": ""}),
                "malformed_key",
            ),
            (
                json!({"kty": "OKP", "crv": "Ed25519", "x": "not base64url!"}),
                "malformed_key",
            ),
            (
                json!({"kty": "OKP", "crv": "X25519", "x": x}),
                "unsupported_curve",
            ),
            (json!({"kty": "oct", "k": x}), "unsupported_key_format"),
            (json!({}), "unsupported_key_format"),
        ];
        for (jwk, code) in cases {
            let error = jwk_to_raw(&jwk).expect_err("refused");
            assert_eq!(error.code(), code, "{jwk}");
        }
    }

    #[test]
    fn pkcs1_integers_are_minimal_and_unsigned() {
        // Leading zeros dropped; a set top bit gets one zero byte.
        assert_eq!(
            pkcs1_public_key(&[0, 0, 0x7f], &[0x80]),
            vec![0x30, 0x07, 0x02, 0x01, 0x7f, 0x02, 0x02, 0x00, 0x80]
        );
        // An all-zero integer is one zero byte.
        assert_eq!(
            pkcs1_public_key(&[0, 0], &[1]),
            vec![0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01]
        );
    }

    #[test]
    fn pkcs1_lengths_use_the_long_form_from_128_bytes() {
        let n = [0x01; 256];
        let der = pkcs1_public_key(&n, &[1, 0, 1]);
        // SEQUENCE of 4 + 256 + 5 = 265 bytes: 0x82 0x01 0x09.
        assert_eq!(&der[..4], &[0x30, 0x82, 0x01, 0x09]);
        assert_eq!(&der[4..8], &[0x02, 0x82, 0x01, 0x00]);
        assert_eq!(der.len(), 4 + 265);
        let mut short = Vec::new();
        der_length(127, &mut short);
        assert_eq!(short, vec![127]);
        let mut long = Vec::new();
        der_length(128, &mut long);
        assert_eq!(long, vec![0x81, 128]);
    }

    #[test]
    fn keys_decode_by_format_whatever_its_case() {
        let pem = decode(&request("pem", json!("-----BEGIN PUBLIC KEY-----"))).expect("pem");
        assert_eq!((pem.format, pem.uploaded_as), (KeyFormat::Pem, "PEM"));
        let der = decode(&request("DER", json!("AAEC"))).expect("der");
        assert_eq!((der.bytes, der.format), (vec![0, 1, 2], KeyFormat::Der));
        let raw = decode(&request("Raw", json!("AAEC"))).expect("raw");
        assert_eq!((raw.format, raw.uploaded_as), (KeyFormat::Raw, "raw"));
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64url(&[7; 32])});
        let jwk = decode(&request("jwk", jwk)).expect("jwk");
        assert_eq!((jwk.format, jwk.uploaded_as), (KeyFormat::Raw, "JWK"));
    }

    #[test]
    fn undecodable_keys_have_their_codes() {
        let cases = [
            (request("PEM", json!({"not": "text"})), "malformed_key"),
            (
                request("PEM", json!("x".repeat(MAX_KEY_TEXT + 1))),
                "malformed_key",
            ),
            (request("DER", json!("%%%")), "malformed_key"),
            (request("SSH", json!("AAAA")), "unsupported_key_format"),
        ];
        for (request, code) in cases {
            assert_eq!(decode(&request).expect_err("refused").code(), code);
        }
    }
}
