//! The `sigil` command line: `serve`, `migrate`, `admin create`,
//! `admin reset-password`, `plugin check`, `plugin keygen`, `plugin sign`,
//! `export`.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::app::{Application, shutdown_signal};
use crate::auth::identity::{Email, Username};
use crate::auth::passwords::{Password, Passwords};
use crate::config::{Config, PluginsConfig};
use crate::plugins::signing;
use crate::store::users::{NewUser, UserChanges};
use crate::store::{Store, migrations};

/// Sigil: signature verification with algorithms as sandboxed WebAssembly
/// components.
#[derive(Debug, Parser)]
#[command(name = "sigil", version, about)]
pub struct Cli {
    /// Configuration file (TOML); environment variables override it.
    #[arg(long, global = true, env = "SIGIL_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve,
    /// Apply database migrations (connects as the schema owner:
    /// SIGIL_MIGRATE_DATABASE_URL, else DATABASE_URL).
    Migrate,
    /// Administration.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Work with algorithm plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Stream every user's verification records (with their batch items)
    /// and batches of a period, to archive it before retention drops it.
    /// Connects as the schema owner (SIGIL_MIGRATE_DATABASE_URL, else
    /// DATABASE_URL).
    Export(ExportArgs),
    /// Exit 0 if `GET URL` answers 200 (container health checks; no curl
    /// needed in the image).
    Probe {
        /// The URL (`http://127.0.0.1:8080/health`).
        #[arg(default_value = "http://127.0.0.1:8080/health")]
        url: String,
    },
}

#[derive(Debug, clap::Args)]
struct ExportArgs {
    /// Start of the period, included: RFC 3339 (`2026-11-01T00:00:00Z`)
    /// or a date (`2026-11-01`, midnight UTC).
    #[arg(long, value_parser = parse_instant)]
    from: chrono::DateTime<chrono::Utc>,
    /// End of the period, excluded (same forms).
    #[arg(long, value_parser = parse_instant)]
    to: chrono::DateTime<chrono::Utc>,
    /// `jsonl` or `csv`.
    #[arg(long, value_parser = ["jsonl", "csv"], default_value = "jsonl")]
    format: String,
    /// Write here instead of standard output.
    #[arg(long)]
    output: Option<PathBuf>,
}

/// An RFC 3339 instant, or a date meaning its midnight UTC.
fn parse_instant(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map(|midnight| midnight.and_utc())
        .ok_or_else(|| format!("`{text}` is neither an RFC 3339 time nor a YYYY-MM-DD date"))
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an administrator (the first one, typically).
    Create {
        /// Login name.
        #[arg(long)]
        username: String,
        /// E-mail address.
        #[arg(long)]
        email: String,
        /// Password; read from standard input when omitted.
        #[arg(long)]
        password: Option<String>,
    },
    /// Set a new password for an existing user (an administrator whose
    /// password is lost: another checkout's database, a deleted
    /// target/dev-admin.txt). Needs DATABASE_URL like `serve`.
    ResetPassword {
        /// Login name (any case).
        #[arg(long)]
        username: String,
        /// New password; read from standard input when omitted.
        #[arg(long)]
        password: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Load a component, print its descriptor and run every Wycheproof
    /// vector that matches what it declares; exits non-zero on any
    /// disagreement.
    Check {
        /// The component (`.wasm`).
        file: PathBuf,
        /// Print the descriptor only, run no vectors.
        #[arg(long)]
        describe_only: bool,
        /// A detached signature to verify first (`<FILE>.sig` when only
        /// `--publisher-key` is given).
        #[arg(long, requires = "publisher_key")]
        signature: Option<PathBuf>,
        /// The publisher's Ed25519 public key that must have made the
        /// signature: a PEM file, or the key's base64 text.
        #[arg(long)]
        publisher_key: Option<String>,
    },
    /// Make a publisher key pair: `<OUT>.key` (PKCS#8 PEM, private, mode
    /// 0600) and `<OUT>.pub` (PEM), and print the
    /// `plugins.trusted_publishers` entry that trusts it.
    Keygen {
        /// Path prefix of the two files.
        #[arg(long, default_value = "publisher")]
        out: PathBuf,
        /// The publisher's name in the printed entry.
        #[arg(long, default_value = "publisher")]
        name: String,
    },
    /// Sign a component with a publisher's private key: writes the
    /// detached signature (base64) to `<FILE>.sig`.
    Sign {
        /// The publisher's private key (PKCS#8, PEM or DER: `sigil plugin
        /// keygen` or `openssl genpkey -algorithm ed25519`).
        #[arg(long)]
        key: PathBuf,
        /// The component (`.wasm`).
        file: PathBuf,
        /// Where to write the signature (default `<FILE>.sig`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Parse the command line and run it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Command::Plugin(PluginCommand::Check {
            file,
            describe_only,
            signature,
            publisher_key,
        }) => {
            if let Some(key) = publisher_key {
                let signature = signature.clone().unwrap_or_else(|| sig_path(file));
                if let Err(code) = signature_check(file, &signature, key) {
                    return code;
                }
            }
            return plugin_check(file, *describe_only);
        }
        Command::Plugin(PluginCommand::Keygen { out, name }) => return keygen(out, name),
        Command::Plugin(PluginCommand::Sign { key, file, out }) => {
            return sign(key, file, out.clone().unwrap_or_else(|| sig_path(file)));
        }
        Command::Probe { url } => return probe(url),
        _ => {}
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: configuration: {error}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(&config.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: starting the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Serve => serve(config).await,
            Command::Migrate => migrate(&config).await,
            Command::Admin(AdminCommand::Create {
                username,
                email,
                password,
            }) => create_admin(&config, &username, &email, password).await,
            Command::Admin(AdminCommand::ResetPassword { username, password }) => {
                reset_password(&config, &username, password).await
            }
            Command::Export(args) => export(&config, &args).await,
            Command::Plugin(_) | Command::Probe { .. } => Ok(()),
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the context chain: "connecting: …: …".
            tracing::error!(error = format!("{error:#}"), "exiting");
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = Application::build(config).await.context("starting")?;
    app.run_until(shutdown_signal()).await.context("serving")
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    let options = crate::store::connect_options(config.migrate_url(), &config.database)
        .context("the database URL")?;
    let pool = sqlx::PgPool::connect_with(options)
        .await
        .context("connecting")?;
    migrations::run(&pool).await.context("migrating")?;
    println!(
        "database migrated ({} migrations)",
        migrations::MIGRATOR.iter().count()
    );
    Ok(())
}

/// `export`: stream a period of history to a file or standard output.
async fn export(config: &Config, args: &ExportArgs) -> anyhow::Result<()> {
    use crate::store::history::{self, ExportFormat};
    anyhow::ensure!(args.from < args.to, "--from must be before --to");
    let format = if args.format == "csv" {
        ExportFormat::Csv
    } else {
        ExportFormat::Jsonl
    };
    let options = crate::store::connect_options(config.migrate_url(), &config.database)
        .context("the database URL")?;
    let pool = sqlx::PgPool::connect_with(options)
        .await
        .context("connecting")?;
    migrations::ensure_current(&pool)
        .await
        .context("checking the migrations")?;
    let exported = match &args.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            history::export(&pool, args.from, args.to, format, &mut out).await
        }
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            history::export(&pool, args.from, args.to, format, &mut out).await
        }
    }
    .context("exporting")?;
    eprintln!(
        "exported {} records and {} batches of [{}, {})",
        exported.records,
        exported.batches,
        args.from.to_rfc3339(),
        args.to.to_rfc3339()
    );
    Ok(())
}

/// `admin create`: the same rules as `POST /v1/users`.
async fn create_admin(
    config: &Config,
    username: &str,
    email: &str,
    password: Option<String>,
) -> anyhow::Result<()> {
    let username = Username::parse(username).context("--username")?;
    let email = Email::parse(email).context("--email")?;
    let (store, hash) = connect_and_hash(config, password).await?;
    let user = store
        .create_user(&NewUser {
            username: username.as_str(),
            email: email.as_str(),
            password_hash: &hash,
            status: crate::store::users::UserStatus::Active,
            roles: &[crate::store::users::ADMIN_ROLE.to_owned()],
        })
        .await
        .context("creating the administrator")?;
    println!("created administrator {} ({})", user.username, user.id);
    Ok(())
}

/// The password from `--password` or standard input, checked and hashed,
/// and a store whose migrations are current.
async fn connect_and_hash(
    config: &Config,
    password: Option<String>,
) -> anyhow::Result<(Store, String)> {
    let password = match password {
        Some(password) => password,
        None => {
            let mut input = String::new();
            std::io::stdin()
                .read_to_string(&mut input)
                .context("reading the password")?;
            input.trim_end_matches(['\n', '\r']).to_owned()
        }
    };
    let password = Password::parse(password).context("the password")?;
    let store = Store::connect(&config.database)
        .await
        .context("connecting")?;
    migrations::ensure_current(store.pool())
        .await
        .context("checking the migrations")?;
    let hash = Passwords::new(1)
        .context("setting up password hashing")?
        .hash(password.expose())
        .await
        .context("hashing the password")?;
    Ok((store, hash))
}

/// `admin reset-password`: a new password for an existing user, with the
/// same rules as `PATCH /v1/users/{id}`.
async fn reset_password(
    config: &Config,
    username: &str,
    password: Option<String>,
) -> anyhow::Result<()> {
    let (store, hash) = connect_and_hash(config, password).await?;
    let user = store
        .credentials(username)
        .await
        .context("looking the user up")?
        .ok_or_else(|| {
            anyhow::anyhow!("no user named {username:?} (create one with `sigil admin create`)")
        })?;
    let changes = UserChanges {
        password_hash: Some(hash),
        ..UserChanges::default()
    };
    let user = store
        .update_user(user.id, &changes)
        .await
        .context("setting the password")?
        .ok_or_else(|| anyhow::anyhow!("the user {username:?} was deleted meanwhile"))?;
    println!("new password set for {} ({})", user.username, user.id);
    Ok(())
}

fn plugin_check(file: &Path, describe_only: bool) -> ExitCode {
    crate::plugins::check::run(
        file,
        describe_only,
        PluginsConfig::default().sandbox_limits(),
    )
}

/// `<file>.sig`.
fn sig_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

fn fail(message: impl std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}

/// `plugin check --signature`: 1 if the signature does not verify, 2 if
/// something cannot be read.
fn signature_check(file: &Path, signature: &Path, key: &str) -> Result<(), ExitCode> {
    let key_text = if Path::new(key).is_file() {
        std::fs::read_to_string(key).map_err(|e| fail(format!("reading {key}: {e}"), 2))?
    } else {
        key.to_owned()
    };
    let key = signing::parse_public_key(&key_text).map_err(|e| fail(e, 2))?;
    let bytes =
        std::fs::read(file).map_err(|e| fail(format!("reading {}: {e}", file.display()), 2))?;
    let raw = std::fs::read(signature)
        .map_err(|e| fail(format!("reading {}: {e}", signature.display()), 2))?;
    let raw = signing::parse_signature(&raw).map_err(|e| fail(e, 2))?;
    if signing::verifies(&key, &bytes, &raw) {
        println!(
            "signature: VALID ({} by {})",
            signature.display(),
            signing::public_key_text(&key)
        );
        Ok(())
    } else {
        println!("signature: INVALID");
        Err(fail(
            format!(
                "{} is not a signature over {} by this publisher key (another key, or altered bytes)",
                signature.display(),
                file.display()
            ),
            1,
        ))
    }
}

/// `plugin keygen`.
fn keygen(out: &Path, name: &str) -> ExitCode {
    let mut seed = [0u8; 32];
    rand::fill(&mut seed);
    let (private, public, entry) = match signing::keygen(&seed) {
        Ok(pair) => pair,
        Err(error) => return fail(error, 1),
    };
    let with = |ext: &str| {
        let mut path = out.as_os_str().to_owned();
        path.push(ext);
        PathBuf::from(path)
    };
    let (key_path, pub_path) = (with(".key"), with(".pub"));
    for path in [&key_path, &pub_path] {
        if path.exists() {
            return fail(format!("{} exists; not overwritten", path.display()), 2);
        }
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options
        .open(&key_path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, private.as_bytes()))
        .and_then(|()| std::fs::write(&pub_path, public));
    if let Err(error) = written {
        return fail(format!("writing {}: {error}", key_path.display()), 1);
    }
    println!("private key: {} (keep it secret)", key_path.display());
    println!("public key:  {}", pub_path.display());
    println!("trust it with: SIGIL_PLUGINS__TRUSTED_PUBLISHERS='{name}:{entry}'");
    ExitCode::SUCCESS
}

/// `plugin sign`.
fn sign(key: &Path, file: &Path, out: PathBuf) -> ExitCode {
    let key = match std::fs::read(key) {
        Ok(bytes) => match signing::parse_private_key(&bytes) {
            Ok(key) => key,
            Err(error) => return fail(format!("{}: {error}", key.display()), 2),
        },
        Err(error) => return fail(format!("reading {}: {error}", key.display()), 2),
    };
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(error) => return fail(format!("reading {}: {error}", file.display()), 2),
    };
    if let Err(error) = std::fs::write(&out, signing::sign(&key, &bytes)) {
        return fail(format!("writing {}: {error}", out.display()), 1);
    }
    println!(
        "signed {} (sha256 {}) -> {}\npublisher key: {}",
        file.display(),
        crate::lifecycle::sha256_hex(&bytes),
        out.display(),
        signing::public_key_text(&key.verifying_key())
    );
    ExitCode::SUCCESS
}

/// A minimal HTTP/1.1 GET for health checks.
fn probe(url: &str) -> ExitCode {
    use std::io::{Read as _, Write as _};
    let Some(rest) = url.strip_prefix("http://") else {
        eprintln!("error: only http:// URLs are probed");
        return ExitCode::from(2);
    };
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let timeout = std::time::Duration::from_secs(3);
    let answer = std::net::ToSocketAddrs::to_socket_addrs(authority)
        .ok()
        .and_then(|mut addrs| addrs.next())
        .and_then(|addr| std::net::TcpStream::connect_timeout(&addr, timeout).ok())
        .and_then(|mut stream| {
            stream.set_read_timeout(Some(timeout)).ok()?;
            write!(
                stream,
                "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
            )
            .ok()?;
            let mut head = [0u8; 12];
            stream.read_exact(&mut head).ok()?;
            Some(head)
        });
    match answer {
        Some(head) if head.starts_with(b"HTTP/1.1 200") => ExitCode::SUCCESS,
        Some(head) => {
            eprintln!("unhealthy: {}", String::from_utf8_lossy(&head));
            ExitCode::FAILURE
        }
        None => {
            eprintln!("unhealthy: no answer from {url}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::PluginsConfig;

    /// `sigil-check` (checker/) cannot link the host's configuration; it
    /// spells the default `[plugins]` limits out, and this keeps them equal.
    #[test]
    fn checker_limits_are_the_services() {
        let checker = include_str!("../../checker/src/main.rs");
        let limits = PluginsConfig::default().sandbox_limits();
        for expected in [
            format!(
                "deadline: Duration::from_millis({}),",
                limits.deadline.as_millis()
            ),
            format!("memory_bytes: {} << 20,", limits.memory_bytes >> 20),
            format!("pool_instances: {},", limits.pool_instances),
        ] {
            assert!(
                checker.contains(&expected),
                "checker/src/main.rs should say `{expected}` (PluginsConfig::default())"
            );
        }
        assert!(
            limits.wide_arithmetic,
            "sigil-check turns it on unless --no-wide-arithmetic"
        );
    }
}
