//! Access tokens: EdDSA (Ed25519) JWTs with a `kid`, signed by keys kept in
//! PostgreSQL so every host shares them, rotated on a schedule, and
//! published at `/.well-known/jwks.json` and in Redis (`jwtkeys:{kid}`, for
//! other services that check Sigil's tokens). Verification trusts only
//! keys read from PostgreSQL: whoever can write to Redis cannot mint
//! tokens.
//!
//! Verification accepts only `EdDSA`, only keys this service issued (by
//! `kid`), and checks `iss`, `aud`, `exp`, `nbf` (30 s leeway) and that
//! `jti`, `sub` and `sid` are present.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::cache::Redis;
use crate::config::AuthConfig;
use crate::store::tokens::SigningKeyRow;
use crate::store::{Store, StoreError};

use super::api_tokens::ApiTokenThrottles;
use super::sealing::{KeySealer, SealError};
use super::verified::VerifiedTokens;

/// Claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The user's id.
    pub sub: Uuid,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Not before.
    pub nbf: i64,
    /// Issued at.
    pub iat: i64,
    /// Token id (revocation handle).
    pub jti: Uuid,
    /// Login session (refresh-token family).
    pub sid: Uuid,
}

/// An issued access token.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The compact JWS.
    pub token: String,
    /// Its claims.
    pub claims: Claims,
}

/// Why a token is refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Not a JWT, wrong algorithm, bad signature, wrong claims...
    #[error("invalid token: {0}")]
    Invalid(String),
    /// Past `exp`.
    #[error("the token has expired")]
    Expired,
    /// Signed by a key this service does not know.
    #[error("the token's signing key is unknown")]
    UnknownKey,
    /// The key store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A signing key could not be sealed (or the secret not derived).
    #[error(transparent)]
    Sealing(#[from] SealError),
}

/// A key in the ring.
struct RingKey {
    kid: String,
    public: [u8; 32],
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
    created_at: DateTime<Utc>,
    retire_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

/// A JSON Web Key (public, Ed25519).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Jwk {
    /// `OKP`.
    pub kty: String,
    /// `Ed25519`.
    pub crv: String,
    /// The public key, base64url.
    pub x: String,
    /// Key id.
    pub kid: String,
    /// `EdDSA`.
    pub alg: String,
    /// `sig`.
    #[serde(rename = "use")]
    pub use_: String,
}

/// The JWKS document.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Jwks {
    /// Keys that verify current tokens.
    pub keys: Vec<Jwk>,
}

/// Issues and verifies access tokens.
pub struct Tokens {
    store: Store,
    redis: Redis,
    config: AuthConfig,
    ring: ArcSwap<Vec<Arc<RingKey>>>,
    reload: tokio::sync::Mutex<()>,
    last_reload: std::sync::Mutex<Option<std::time::Instant>>,
    verified: VerifiedTokens,
    sealer: KeySealer,
    api_throttles: ApiTokenThrottles,
}

/// Least time between two reloads caused by unknown key ids.
const RELOAD_INTERVAL: Duration = Duration::from_secs(5);

/// Leeway for clock differences between hosts.
pub const LEEWAY_SECS: u64 = 30;

impl Tokens {
    /// This host's throttles of API-token use records.
    pub fn api_throttles(&self) -> &ApiTokenThrottles {
        &self.api_throttles
    }

    /// The sealer of keys and deployment secrets at rest.
    pub fn sealer(&self) -> &KeySealer {
        &self.sealer
    }

    /// Load the key ring, creating a signing key if none is current.
    pub async fn new(store: Store, redis: Redis, config: AuthConfig) -> Result<Self, TokenError> {
        let sealer = KeySealer::new(config.signing_key_secret.expose())?;
        if !sealer.seals() {
            tracing::warn!(
                "auth.signing_key_secret is not set: token signing keys are stored unsealed in PostgreSQL"
            );
        }
        let tokens = Self {
            sealer,
            verified: VerifiedTokens::new(config.verified_token_cache),
            store,
            redis,
            config,
            ring: ArcSwap::from_pointee(Vec::new()),
            reload: tokio::sync::Mutex::new(()),
            last_reload: std::sync::Mutex::new(None),
            api_throttles: ApiTokenThrottles::default(),
        };
        tokens.rotate_if_due().await?;
        Ok(tokens)
    }

    /// Reload keys from the store and add a signing key when the newest one
    /// retires within the next access-token lifetime. Hosts call this
    /// periodically; two hosts rotating at once just add two keys.
    pub async fn rotate_if_due(&self) -> Result<(), TokenError> {
        let _guard = self.reload.lock().await;
        self.reload_ring().await?;
        let horizon = Utc::now() + chrono::Duration::seconds(self.access_ttl_secs());
        let current = self
            .ring
            .load()
            .iter()
            .any(|k| k.encoding.is_some() && k.retire_at > horizon);
        if !current {
            let row = self.generate_key()?;
            self.store.insert_signing_key(&row).await?;
            tracing::info!(kid = %row.kid, "created a new token signing key");
            self.reload_ring().await?;
        }
        Ok(())
    }

    fn access_ttl_secs(&self) -> i64 {
        i64::try_from(self.config.access_token_ttl_secs).unwrap_or(900)
    }

    async fn reload_ring(&self) -> Result<(), TokenError> {
        let rows = self.store.signing_keys().await?;
        let mut ring = Vec::with_capacity(rows.len());
        for row in rows {
            let Ok(public) = <[u8; 32]>::try_from(row.public_key.as_slice()) else {
                tracing::error!(kid = %row.kid, "stored signing key has a malformed public key; skipped");
                continue;
            };
            self.publish_public_key(&row.kid, &public, row.expires_at)
                .await;
            // A key this host cannot open (another secret, or none) still
            // verifies; rotate_if_due then makes a key this host can sign with.
            let encoding = match self.sealer.open(&row.kid, &row.private_key) {
                Ok(der) => Some(EncodingKey::from_ed_der(&der)),
                Err(error) => {
                    tracing::error!(kid = %row.kid, %error, "cannot sign with a stored signing key");
                    None
                }
            };
            ring.push(Arc::new(RingKey {
                decoding: DecodingKey::from_ed_der(&public),
                encoding,
                kid: row.kid,
                public,
                created_at: row.created_at,
                retire_at: row.retire_at,
                expires_at: row.expires_at,
            }));
        }
        ring.sort_by_key(|key| std::cmp::Reverse(key.created_at));
        self.ring.store(Arc::new(ring));
        Ok(())
    }

    /// Cache a verification key in Redis for other hosts (best effort).
    async fn publish_public_key(&self, kid: &str, public: &[u8; 32], expires_at: DateTime<Utc>) {
        let ttl = (expires_at - Utc::now()).num_seconds();
        if ttl <= 0 {
            return;
        }
        let key = self.redis.key(&format!("jwtkeys:{kid}"));
        let value = URL_SAFE_NO_PAD.encode(public);
        let _ = self
            .redis
            .run(|mut conn| async move {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(value)
                    .arg("EX")
                    .arg(ttl)
                    .query_async::<()>(&mut conn)
                    .await
            })
            .await;
    }

    fn generate_key(&self) -> Result<SigningKeyRow, TokenError> {
        let mut seed = [0u8; 32];
        rand::fill(&mut seed);
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        let private = signing
            .to_pkcs8_der()
            .map_err(|e| TokenError::Invalid(format!("encoding a new key: {e}")))?;
        let public = signing.verifying_key().to_bytes();
        let now = Utc::now();
        let rotation = chrono::Duration::seconds(
            i64::try_from(self.config.signing_key_rotation_secs).unwrap_or(2_592_000),
        );
        let retire_at = now + rotation;
        let kid = thumbprint(&public);
        Ok(SigningKeyRow {
            private_key: self.sealer.seal(&kid, private.as_bytes())?,
            kid,
            public_key: public.to_vec(),
            created_at: now,
            retire_at,
            expires_at: retire_at + chrono::Duration::seconds(self.access_ttl_secs() + 300),
        })
    }

    /// Issue an access token for `user` in session `sid`.
    pub fn issue(&self, user: Uuid, sid: Uuid) -> Result<IssuedToken, TokenError> {
        let now = Utc::now();
        let ring = self.ring.load();
        // Sign with a key other hosts have had time to load (a new key
        // becomes the signer a minute after its creation), else the newest.
        let settled = now - chrono::Duration::seconds(60);
        let signing = |k: &&Arc<RingKey>| k.encoding.is_some() && k.retire_at > now;
        let key = ring
            .iter()
            .filter(signing)
            .find(|k| k.created_at <= settled)
            .or_else(|| ring.iter().find(signing))
            .ok_or_else(|| TokenError::Invalid("no current signing key".into()))?;
        let encoding = key
            .encoding
            .as_ref()
            .ok_or_else(|| TokenError::Invalid("no signing key".into()))?;
        let claims = Claims {
            iss: self.config.issuer.clone(),
            aud: self.config.audience.clone(),
            sub: user,
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: now.timestamp() + self.access_ttl_secs(),
            jti: Uuid::new_v4(),
            sid,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, encoding)
            .map_err(|e| TokenError::Invalid(format!("signing: {e}")))?;
        Ok(IssuedToken { token, claims })
    }

    /// Verify a token and return its claims. A token this host has already
    /// verified is answered from [`VerifiedTokens`] while it is unexpired
    /// and its signing key still verifies.
    pub async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let now = Utc::now();
        let key_verifies = |kid: &str| live_key(&self.ring.load(), kid, now).is_some();
        if let Some(claims) = self.verified.get(token, now.timestamp(), key_verifies) {
            return Ok(claims);
        }
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| TokenError::Invalid(e.to_string()))?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Invalid(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| TokenError::Invalid("no kid".into()))?;
        let key = self.find_key(&kid).await?.ok_or(TokenError::UnknownKey)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub", "jti"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid(e.to_string()),
            })?;
        self.verified
            .insert(token, &kid, &claims, Utc::now().timestamp());
        Ok(claims)
    }

    /// The verification key for `kid`: from the ring, else from Redis (a key
    /// another host just created), else from PostgreSQL.
    async fn find_key(&self, kid: &str) -> Result<Option<DecodingKey>, TokenError> {
        let now = Utc::now();
        let lookup = |ring: &[Arc<RingKey>]| live_key(ring, kid, now).map(|k| k.decoding.clone());
        if let Some(key) = lookup(&self.ring.load()) {
            return Ok(Some(key));
        }
        if kid.len() > 64
            || !kid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Ok(None);
        }
        // An unknown kid may be a key another host just created: reload from
        // PostgreSQL (the only source trusted for verification keys), at
        // most once per RELOAD_INTERVAL so that forged kids cannot make
        // every request a database query.
        let _guard = self.reload.lock().await;
        if let Some(key) = lookup(&self.ring.load()) {
            return Ok(Some(key));
        }
        {
            let mut last = self
                .last_reload
                .lock()
                .map_err(|_| TokenError::Invalid("reload lock".into()))?;
            if last.is_some_and(|t| t.elapsed() < RELOAD_INTERVAL) {
                return Ok(None);
            }
            *last = Some(std::time::Instant::now());
        }
        self.reload_ring().await?;
        Ok(lookup(&self.ring.load()))
    }

    /// Public keys of every key that still verifies.
    pub fn jwks(&self) -> Jwks {
        let now = Utc::now();
        Jwks {
            keys: self
                .ring
                .load()
                .iter()
                .filter(|k| k.expires_at > now)
                .map(|k| Jwk {
                    kty: "OKP".into(),
                    crv: "Ed25519".into(),
                    x: URL_SAFE_NO_PAD.encode(k.public),
                    kid: k.kid.clone(),
                    alg: "EdDSA".into(),
                    use_: "sig".into(),
                })
                .collect(),
        }
    }

    /// Access-token lifetime.
    pub fn access_ttl(&self) -> Duration {
        Duration::from_secs(self.config.access_token_ttl_secs)
    }
}

/// The key `kid` of `ring` if it still verifies at `now`.
fn live_key<'a>(ring: &'a [Arc<RingKey>], kid: &str, now: DateTime<Utc>) -> Option<&'a RingKey> {
    ring.iter()
        .find(|k| k.kid == kid && k.expires_at > now)
        .map(Arc::as_ref)
}

/// RFC 7638 thumbprint of an Ed25519 JWK, base64url: the key id.
fn thumbprint(public: &[u8; 32]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}
