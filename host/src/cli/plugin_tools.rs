//! `plugin check`, `plugin keygen`, `plugin sign`: a plugin author's tools
//! that need no server (`sigil plugins …` talks to one).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use crate::config::PluginsConfig;
use crate::plugins::signing;

/// `sigil plugin …`.
#[derive(Debug, Subcommand)]
pub(super) enum PluginCommand {
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

/// Run a `plugin` command.
pub(super) fn run(command: &PluginCommand) -> ExitCode {
    match command {
        PluginCommand::Check {
            file,
            describe_only,
            signature,
            publisher_key,
        } => {
            if let Some(key) = publisher_key {
                let signature = signature.clone().unwrap_or_else(|| sig_path(file));
                if let Err(code) = signature_check(file, &signature, key) {
                    return code;
                }
            }
            plugin_check(file, *describe_only)
        }
        PluginCommand::Keygen { out, name } => keygen(out, name),
        PluginCommand::Sign { key, file, out } => {
            sign(key, file, out.clone().unwrap_or_else(|| sig_path(file)))
        }
    }
}

fn plugin_check(file: &Path, describe_only: bool) -> ExitCode {
    crate::plugins::check::run(
        file,
        describe_only,
        PluginsConfig::default().sandbox_limits(),
    )
}

/// `<file>.sig`.
pub(super) fn sig_path(file: &Path) -> PathBuf {
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

#[cfg(test)]
mod tests {
    use crate::config::PluginsConfig;

    /// `sigil-check` (checker/) cannot link the host's configuration; it
    /// spells the default `[plugins]` limits out, and this keeps them equal.
    #[test]
    fn checker_limits_are_the_services() {
        let checker = include_str!("../../../checker/src/main.rs");
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
