//! PostgreSQL: the pool, transactions that act for a user (row-level
//! security), bounded retries of transient failures, typed errors, and one
//! module per group of tables. Every query is a compile-checked
//! `sqlx::query!` (offline data in `.sqlx/`), so nothing is ever spliced
//! into SQL.

#[macro_use]
mod status;

pub mod api_tokens;
pub mod audit;
pub mod catalog;
pub mod history;
pub mod integrity;
pub mod keys;
pub mod migrations;
pub mod plugins;
pub mod text;
pub mod tokens;
pub mod users;
pub mod verifications;

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::config::DatabaseConfig;
use crate::metrics::Sample;

/// A database transaction.
pub type Tx = Transaction<'static, Postgres>;

/// A transaction acting for one user (see [`Store::acting_for`]) whose
/// commit fails with a [`StoreError`] like everything else here.
#[derive(Debug)]
pub struct ActingTx(Tx);

impl ActingTx {
    /// Commit the transaction.
    pub async fn commit(self) -> Result<(), StoreError> {
        Ok(self.0.commit().await?)
    }
}

impl Deref for ActingTx {
    type Target = Tx;
    fn deref(&self) -> &Tx {
        &self.0
    }
}

impl DerefMut for ActingTx {
    fn deref_mut(&mut self) -> &mut Tx {
        &mut self.0
    }
}

pub use status::UnknownStatus;

/// What the data layer can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness, foreign-key or check constraint refused the change.
    #[error("constraint {constraint} refused the change")]
    Conflict {
        /// The constraint's name.
        constraint: String,
    },
    /// The database could not be reached, even after retries.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The configuration or the stored data is unusable (a bad database
    /// URL, a stored value that does not parse): retrying cannot help and
    /// the database is not to blame.
    #[error("invalid data or settings: {0}")]
    Invalid(String),
    /// PostgreSQL refused a value the client sent (a data exception, a
    /// check constraint, a value too large to index): the request is at
    /// fault, not the server. The edge checks input before it gets here
    /// (see [`text`]); this is the net under that check.
    #[error("the database refused a value (SQLSTATE {sqlstate})")]
    InvalidInput {
        /// The SQLSTATE, for the log.
        sqlstate: String,
    },
    /// The schema is older than this build.
    #[error("the database is not migrated: {0}")]
    NotMigrated(String),
    /// Any other database error.
    #[error(transparent)]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if let Some(db) = error.as_database_error()
            && let Some(constraint) = db.constraint()
            && (db.is_unique_violation() || db.is_foreign_key_violation())
        {
            return StoreError::Conflict {
                constraint: constraint.to_owned(),
            };
        }
        if let Some(sqlstate) = error
            .as_database_error()
            .and_then(|db| db.code())
            .filter(|code| refuses_input(code))
        {
            return StoreError::InvalidInput {
                sqlstate: sqlstate.into_owned(),
            };
        }
        if is_transient(&error) {
            return StoreError::Unavailable(error.to_string());
        }
        StoreError::Database(error)
    }
}

/// SQLSTATEs that blame the values sent, not the server: data exceptions
/// (class 22: invalid text representation, numeric or datetime out of
/// range, NUL, untranslatable characters, strings too long), check
/// violations (23514) and program limits (54000, e.g. an index row too
/// big).
fn refuses_input(sqlstate: &str) -> bool {
    sqlstate.starts_with("22") || matches!(sqlstate, "23514" | "54000")
}

/// Lost connections, pool exhaustion, serialization failures, deadlocks and
/// server shutdowns are worth another try; nothing else is.
fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            matches!(
                code.as_ref(),
                "40001" | "40P01" | "57P01" | "57P02" | "57P03" | "53300"
            ) || code.starts_with("08")
        }
        _ => false,
    }
}

/// The pooled connection to PostgreSQL, and to a read replica if one is
/// configured.
#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
    replica: Option<Replica>,
}

/// A read replica (`DATABASE_READ_URL`) and what this host last learnt of
/// its replay lag. Reads that may be a little behind (listings, the
/// catalogue) go there; reads of something just answered (a record by the
/// id a verification returned) and every write stay on the primary.
#[derive(Clone, Debug)]
struct Replica {
    pool: PgPool,
    max_lag: Duration,
    /// (when measured, usable): measured at most once a second, so a
    /// listing costs no extra round trip in the common case.
    state: std::sync::Arc<std::sync::Mutex<Option<(std::time::Instant, bool)>>>,
}

impl Replica {
    /// How often the replica's lag is measured.
    const RECHECK: Duration = Duration::from_secs(1);

    /// Whether reads may go to the replica now: it answers and its replay
    /// lag is within the bound (a primary given as a "replica" has none).
    async fn usable(&self) -> bool {
        let cached = *self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((at, usable)) = cached
            && at.elapsed() < Self::RECHECK
        {
            return usable;
        }
        let lag_ms = sqlx::query_scalar!(
            r#"SELECT (CASE
                 WHEN NOT pg_is_in_recovery() THEN 0
                 WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                 ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) * 1000, 1e12)
               END)::float8 AS "lag_ms!""#
        )
        .fetch_one(&self.pool)
        .await;
        let usable = match lag_ms {
            Ok(lag) => lag <= self.max_lag.as_millis() as f64,
            Err(error) => {
                tracing::warn!(%error, "the read replica does not answer; reading from the primary");
                false
            }
        };
        *self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((std::time::Instant::now(), usable));
        usable
    }
}

/// How many times a transient failure is tried in all.
const ATTEMPTS: u32 = 3;

impl Store {
    /// Connect the pool with the configured TLS settings.
    pub async fn connect(config: &DatabaseConfig) -> Result<Self, StoreError> {
        let options = connect_options(config.url.expose(), config)?;
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(Duration::from_millis(config.acquire_timeout_ms))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let replica = if config.read_url.expose().is_empty() {
            None
        } else {
            // Lazily connected: a replica that is down at start delays
            // nothing; reads go to the primary until it answers.
            let options = connect_options(config.read_url.expose(), config)?;
            Some(Replica {
                pool: PgPoolOptions::new()
                    .max_connections(config.max_connections)
                    .acquire_timeout(Duration::from_millis(config.acquire_timeout_ms))
                    .connect_lazy_with(options),
                max_lag: Duration::from_millis(config.read_max_lag_ms),
                state: Default::default(),
            })
        };
        Ok(Self { pool, replica })
    }

    /// Wrap an existing pool.
    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            pool,
            replica: None,
        }
    }

    /// The pool for reads that may lag a little (the catalogue): the
    /// replica while it is usable, else the primary.
    pub async fn read_pool(&self) -> &PgPool {
        match &self.replica {
            Some(replica) if replica.usable().await => &replica.pool,
            _ => &self.pool,
        }
    }

    /// A transaction acting for `user` on the replica while it is
    /// usable, else on the primary: for listings, which may lag the
    /// primary by at most `database.read_max_lag_ms`.
    /// (`admin_reach` as in [`Store::acting_as`].)
    pub async fn reading_as(&self, user: Uuid, admin_reach: bool) -> Result<ActingTx, StoreError> {
        let pool = self.read_pool().await;
        let mut tx = begin_on(pool).await?;
        act_as(&mut tx, user, admin_reach).await?;
        Ok(ActingTx(tx))
    }

    /// The pool, for queries on tables without row-level security.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A transaction that acts for `user` (row-level security sees that
    /// user's rows, or all rows if the user is an admin).
    pub async fn begin_for(&self, user: Uuid) -> Result<Tx, StoreError> {
        let mut tx = begin_on(&self.pool).await?;
        sqlx::query_scalar!(
            "SELECT set_config('sigil.user_id', $1, true)",
            user.to_string()
        )
        .fetch_one(&mut *tx)
        .await?;
        Ok(tx)
    }

    /// A transaction that acts for `user`, for handlers: pass `&mut tx` to
    /// the store functions, then `tx.commit().await?`; returning early
    /// drops it, which rolls it back.
    pub async fn acting_for(&self, user: Uuid) -> Result<ActingTx, StoreError> {
        Ok(ActingTx(self.begin_for(user).await?))
    }

    /// A transaction that acts for a caller: `user`, with an
    /// administrator's reach over other users' rows only if `admin_reach`
    /// (false for an administrator's API token without the `manage_users`
    /// scope). The reach can only narrow what the role grants: row-level
    /// security still checks the role itself.
    pub async fn acting_as(&self, user: Uuid, admin_reach: bool) -> Result<ActingTx, StoreError> {
        let mut tx = begin_on(&self.pool).await?;
        act_as(&mut tx, user, admin_reach).await?;
        Ok(ActingTx(tx))
    }

    /// A plain transaction (tables without row-level security).
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        begin_on(&self.pool).await
    }

    /// Run `op`, trying again with backoff while it fails transiently.
    pub async fn retry<T, F, Fut>(&self, what: &'static str, mut op: F) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let mut attempt = 1;
        loop {
            match op().await {
                Err(StoreError::Unavailable(reason)) if attempt < ATTEMPTS => {
                    let backoff = Duration::from_millis(25 * 4u64.pow(attempt - 1));
                    tracing::warn!(operation = what, attempt, %reason, ?backoff, "transient database failure, retrying");
                    tokio::time::sleep(backoff).await;
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    /// Pool connections by state and the pool's limit (for `/metrics`).
    pub fn pool_samples(&self) -> [Sample; 3] {
        let size = f64::from(self.pool.size());
        let idle = self.pool.num_idle() as f64;
        let max = f64::from(self.pool.options().get_max_connections());
        let help = "PostgreSQL pool connections by state.";
        [
            Sample::gauge("sigil_db_pool_connections", help, idle).label("state", "idle"),
            Sample::gauge("sigil_db_pool_connections", help, size - idle).label("state", "in_use"),
            Sample::gauge(
                "sigil_db_pool_max_connections",
                "PostgreSQL pool size limit.",
                max,
            ),
        ]
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query!("SELECT 1 AS one")
            .fetch_one(&self.pool)
            .await
            .is_ok()
    }
}

/// Make `tx` act for `user`, with or without an administrator's reach.
async fn act_as(tx: &mut Tx, user: Uuid, admin_reach: bool) -> Result<(), StoreError> {
    sqlx::query!(
        "SELECT set_config('sigil.user_id', $1, true) AS user_id, set_config('sigil.admin_reach', $2, true) AS admin_reach",
        user.to_string(),
        if admin_reach { "on" } else { "off" }
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(())
}

/// Connection options from a URL plus the configured TLS overrides.
pub fn connect_options(url: &str, config: &DatabaseConfig) -> Result<PgConnectOptions, StoreError> {
    let mut options = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Invalid(format!("invalid database URL: {e}")))?;
    if let Some(mode) = &config.ssl_mode {
        let mode = PgSslMode::from_str(mode)
            .map_err(|e| StoreError::Invalid(format!("invalid ssl mode: {e}")))?;
        options = options.ssl_mode(mode);
    }
    if let Some(cert) = &config.ssl_root_cert {
        options = options.ssl_root_cert(cert);
    }
    Ok(options.application_name("sigil"))
}

/// A page request: items strictly after `after` in the listing's order.
#[derive(Debug, Clone, Copy)]
pub struct Page<C> {
    /// Continue after this position (the previous page's last item).
    pub after: Option<C>,
    /// Items to return at most.
    pub limit: i64,
}

/// `pool.begin()`, safe to cancel. sqlx 0.9.0's `begin` sends BEGIN and,
/// when the future awaiting its answer is dropped (a client that hangs up
/// mid-request), queues no ROLLBACK: its guard checks a transaction depth
/// not raised yet. The connection then goes back to the pool inside an
/// open transaction, and every later statement on it, the recorder's
/// included, runs in that transaction and is never committed: answers
/// would be sent for records that are lost (seen under `just bench-cost`,
/// BENCHMARKS.md). Begun in a task of its own, BEGIN always completes, and
/// a transaction nobody waits for any more is dropped there, which queues
/// its ROLLBACK as a dropped transaction always does. Waiting for a
/// connection stays with the caller (abandoning it is safe, and a caller
/// gone leaves no BEGIN queued for nobody). `Transaction::begin` is what
/// `Pool::begin` calls; sqlx marks it hidden, so an upgrade that changes
/// it stops the build here, which is when to see whether upstream's
/// `begin` has become safe to cancel.
async fn begin_on(pool: &PgPool) -> Result<Tx, StoreError> {
    let connection = pool.acquire().await?;
    tokio::spawn(Transaction::begin(connection, None))
        .await
        .map_err(|e| StoreError::Unavailable(format!("beginning a transaction: {e}")))?
        .map_err(StoreError::from)
}

#[cfg(test)]
mod tests {
    use super::refuses_input;

    #[test]
    fn data_exceptions_and_limits_blame_the_input() {
        for code in [
            "22P02", "22003", "22007", "22008", "22021", "22P05", "22001", "23514", "54000",
        ] {
            assert!(refuses_input(code), "{code}");
        }
        for code in [
            "23505", "23503", "40001", "08006", "42P01", "XX000", "53300",
        ] {
            assert!(!refuses_input(code), "{code}");
        }
    }
}
