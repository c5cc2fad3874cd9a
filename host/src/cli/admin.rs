//! `admin create` and `admin reset-password`: administrators made and
//! rescued straight in the database, with the API's rules for names,
//! addresses and passwords.

use std::io::Read as _;

use anyhow::Context as _;
use clap::Subcommand;

use crate::auth::identity::{Email, Username};
use crate::auth::passwords::{Password, Passwords};
use crate::config::Config;
use crate::store::users::{NewUser, UserChanges};
use crate::store::{Store, migrations};

/// `sigil admin …`.
#[derive(Debug, Subcommand)]
pub(super) enum AdminCommand {
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

/// Run an `admin` command.
pub(super) async fn run(config: &Config, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Create {
            username,
            email,
            password,
        } => create_admin(config, &username, &email, password).await,
        AdminCommand::ResetPassword { username, password } => {
            reset_password(config, &username, password).await
        }
    }
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
