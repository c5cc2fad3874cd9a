//! A real Sigil server for black-box tests: a fresh PostgreSQL database per
//! test (copied from a template migrated once per process, as the schema
//! owner), the service connected as the least-privileged `sigil_app` role,
//! the local Redis under a key prefix of its own, the default plugins, port 0.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sigil::app::{AppState, Application};
use sigil::config::{Config, Secret};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::{OnceCell, oneshot};
use uuid::Uuid;

use super::signers::TestKey;

/// Superuser URL of the local cluster (`SIGIL_TEST_PG_ADMIN_URL`).
pub fn admin_url(database: &str) -> String {
    let base = std::env::var("SIGIL_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    format!("{base}/{database}")
}

pub fn role_url(role: &str, database: &str) -> String {
    let base = std::env::var("SIGIL_TEST_PG_HOST").unwrap_or_else(|_| "127.0.0.1:5432".into());
    format!("postgres://{role}:{role}@{base}/{database}")
}

/// The local Redis (`SIGIL_TEST_REDIS_URL`).
pub fn redis_url() -> String {
    std::env::var("SIGIL_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Whether `SIGIL_TEST_REDIS_URL` lists a Redis Cluster's seed nodes
/// (`SIGIL_TEST_REDIS_CLUSTER=1`, set by `scripts/test-redis-cluster`).
pub fn redis_cluster() -> bool {
    std::env::var("SIGIL_TEST_REDIS_CLUSTER").is_ok_and(|v| v == "1" || v == "true")
}

/// A connection of the test's own to the Redis the servers use, through
/// the service's own topology code (so a cluster routes by slot).
pub async fn raw_redis() -> sigil::cache::topology::Connection {
    let config = sigil::config::RedisConfig {
        cluster: redis_cluster(),
        ..Default::default()
    };
    let topology =
        sigil::cache::topology::Topology::of(&redis_url(), &config).expect("Redis topology");
    topology
        .connect(std::time::Duration::from_secs(2))
        .await
        .expect("redis")
        .0
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();
static SEQUENCE: AtomicU32 = AtomicU32::new(0);

/// Roles exist, stale test databases of dead processes are gone, and a
/// template database is migrated (once per process).
async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let mut admin = PgConnection::connect(&admin_url("postgres"))
                .await
                .expect("superuser connection");
            let init = include_str!("../../../../deploy/postgres/init.sql");
            // Two processes may create the roles at once; the loser's
            // duplicate error is harmless.
            let _ = sqlx::raw_sql(init).execute(&mut admin).await;
            drop_stale_databases(&mut admin).await;
            let name = format!("sigil_tmpl_{}", std::process::id());
            exec(
                &mut admin,
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await
            .expect("drop");
            exec(
                &mut admin,
                format!("CREATE DATABASE {name} OWNER sigil_owner"),
            )
            .await
            .expect("create template");
            let owner = PgPool::connect(&role_url("sigil_owner", &name))
                .await
                .expect("owner connection");
            sigil::store::migrations::run(&owner)
                .await
                .expect("migrations apply");
            owner.close().await;
            name
        })
        .await
}

async fn drop_stale_databases(admin: &mut PgConnection) {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'sigil\\_t%\\_%'",
    )
    .fetch_all(&mut *admin)
    .await
    .unwrap_or_default();
    for name in names {
        let pid = name.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid
            && pid != std::process::id()
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = exec(
                admin,
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await;
        }
    }
}

/// Run one statement built at run time (database names cannot be bound).
async fn exec(conn: &mut PgConnection, sql: String) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(conn)
        .await
        .map(|_| ())
}

/// A fresh database copied from the migrated template.
pub async fn fresh_database() -> String {
    let template = template().await;
    let name = format!(
        "sigil_t_{}_{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::SeqCst)
    );
    let mut admin = PgConnection::connect(&admin_url("postgres"))
        .await
        .expect("superuser connection");
    exec(
        &mut admin,
        format!("CREATE DATABASE {name} TEMPLATE {template} OWNER sigil_owner"),
    )
    .await
    .expect("create test database");
    name
}

/// Drop a database made by [`fresh_database`] that no [`TestApp`] owns.
pub async fn drop_database(name: &str) {
    let mut admin = PgConnection::connect(&admin_url("postgres"))
        .await
        .expect("superuser connection");
    exec(
        &mut admin,
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await
    .expect("drop test database");
}

/// Configuration for a test server on `database`.
pub fn test_config(database: &str, redis_prefix: &str) -> Config {
    let mut config = Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..Config::default()
    };
    config.database.url = Secret::new(role_url("sigil_app", database));
    config.database.max_connections = 8;
    config.redis.url = Secret::new(redis_url());
    config.redis.cluster = redis_cluster();
    config.redis.key_prefix = redis_prefix.to_owned();
    config.plugins.dir = Some(super::plugins_dir().join("default"));
    config.plugins.workers = 2;
    config.plugins.pool_instances = 64;
    config.log.filter = "warn".into();
    config
}

/// A running server.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The database name.
    pub database: String,
    /// The Redis key prefix.
    pub redis_prefix: String,
    /// The server's state (store, registry...).
    pub state: AppState,
    /// An HTTP client.
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    owns_database: bool,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body as JSON (`Value::Null` when empty or not JSON).
    pub body: Value,
}

impl Answer {
    /// Read a response whole.
    pub async fn of(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        Answer {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// The problem code of an error body.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }
}

impl TestApp {
    /// A server on a fresh database.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// A server on a fresh database, with configuration changes.
    pub async fn spawn_with(change: impl FnOnce(&mut Config)) -> Self {
        let database = fresh_database().await;
        let prefix = format!("sigil-test:{}:", Uuid::new_v4());
        let mut config = test_config(&database, &prefix);
        change(&mut config);
        let mut app = Self::start(config).await;
        app.owns_database = true;
        app
    }

    /// A second host on the same database and Redis prefix as `self`.
    pub async fn another_host(&self, change: impl FnOnce(&mut Config)) -> Self {
        let mut config = test_config(&self.database, &self.redis_prefix);
        change(&mut config);
        Self::start(config).await
    }

    /// Start a server with `config`. `SIGIL_TEST_LOG=debug` (say) shows
    /// the servers' logs.
    pub async fn start(config: Config) -> Self {
        if let Ok(filter) = std::env::var("SIGIL_TEST_LOG") {
            sigil::telemetry::init(&sigil::config::LogConfig {
                format: "pretty".into(),
                filter,
            });
        }
        let database = config
            .database
            .url
            .expose()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let redis_prefix = config.redis.key_prefix.clone();
        let app = Application::build(config)
            .await
            .expect("application starts");
        let addr = app.local_addr();
        let state = app.state().clone();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = app
                .run_until(async {
                    let _ = rx.await;
                })
                .await;
        });
        Self {
            base: format!("http://{addr}"),
            database,
            redis_prefix,
            state,
            client: reqwest::Client::new(),
            shutdown: Some(tx),
            server: Some(server),
            owns_database: false,
        }
    }

    /// A superuser connection to the test database (bypasses RLS).
    pub async fn superuser(&self) -> PgPool {
        PgPool::connect(&admin_url(&self.database))
            .await
            .expect("superuser pool")
    }

    /// A connection as the application role (RLS applies).
    pub async fn app_role(&self) -> PgPool {
        PgPool::connect(&role_url("sigil_app", &self.database))
            .await
            .expect("app pool")
    }

    /// Send a request with an optional bearer token and JSON body.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Answer::of(request.send().await.expect("request sent")).await
    }

    /// GET.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.request(Method::GET, path, token, None).await
    }

    /// POST JSON.
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Answer {
        self.request(Method::POST, path, token, Some(body)).await
    }

    /// Create a user with `roles` directly in the store.
    pub async fn create_user(&self, username: &str, password: &str, roles: &[&str]) -> Uuid {
        let hash = self
            .state
            .passwords
            .hash(password.to_owned())
            .await
            .expect("hash");
        let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
        self.state
            .store
            .create_user(&sigil::store::users::NewUser {
                username,
                email: &format!("{username}@example.test"),
                password_hash: &hash,
                status: sigil::store::users::UserStatus::Active,
                roles: &roles,
            })
            .await
            .expect("user created")
            .id
    }

    /// Log in and return the token pair.
    pub async fn login(&self, username: &str, password: &str) -> Value {
        let answer = self
            .post(
                "/v1/auth/login",
                None,
                json!({"username": username, "password": password}),
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "login failed: {:?}",
            answer.body
        );
        answer.body
    }

    /// A new user with `roles`, logged in: (id, access token).
    pub async fn user(&self, roles: &[&str]) -> (Uuid, String) {
        let username = format!("u{}", &Uuid::new_v4().simple().to_string()[..12]);
        let password = "correct horse battery staple";
        let id = self.create_user(&username, password, roles).await;
        let pair = self.login(&username, password).await;
        (id, pair["access_token"].as_str().expect("token").to_owned())
    }

    /// A new administrator, logged in.
    pub async fn admin(&self) -> (Uuid, String) {
        self.user(&["admin"]).await
    }

    /// Register a public key from a `POST /v1/keys` body; the answer must
    /// be 201. Returns the key as the API shows it.
    pub async fn add_key(&self, token: &str, body: Value) -> Value {
        let answer = self.post("/v1/keys", Some(token), body.clone()).await;
        assert_eq!(
            answer.status,
            StatusCode::CREATED,
            "registering {body}: {:?}",
            answer.body
        );
        answer.body
    }

    /// Register `key` as PEM and return its id.
    pub async fn register_key(&self, token: &str, key: &TestKey) -> Uuid {
        let view = self.add_key(token, key.pem_registration()).await;
        view["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("key id")
    }

    /// `POST /v1/verify`.
    pub async fn verify(&self, token: &str, body: Value) -> Answer {
        self.post("/v1/verify", Some(token), body).await
    }

    /// Upload a component's bytes (`POST /v1/plugins`, `application/wasm`).
    pub async fn upload_plugin(&self, token: &str, bytes: Vec<u8>) -> Answer {
        let response = self
            .client
            .post(format!("{}/v1/plugins", self.base))
            .bearer_auth(token)
            .header("content-type", "application/wasm")
            .body(bytes)
            .send()
            .await
            .expect("sent");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Upload the built component `name` (`target/plugins`); the answer
    /// must be 201 with the version active. Returns the stored version.
    pub async fn upload_active(&self, token: &str, name: &str) -> Value {
        let uploaded = self
            .upload_plugin(token, super::component_bytes(name))
            .await;
        assert_eq!(
            uploaded.status,
            StatusCode::CREATED,
            "{name}: {:?}",
            uploaded.body
        );
        assert_eq!(
            uploaded.body["status"], "active",
            "{name}: {:?}",
            uploaded.body
        );
        uploaded.body
    }

    /// A verification record by id (`GET /v1/verifications/{id}`).
    pub async fn record(&self, token: &str, id: &str) -> Answer {
        self.get(&format!("/v1/verifications/{id}"), Some(token))
            .await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
        if self.owns_database {
            let name = self.database.clone();
            // Drop the database from a thread of its own: Drop cannot await.
            let _ = std::thread::spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                runtime.block_on(async move {
                    if let Ok(mut admin) = PgConnection::connect(&admin_url("postgres")).await {
                        let _ = exec(
                            &mut admin,
                            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                        )
                        .await;
                    }
                });
            })
            .join();
        }
    }
}
