//! `sigil-check FILE`: Sigil's Wycheproof conformance check of a plugin
//! component, the same code as `sigil plugin check`, built without the
//! server (no axum, sqlx, Redis): what `just check-plugin` runs.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// The host's plugin engine, compiled into this binary as it is into
/// `sigil` (it imports nothing else of the host). The registry, executor
/// and loader are the server's and go unused here.
#[path = "../../host/src/plugins/mod.rs"]
#[allow(dead_code, unused_imports)]
mod plugins;

/// Check a Sigil plugin component against the Wycheproof vectors that apply
/// to what it declares; exits 0 on a pass, 1 on any disagreement (or when
/// no vectors apply), 2 when the file is not a usable plugin.
#[derive(Debug, Parser)]
#[command(name = "sigil-check", version, about)]
struct Args {
    /// The component (`.wasm`).
    file: PathBuf,
    /// Print the descriptor only, run no vectors.
    #[arg(long)]
    describe_only: bool,
    /// Refuse components built with the wide-arithmetic proposal, as a host
    /// with `plugins.wide_arithmetic = false` does.
    #[arg(long)]
    no_wide_arithmetic: bool,
}

/// The service's default `[plugins]` limits (`PluginsConfig::default()` in
/// host/src/config/mod.rs; the host's test `checker_limits_are_the_services`
/// keeps the two equal).
fn serving_limits(wide_arithmetic: bool) -> plugins::SandboxLimits {
    plugins::SandboxLimits {
        deadline: Duration::from_millis(100),
        memory_bytes: 64 << 20,
        pool_instances: 256,
        wide_arithmetic,
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    plugins::check::run(
        &args.file,
        args.describe_only,
        serving_limits(!args.no_wide_arithmetic),
    )
}
