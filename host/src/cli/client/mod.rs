//! The API client in the `sigil` binary, in the manner of `gh` and
//! `vault`: `sigil login` stores the server and a credential in the
//! user's configuration directory ([`config`]), every other command uses
//! them over HTTP ([`api`]), prints text for people or `--json` for
//! scripts ([`output`]), and says what went wrong with the service's
//! problem `code` and `detail` ([`error`]).
//!
//! One module per command group: [`login`] (login, logout, whoami),
//! [`keys`], [`verify`], [`batch`] (verify-batch, over a [`manifest`]),
//! [`history`], [`tokens`], [`plugins`]. It is blocking code on purpose:
//! one request at a time, no runtime to start.

mod api;
mod batch;
mod config;
mod error;
mod history;
mod keys;
mod login;
mod manifest;
mod output;
mod plugins;
mod time;
mod tokens;
mod verify;

use std::process::ExitCode;

use error::ClientError;

/// The client's commands, listed first in `sigil --help`.
#[derive(Debug, clap::Subcommand)]
pub(super) enum ClientCommand {
    /// Log in to a Sigil service: store its URL and a session (or an API
    /// token) in ~/.config/sigil/config.toml.
    #[command(display_order = 1)]
    Login(login::LoginArgs),
    /// End the stored session and forget the credential.
    #[command(display_order = 2)]
    Logout(login::LogoutArgs),
    /// Show the user the stored credential belongs to.
    #[command(display_order = 3)]
    Whoami(login::WhoamiArgs),
    /// Register, list, show and revoke public keys.
    #[command(display_order = 4)]
    Keys(keys::KeysArgs),
    /// Verify one signature: exit 0 if valid, 1 if not, 2 on error.
    #[command(display_order = 5)]
    Verify(verify::VerifyArgs),
    /// Verify many signatures listed in a manifest (CSV, JSONL) or a
    /// directory, in batches, with progress and a summary.
    #[command(display_order = 6)]
    VerifyBatch(batch::BatchArgs),
    /// Your verification history, newest first, as a table, JSON or CSV.
    #[command(display_order = 7)]
    History(history::HistoryArgs),
    /// Create, list and revoke API tokens for programs.
    #[command(display_order = 8)]
    Tokens(tokens::TokensArgs),
    /// Administrators: list, upload, activate, disable and roll back the
    /// service's algorithm plugins.
    #[command(display_order = 9)]
    Plugins(plugins::PluginsArgs),
}

/// How a command that did not fail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: a signature is invalid.
    Negative,
    /// Exit 2, already reported (some batch items could not be verified).
    Failed,
}

/// Run a client command; its exit status.
pub(super) fn run(command: ClientCommand) -> ExitCode {
    let outcome = match &command {
        ClientCommand::Login(args) => login::login(args).map(|()| Outcome::Success),
        ClientCommand::Logout(args) => login::logout(args).map(|()| Outcome::Success),
        ClientCommand::Whoami(args) => login::whoami(args).map(|()| Outcome::Success),
        ClientCommand::Keys(args) => keys::run(args).map(|()| Outcome::Success),
        ClientCommand::Verify(args) => verify::run(args),
        ClientCommand::VerifyBatch(args) => batch::run(args),
        ClientCommand::History(args) => history::run(args).map(|()| Outcome::Success),
        ClientCommand::Tokens(args) => tokens::run(args).map(|()| Outcome::Success),
        ClientCommand::Plugins(args) => plugins::run(args).map(|()| Outcome::Success),
    };
    match outcome {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Negative) => ExitCode::from(1),
        Ok(Outcome::Failed) => ExitCode::from(2),
        // `sigil history | head`: the reader has what it wanted.
        Err(ClientError::Output(error)) if error.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}
