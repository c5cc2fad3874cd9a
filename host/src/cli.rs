//! The `sigil` command line: `serve`, `migrate`, `admin create`,
//! `plugin check`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::plugins::{LoadedPlugin, PluginEngine, conformance};

/// Sigil: signature verification with algorithms as sandboxed WebAssembly
/// components.
#[derive(Debug, Parser)]
#[command(name = "sigil", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with algorithm plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Load a component, print its descriptor and run every Wycheproof
    /// vector that matches what it declares; exits non-zero on any
    /// disagreement.
    Check {
        /// The component (`.wasm`).
        file: PathBuf,
        /// Print the descriptor as JSON only, run no vectors.
        #[arg(long)]
        describe_only: bool,
    },
}

/// Parse the command line and run it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Plugin(PluginCommand::Check {
            file,
            describe_only,
        }) => plugin_check(&file, describe_only),
    }
}

fn plugin_check(file: &std::path::Path, describe_only: bool) -> ExitCode {
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!("error: reading {}: {error}", file.display());
            return ExitCode::from(2);
        }
    };
    let plugin =
        match PluginEngine::new(conformance::sandbox_limits()).and_then(|engine| LoadedPlugin::load(&engine, &bytes)) {
            Ok(plugin) => plugin,
            Err(error) => {
                eprintln!(
                    "error: {} is not a usable Sigil plugin: {error} [{}]",
                    file.display(),
                    error.code()
                );
                return ExitCode::from(2);
            }
        };
    let descriptor = serde_json::to_string_pretty(plugin.descriptor()).unwrap_or_default();
    println!(
        "plugin {} (sha256 {}, {} bytes)",
        plugin.label(),
        plugin.sha256(),
        plugin.size()
    );
    println!("{descriptor}");
    if describe_only {
        return ExitCode::SUCCESS;
    }
    let report = conformance::run(&plugin);
    print!("{}", report.render());
    if report.passed() {
        println!("conformance: PASS");
        ExitCode::SUCCESS
    } else if report.sets.is_empty() {
        println!("conformance: no Wycheproof vectors apply to what this plugin declares");
        ExitCode::from(1)
    } else {
        println!("conformance: FAIL");
        ExitCode::from(1)
    }
}
