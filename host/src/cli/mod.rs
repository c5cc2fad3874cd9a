//! The `sigil` command line. Two halves share the binary:
//!
//! - the server's commands, which read the server configuration and talk to
//!   PostgreSQL directly: `serve`, `migrate` ([`serve`]), `admin`
//!   ([`admin`]), `export` ([`export`]), the plugin author's offline tools
//!   `plugin check|keygen|sign` ([`plugin_tools`]) and `probe` ([`probe`]);
//! - the API client ([`client`]), which talks to a running service over
//!   HTTP with the credentials `sigil login` stored: `login`, `logout`,
//!   `whoami`, `keys`, `verify`, `verify-batch`, `history`, `tokens`,
//!   `plugins`.

mod admin;
mod client;
mod export;
mod plugin_tools;
mod probe;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;

/// Sigil: signature verification with algorithms as sandboxed WebAssembly
/// components.
///
/// Run the service (`serve`, `migrate`, `admin`, `export`), or use a
/// running one from the command line: `sigil login`, then `keys`, `verify`,
/// `verify-batch`, `history`, `tokens`, `plugins`.
#[derive(Debug, Parser)]
#[command(name = "sigil", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Server configuration (TOML) for serve, migrate, admin, export;
    /// environment variables override it.
    #[arg(long, global = true, env = "SIGIL_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

const AFTER_HELP: &str = "\
Client commands use the server URL and token that `sigil login` stored in
$XDG_CONFIG_HOME/sigil/config.toml (~/.config/sigil/config.toml);
SIGIL_URL and SIGIL_TOKEN override them. Every client command takes --json.
Exit status: 0 success; 1 a signature is invalid (verify, verify-batch);
2 an error (bad usage, a refused request, no connection).";

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API.
    #[command(display_order = 100)]
    Serve,
    /// Apply database migrations (connects as the schema owner:
    /// SIGIL_MIGRATE_DATABASE_URL, else DATABASE_URL).
    #[command(display_order = 101)]
    Migrate,
    /// Make or rescue administrators directly in the database.
    #[command(subcommand, display_order = 102)]
    Admin(admin::AdminCommand),
    /// Plugin authors' tools that need no server: check, keygen, sign.
    #[command(subcommand, display_order = 103)]
    Plugin(plugin_tools::PluginCommand),
    /// Stream every user's verification records (with their batch items)
    /// and batches of a period, to archive it before retention drops it.
    /// Connects as the schema owner (SIGIL_MIGRATE_DATABASE_URL, else
    /// DATABASE_URL).
    #[command(display_order = 104)]
    Export(export::ExportArgs),
    /// Exit 0 if `GET URL` answers 200 (container health checks; no curl
    /// needed in the image).
    #[command(display_order = 105)]
    Probe {
        /// The URL (`http://127.0.0.1:8080/health`).
        #[arg(default_value = "http://127.0.0.1:8080/health")]
        url: String,
    },
    #[command(flatten)]
    Client(client::ClientCommand),
}

/// Parse the command line and run it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = match cli.command {
        Command::Client(command) => return client::run(command),
        Command::Plugin(command) => return plugin_tools::run(&command),
        Command::Probe { url } => return probe::probe(&url),
        command => command,
    };
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
        match command {
            Command::Serve => serve::serve(config).await,
            Command::Migrate => serve::migrate(&config).await,
            Command::Admin(command) => admin::run(&config, command).await,
            Command::Export(args) => export::export(&config, &args).await,
            Command::Plugin(_) | Command::Probe { .. } | Command::Client(_) => Ok(()),
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
