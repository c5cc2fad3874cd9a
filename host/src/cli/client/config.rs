//! The client's configuration file: the server URL and the credential that
//! `sigil login` stored, in `$XDG_CONFIG_HOME/sigil/config.toml` (else
//! `~/.config/sigil/config.toml`), readable by its owner only (mode
//! 0600, in a 0700 directory). `SIGIL_URL` and `SIGIL_TOKEN` override
//! what it says.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::{ClientError, Result};

/// The variable naming the server, over the file's `url`.
pub(crate) const URL_VAR: &str = "SIGIL_URL";
/// The variable carrying a bearer token, over the file's credential.
pub(crate) const TOKEN_VAR: &str = "SIGIL_TOKEN";

/// What the file holds. No `Debug`: it holds secrets.
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClientConfig {
    /// The service's base URL (`https://sigil.example.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) url: Option<String>,
    /// An API token (`sigil login --token`): sent as is, never refreshed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) token: Option<String>,
    /// A password login's session: refreshed when its access token expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) session: Option<Session>,
}

/// The token pair of a password login. No `Debug`: secrets.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Session {
    /// Who logged in (for `whoami` without a request, and messages).
    pub(crate) username: String,
    /// The JWT sent as `Authorization: Bearer`.
    pub(crate) access_token: String,
    /// The single-use token that buys the next pair.
    pub(crate) refresh_token: String,
    /// When the access token expires (from the answer's `expires_in`).
    pub(crate) expires_at: DateTime<Utc>,
}

/// Where the file is: `$XDG_CONFIG_HOME/sigil/config.toml`, else
/// `$HOME/.config/sigil/config.toml` (the XDG rule, on every Unix, so
/// scripts find it in the same place on a Mac).
pub(crate) fn path() -> Result<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
        .ok_or_else(|| {
            ClientError::Usage(
                "neither XDG_CONFIG_HOME nor HOME is set: nowhere to keep the login".into(),
            )
        })?;
    Ok(base.join("sigil").join("config.toml"))
}

impl ClientConfig {
    /// The file at `path`, or an empty configuration if there is none.
    pub(crate) fn load(path: &Path) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self::default());
            }
            Err(error) => {
                return Err(ClientError::io(
                    format!("reading {}", path.display()),
                    error,
                ));
            }
        };
        toml::from_str(&text).map_err(|error| {
            ClientError::Usage(format!(
                "{} is not a sigil client configuration: {error} (`sigil login` writes a new one)",
                path.display()
            ))
        })
    }

    /// Write the file whole: a temporary file of mode 0600 beside it,
    /// renamed over it, so a reader never sees half a file and the secret
    /// is never readable by others, not even for a moment.
    pub(crate) fn save(&self, path: &Path) -> Result<()> {
        let text = toml::to_string(self).map_err(|error| ClientError::Unexpected {
            path: path.display().to_string(),
            reason: error.to_string(),
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .map_err(|e| ClientError::io(format!("creating {}", dir.display()), e))?;
        let temporary = dir.join(format!(".config.toml.{}", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let written = options.open(&temporary).and_then(|mut file| {
            file.write_all(
                b"# Written by `sigil login`: the server and your credential. Keep it private.\n",
            )?;
            file.write_all(text.as_bytes())?;
            file.sync_all()
        });
        let renamed = written.and_then(|()| std::fs::rename(&temporary, path));
        if let Err(error) = renamed {
            let _ = std::fs::remove_file(&temporary);
            return Err(ClientError::io(
                format!("writing {}", path.display()),
                error,
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_session_loads_back_and_only_its_owner_can_read_it() {
        let dir = std::env::temp_dir().join(format!("sigil-client-config-{}", std::process::id()));
        let path = dir.join("sigil").join("config.toml");
        let config = ClientConfig {
            url: Some("http://127.0.0.1:8080".into()),
            token: None,
            session: Some(Session {
                username: "alice".into(),
                access_token: "a.b.c".into(),
                refresh_token: "r".into(),
                expires_at: DateTime::from_timestamp(1_800_000_000, 0).expect("a time"),
            }),
        };
        config.save(&path).expect("saved");
        let loaded = ClientConfig::load(&path).expect("loads");
        assert_eq!(loaded.url.as_deref(), Some("http://127.0.0.1:8080"));
        let session = loaded.session.expect("the session");
        assert_eq!(session.refresh_token, "r");
        assert_eq!(session.expires_at, config.session.expect("kept").expires_at);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path)
                .expect("exists")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn no_file_is_an_empty_configuration() {
        let loaded = ClientConfig::load(Path::new("/nonexistent/sigil/config.toml")).expect("ok");
        assert!(loaded.url.is_none() && loaded.token.is_none() && loaded.session.is_none());
    }
}
