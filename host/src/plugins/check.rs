//! `sigil plugin check` and the standalone `sigil-check`: load a component
//! as the service does, print its descriptor and run the Wycheproof
//! vectors that apply. One implementation for both binaries.

use std::path::Path;
use std::process::ExitCode;

use super::conformance;
use super::engine::{PluginEngine, SandboxLimits};
use super::plugin::LoadedPlugin;

/// Check the component in `file` under `serving` limits (the deadline is
/// widened as for every conformance run). Exit codes: 0 pass, 1 a vector
/// disagreed or none applied, 2 the file is not a usable plugin.
pub fn run(file: &Path, describe_only: bool, serving: SandboxLimits) -> ExitCode {
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!("error: reading {}: {error}", file.display());
            if error.kind() == std::io::ErrorKind::NotFound {
                eprintln!(
                    "  (build it first: `just plugins`, or `just plugin NAME` for one; components land in target/plugins/extra/NAME.wasm)"
                );
            }
            return ExitCode::from(2);
        }
    };
    let plugin = match PluginEngine::new(conformance::sandbox_limits(serving))
        .and_then(|engine| LoadedPlugin::load(&engine, &bytes))
    {
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
        println!(
            "  Name the curve as Sigil does (P-521; OpenSSL's secp521r1 also matches) or put its OID in the curve's parameters (the ECDSA SDK does). {}",
            conformance::testable_hint()
        );
        ExitCode::from(1)
    } else {
        println!("conformance: FAIL");
        ExitCode::from(1)
    }
}
