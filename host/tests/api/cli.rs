//! The command-line client: the real `sigil` binary, run as a child
//! process against a test server, with its own configuration directory
//! (`XDG_CONFIG_HOME`), as a user would run it. The batch's progress bar is
//! checked in a terminal: under `script`, which gives the child a pty.

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::app::TestApp;
use crate::helpers::signers::{Kind, TestKey};

const PASSWORD: &str = "correct horse battery staple";

/// A user's home for the client: a configuration directory and a work
/// folder, removed at the end.
struct Client {
    home: PathBuf,
    base: String,
}

/// What a run printed and how it ended.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }
}

impl Client {
    fn new(app: &TestApp) -> Self {
        Self::for_server(&app.base)
    }

    fn for_server(base: &str) -> Self {
        let home = std::env::temp_dir().join(format!("sigil-cli-{}", Uuid::new_v4()));
        std::fs::create_dir_all(home.join("work")).expect("work folder");
        Self {
            home,
            base: base.to_owned(),
        }
    }

    /// The work folder, for files the commands read.
    fn work(&self) -> PathBuf {
        self.home.join("work")
    }

    fn config_file(&self) -> PathBuf {
        self.home.join("config").join("sigil").join("config.toml")
    }

    fn command(&self, program: &str) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(program);
        command
            .current_dir(self.work())
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join("config"))
            .env_remove("SIGIL_URL")
            .env_remove("SIGIL_TOKEN")
            .env_remove("SIGIL_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Run `sigil ARGS` with `stdin` and extra environment variables.
    async fn run_with(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Run {
        let mut command = self.command(env!("CARGO_BIN_EXE_sigil"));
        command.args(args).envs(env.iter().copied());
        command.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = command.spawn().expect("sigil starts");
        if let Some(input) = stdin {
            use tokio::io::AsyncWriteExt as _;
            let mut pipe = child.stdin.take().expect("stdin");
            pipe.write_all(input.as_bytes())
                .await
                .expect("stdin written");
            drop(pipe);
        }
        let output = child.wait_with_output().await.expect("sigil ends");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    async fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, None, &[]).await
    }

    /// Log in as `username` with the password on standard input.
    async fn login(&self, username: &str) {
        let run = self
            .run_with(
                &[
                    "login",
                    "--url",
                    &self.base,
                    "--username",
                    username,
                    "--password-stdin",
                ],
                Some(PASSWORD),
                &[],
            )
            .await;
        assert_eq!(run.code, 0, "login: {run:?}");
        assert!(run.stdout.contains(&format!("as {username}")), "{run:?}");
    }

    /// Write a file in the work folder.
    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.work().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("folder");
        }
        std::fs::write(&path, bytes).expect("written");
        path
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// A user named `name` with the `user` role.
async fn user(app: &TestApp, name: &str) {
    app.create_user(name, PASSWORD, &["user"]).await;
}

/// Register `key` with the client; its id.
async fn add_key(client: &Client, key: &TestKey, name: &str) -> String {
    let file = client.write(&format!("{name}.pub"), key.pem().as_bytes());
    let run = client
        .run(&[
            "keys",
            "add",
            file.to_str().expect("utf-8"),
            "--algorithm",
            key.algorithm(),
            "--name",
            name,
            "--json",
        ])
        .await;
    assert_eq!(run.code, 0, "keys add: {run:?}");
    run.json()["id"].as_str().expect("an id").to_owned()
}

#[tokio::test]
async fn login_stores_a_private_session_and_keys_verify_and_history_work_through_it() {
    let app = TestApp::spawn().await;
    user(&app, "alice").await;
    let client = Client::new(&app);
    client.login("alice").await;

    // The file holds the session, readable by its owner only, and no
    // password.
    let stored = std::fs::read_to_string(client.config_file()).expect("config written");
    assert!(
        stored.contains("refresh_token") && stored.contains(&app.base),
        "{stored}"
    );
    assert!(!stored.contains(PASSWORD));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let meta = std::fs::metadata(client.config_file()).expect("exists");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    let me = client.run(&["whoami", "--json"]).await;
    assert_eq!(me.code, 0, "{me:?}");
    assert_eq!(me.json()["username"], "alice");

    // keys add / list / show.
    let signer = TestKey::generate(Kind::P256);
    let key = add_key(&client, &signer, "laptop").await;
    let list = client.run(&["keys", "list"]).await;
    assert_eq!(list.code, 0, "{list:?}");
    assert!(list.stdout.starts_with("ID "), "a table: {list:?}");
    assert!(
        list.stdout.contains(&key)
            && list.stdout.contains("laptop")
            && list.stdout.contains("P-256")
    );
    let listed = client.run(&["keys", "list", "--json"]).await.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    let shown = client.run(&["keys", "show", &key]).await;
    assert!(
        shown.stdout.contains("-----BEGIN PUBLIC KEY-----"),
        "{shown:?}"
    );

    // verify: 0 valid, 1 invalid, 2 error with the problem's code.
    let document = client.write("doc.txt", b"Pay Bob 10 euros");
    let signature = client.write("doc.sig", &signer.sign(b"Pay Bob 10 euros"));
    let forged = client.write("forged.txt", b"Pay Bob 1000 euros");
    let (doc, sig, forged) = (
        document.to_str().expect("utf-8"),
        signature.to_str().expect("utf-8"),
        forged.to_str().expect("utf-8"),
    );
    let valid = client.run(&["verify", "--key", &key, doc, sig]).await;
    assert_eq!(valid.code, 0, "{valid:?}");
    assert!(valid.stdout.starts_with("valid:"), "{valid:?}");
    let invalid = client
        .run(&["verify", "--key", &key, forged, sig, "--json"])
        .await;
    assert_eq!(invalid.code, 1, "{invalid:?}");
    assert_eq!(invalid.json()["valid"], false);
    let unknown = Uuid::new_v4().to_string();
    let error = client.run(&["verify", "--key", &unknown, doc, sig]).await;
    assert_eq!(error.code, 2, "{error:?}");
    assert!(
        error.stderr.contains("key_not_found"),
        "code and detail: {error:?}"
    );
    let garbage = client.write("garbage.sig", b"\x01\x02\x03 not a signature");
    let malformed = client
        .run(&[
            "verify",
            "--key",
            &key,
            doc,
            garbage.to_str().expect("utf-8"),
        ])
        .await;
    assert_eq!(malformed.code, 2, "{malformed:?}");
    assert!(malformed.stderr.contains("error: "), "{malformed:?}");
    let missing = client
        .run(&["verify", "--key", &key, doc, "nowhere.sig"])
        .await;
    assert_eq!(missing.code, 2, "{missing:?}");
    assert!(missing.stderr.contains("nowhere.sig"), "{missing:?}");

    // history: the two answered verifications, newest first, as CSV and
    // JSON.
    let csv = client
        .run(&["history", "--format", "csv", "--since", "1h"])
        .await;
    assert_eq!(csv.code, 0, "{csv:?}");
    let lines: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "a header and two records: {csv:?}");
    assert!(lines[0].starts_with("id,verified_at,valid,algorithm,curve,public_key_id"));
    assert!(
        lines[1].contains(",false,ECDSA,P-256,") && lines[1].contains(&key),
        "{csv:?}"
    );
    assert!(lines[2].contains(",true,ECDSA,P-256,"), "{csv:?}");
    let json = client.run(&["history", "--format", "json"]).await.json();
    let records = json.as_array().expect("an array");
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["valid"], false);
    assert_eq!(records[1]["valid"], true);
    let none = client
        .run(&["history", "--json", "--until", "2000-01-01"])
        .await
        .json();
    assert_eq!(none, serde_json::json!([]));

    // Revoked: the key is refused, with its code.
    let revoked = client.run(&["keys", "revoke", &key]).await;
    assert_eq!(revoked.code, 0, "{revoked:?}");
    assert!(revoked.stdout.contains("revoked"), "{revoked:?}");
    let refused = client.run(&["verify", "--key", &key, doc, sig]).await;
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("key_revoked"), "{refused:?}");
}

#[tokio::test]
async fn an_expired_session_is_refreshed_and_saved_and_tokens_and_the_environment_override() {
    let app = TestApp::spawn().await;
    user(&app, "bob").await;
    let client = Client::new(&app);
    client.login("bob").await;

    // The stored access token is past its expiry: the next command
    // refreshes the pair first and saves the new one.
    let before = std::fs::read_to_string(client.config_file()).expect("config");
    let expires = before
        .lines()
        .find(|line| line.starts_with("expires_at"))
        .expect("an expiry")
        .to_owned();
    let expired = before.replace(&expires, "expires_at = \"2000-01-01T00:00:00Z\"");
    std::fs::write(client.config_file(), &expired).expect("rewritten");
    let me = client.run(&["whoami"]).await;
    assert_eq!(me.code, 0, "{me:?}");
    let after = std::fs::read_to_string(client.config_file()).expect("config");
    let refresh = |text: &str| {
        text.lines()
            .find(|line| line.starts_with("refresh_token"))
            .map(str::to_owned)
    };
    assert_ne!(refresh(&expired), refresh(&after), "a new pair was saved");
    assert!(!after.contains("2000-01-01"), "{after}");

    // SIGIL_TOKEN wins over the file; SIGIL_URL over its URL.
    let (_, carol) = app.user(&["user"]).await;
    let as_carol = client
        .run_with(&["whoami", "--json"], None, &[("SIGIL_TOKEN", &carol)])
        .await;
    assert_eq!(as_carol.code, 0, "{as_carol:?}");
    assert_ne!(as_carol.json()["username"], "bob");
    let nowhere = client
        .run_with(&["whoami"], None, &[("SIGIL_URL", "http://127.0.0.1:9")])
        .await;
    assert_eq!(nowhere.code, 2, "{nowhere:?}");
    assert!(
        nowhere.stderr.contains("cannot reach http://127.0.0.1:9"),
        "{nowhere:?}"
    );

    // `login --token` stores a bearer token as it is (an API token; here
    // an access token, which the service takes the same way).
    let stored = client
        .run_with(&["login", "--url", &app.base, "--token"], Some(&carol), &[])
        .await;
    assert_eq!(stored.code, 0, "{stored:?}");
    let config = std::fs::read_to_string(client.config_file()).expect("config");
    assert!(
        config.contains("token = ") && !config.contains("refresh_token"),
        "{config}"
    );
    let me = client.run(&["whoami", "--json"]).await;
    assert_eq!(me.json()["username"], as_carol.json()["username"]);
    let bad = client
        .run_with(
            &["login", "--url", &app.base, "--token"],
            Some("sigil_pat_nonsense"),
            &[],
        )
        .await;
    assert_eq!(bad.code, 2, "a refused token is not stored: {bad:?}");
    assert!(bad.stderr.contains("invalid_token"), "{bad:?}");

    // logout forgets the credential; commands then ask for a login.
    let out = client.run(&["logout"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let anonymous = client.run(&["keys", "list"]).await;
    assert_eq!(anonymous.code, 2, "{anonymous:?}");
    assert!(
        anonymous.stderr.contains("missing_token") || anonymous.stderr.contains("sigil login"),
        "{anonymous:?}"
    );

    // Nothing stored at all: the error says what to do.
    let fresh = Client::new(&app);
    let lost = fresh.run(&["keys", "list"]).await;
    assert_eq!(lost.code, 2, "{lost:?}");
    assert!(lost.stderr.contains("not logged in"), "{lost:?}");
}

/// A manifest of `count` Ed25519-signed files: the last three signatures
/// are over other bytes (invalid), one signature file is missing and one
/// is garbage (errors).
fn signed_files(client: &Client, signer: &TestKey, key: &str, count: usize) {
    let mut manifest = String::from("file,signature,key\n");
    for i in 0..count {
        let name = format!("files/doc-{i:05}.txt");
        let body = format!("document number {i}");
        client.write(&name, body.as_bytes());
        let signed = if i >= count - 3 {
            format!("not document {i}")
        } else {
            body
        };
        let sig = format!("{name}.sig");
        match i {
            7 => {} // no signature file
            11 => {
                client.write(&sig, b"\x00\x01 garbage");
            }
            _ => {
                client.write(&sig, &signer.sign(signed.as_bytes()));
            }
        }
        manifest.push_str(&format!("{name},{sig},{key}\n"));
    }
    client.write("manifest.csv", manifest.as_bytes());
}

#[tokio::test]
async fn verify_batch_of_two_thousand_files_in_chunks_with_progress_in_a_terminal() {
    // A service whose batch maximum is below the client's default: the
    // client learns it (from the OpenAPI document, or from the refusal)
    // and sends chunks of at most 500.
    let app = TestApp::spawn_with(|c| c.verify.max_batch_items = 500).await;
    user(&app, "dora").await;
    let client = Client::new(&app);
    client.login("dora").await;
    let signer = TestKey::generate(Kind::Ed25519);
    let key = add_key(&client, &signer, "release").await;
    signed_files(&client, &signer, &key, 2000);
    // Relative to the work folder, as the paths inside it are.
    let manifest = "manifest.csv";

    // For scripts: JSON, no progress bar when standard error is a pipe.
    let run = client.run(&["verify-batch", manifest, "--json"]).await;
    assert_eq!(run.code, 2, "errors make the exit status 2: {}", run.stderr);
    assert!(
        !run.stderr.contains("2000/2000"),
        "no bar off a terminal: {}",
        run.stderr
    );
    let summary = run.json();
    assert_eq!(summary["total"], 2000);
    assert_eq!(summary["valid"], 1995);
    assert_eq!(summary["invalid"], 3);
    assert_eq!(summary["errors"], 2);
    assert_eq!(
        summary["batches"].as_array().map(Vec::len),
        Some(4),
        "2000 in chunks of 500"
    );
    let results = summary["results"].as_array().expect("results");
    assert_eq!(results[7]["error"]["code"], "unreadable_file");
    assert!(
        results[11]["error"]["code"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );
    assert_eq!(results[1999]["valid"], false);
    assert_eq!(results[0]["valid"], true);

    // In a terminal: the bar is drawn on standard error, then the failures
    // and the summary.
    let exe = env!("CARGO_BIN_EXE_sigil");
    // A pty has no size until someone sets one.
    let line = format!("stty cols 160 rows 40; {exe} verify-batch {manifest}");
    let mut command = client.command("script");
    command
        .args(["-qec", &line, "/dev/null"])
        .env("TERM", "xterm")
        .stdin(Stdio::null());
    let output = command.output().await.expect("script runs");
    let screen = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "{screen}");
    assert!(
        screen.contains("2000/2000 items"),
        "a finished progress bar: {screen}"
    );
    assert!(
        screen.contains("1995 valid, 3 invalid, 2 errors"),
        "{screen}"
    );
    assert!(
        screen.contains("2000 items in 4 batches: 1995 valid, 3 invalid, 2 errors"),
        "{screen}"
    );
    assert!(screen.contains("INVALID  files/doc-01999.txt"), "{screen}");
    assert!(screen.contains("ERROR    files/doc-00007.txt"), "{screen}");

    // The records are there: the history follows its cursors past a page.
    let recorded = results
        .iter()
        .filter(|r| r["verification_id"].is_string())
        .count();
    assert!(
        recorded >= 1998,
        "every answered item is recorded: {recorded}"
    );
    let history = client.run(&["history", "--json"]).await.json();
    assert_eq!(history.as_array().map(Vec::len), Some(2 * recorded));

    // The directory convention: FILE and FILE.sig, all valid.
    let dir = client.work().join("small");
    for i in 0..3 {
        let body = format!("small {i}");
        client.write(&format!("small/{i}.txt"), body.as_bytes());
        client.write(&format!("small/{i}.txt.sig"), &signer.sign(body.as_bytes()));
    }
    let run = client
        .run(&[
            "verify-batch",
            "--dir",
            dir.to_str().expect("utf-8"),
            "--key",
            &key,
        ])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains("3 items in 1 batches: 3 valid, 0 invalid, 0 errors"),
        "{run:?}"
    );
}

#[tokio::test]
async fn plugins_are_listed_and_managed_by_administrators_only() {
    let app = TestApp::spawn().await;
    app.create_user("root", PASSWORD, &["admin"]).await;
    user(&app, "erin").await;
    let admin = Client::new(&app);
    admin.login("root").await;

    let list = admin.run(&["plugins", "list"]).await;
    assert_eq!(list.code, 0, "{list:?}");
    assert!(list.stdout.starts_with("ID "), "{list:?}");
    assert!(
        list.stdout.contains("ecdsa-p256") && list.stdout.contains("active"),
        "{list:?}"
    );
    let plugins = admin.run(&["plugins", "list", "--json"]).await.json();
    let p256 = plugins
        .as_array()
        .expect("an array")
        .iter()
        .find(|p| p["name"] == "ecdsa-p256")
        .expect("ecdsa-p256 is stored")
        .clone();
    let label = format!("ecdsa-p256@{}", p256["version"].as_str().expect("version"));

    // By NAME@VERSION: the report shows what it declared and serves.
    let shown = admin.run(&["plugins", "show", &label]).await;
    assert_eq!(shown.code, 0, "{shown:?}");
    assert!(
        shown.stdout.contains("curves:") && shown.stdout.contains("P-256"),
        "{shown:?}"
    );
    assert!(shown.stdout.contains("routes:"), "{shown:?}");
    // The shipped plugins speak contract 0.2.0; P-256 takes no context.
    assert!(shown.stdout.contains("contract:   0.2.0"), "{shown:?}");
    assert!(shown.stdout.contains("context:    none"), "{shown:?}");
    let activated = admin.run(&["plugins", "activate", &label]).await;
    assert_eq!(activated.code, 0, "{activated:?}");
    assert!(
        activated.stdout.starts_with("Activated ecdsa-p256"),
        "{activated:?}"
    );
    let rollback = admin.run(&["plugins", "rollback", "ecdsa-p256"]).await;
    assert_eq!(rollback.code, 2, "{rollback:?}");
    assert!(
        rollback.stderr.contains("no earlier activated version"),
        "{rollback:?}"
    );

    // An upload the service refuses: its code and detail are printed.
    let component = crate::helpers::plugins_dir()
        .join("default")
        .join("ecdsa-p256.wasm");
    let again = admin
        .run(&[
            "plugins",
            "upload",
            component.to_str().expect("utf-8"),
            "--unsigned",
        ])
        .await;
    assert_eq!(again.code, 2, "{again:?}");
    assert!(again.stderr.contains("plugin_exists"), "{again:?}");

    // Not for users: 403 with the problem's code.
    let user = Client::new(&app);
    user.login("erin").await;
    let refused = user.run(&["plugins", "list"]).await;
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("(HTTP 403)"), "{refused:?}");
}

#[tokio::test]
async fn help_reads_well_for_every_command() {
    let client = Client::for_server("http://127.0.0.1:9");
    let top = client.run(&["--help"]).await;
    assert_eq!(top.code, 0, "{top:?}");
    for command in [
        "login",
        "logout",
        "whoami",
        "keys",
        "verify",
        "verify-batch",
        "history",
        "tokens",
        "plugins",
        "serve",
        "migrate",
        "admin",
        "export",
    ] {
        assert!(
            top.stdout.contains(&format!("  {command} ")),
            "{command} in --help: {}",
            top.stdout
        );
    }
    assert!(top.stdout.contains("SIGIL_TOKEN"), "{}", top.stdout);
    for args in [
        &["verify", "--help"][..],
        &["verify-batch", "--help"],
        &["keys", "add", "--help"],
        &["history", "--help"],
        &["tokens", "create", "--help"],
        &["plugins", "upload", "--help"],
        &["login", "--help"],
    ] {
        let help = client.run(args).await;
        assert_eq!(help.code, 0, "{args:?}: {help:?}");
        assert!(help.stdout.contains("--json"), "{args:?}: {}", help.stdout);
        assert!(
            help.stdout.contains("Examples:") || help.stdout.contains("Exit status"),
            "{args:?}: {}",
            help.stdout
        );
    }
    let usage = client
        .run(&["verify", "--key", "not-a-uuid", "a", "b"])
        .await;
    assert_eq!(usage.code, 2, "{usage:?}");
}

#[tokio::test]
async fn tokens_are_created_listed_used_and_revoked_from_the_command_line() {
    let app = TestApp::spawn().await;
    user(&app, "dora").await;
    let client = Client::new(&app);
    client.login("dora").await;

    let created = client
        .run(&[
            "tokens",
            "create",
            "--name",
            "ci",
            "--expires-in",
            "7d",
            "--scope",
            "verify_signatures",
            "--json",
        ])
        .await;
    assert_eq!(created.code, 0, "{created:?}");
    let token = created.json()["token"]
        .as_str()
        .expect("the token, once")
        .to_owned();
    let id = created.json()["id"].as_str().expect("its id").to_owned();
    assert!(token.starts_with("sigil_pat_"), "{token}");
    assert_eq!(created.json()["scopes"], json!(["verify_signatures"]));

    // Without --json the token is printed once, with the warning.
    let shown = client.run(&["tokens", "create", "--name", "laptop"]).await;
    assert_eq!(shown.code, 0, "{shown:?}");
    assert!(
        shown.stdout.contains("not shown again") && shown.stdout.contains("sigil_pat_"),
        "{shown:?}"
    );

    // The token works for what it carries and nothing else.
    let as_ci = [("SIGIL_TOKEN", token.as_str())];
    let me = client.run_with(&["whoami", "--json"], None, &as_ci).await;
    assert_eq!(me.code, 0, "{me:?}");
    assert_eq!(me.json()["username"], "dora");
    let keys = client.run_with(&["keys", "list"], None, &as_ci).await;
    assert_eq!(keys.code, 2, "a verify-only token lists no keys: {keys:?}");
    assert!(keys.stderr.contains("forbidden"), "{keys:?}");

    // Listed with its name, scopes and last use (it was just used).
    let listed = client.run(&["tokens", "list", "--json"]).await;
    assert_eq!(listed.code, 0, "{listed:?}");
    let rows = listed.json();
    let row = rows
        .as_array()
        .expect("a list")
        .iter()
        .find(|row| row["id"] == id.as_str())
        .unwrap_or_else(|| panic!("{id} listed: {rows}"))
        .clone();
    assert_eq!(row["name"], "ci");
    assert!(!row["last_used_at"].is_null(), "{row}");
    assert!(
        row.get("token").is_none(),
        "a list never shows a value: {row}"
    );
    let table = client.run(&["tokens", "list"]).await;
    assert!(
        table.stdout.contains("LAST USED") && table.stdout.contains(&id),
        "{table:?}"
    );

    // Revoked: refused at once.
    let revoked = client.run(&["tokens", "revoke", &id]).await;
    assert_eq!(revoked.code, 0, "{revoked:?}");
    assert!(revoked.stdout.contains("revoked"), "{revoked:?}");
    let refused = client.run_with(&["whoami"], None, &as_ci).await;
    assert_eq!(refused.code, 2, "{refused:?}");
    let listed = client.run(&["tokens", "list"]).await;
    assert!(
        listed
            .stdout
            .lines()
            .any(|line| line.contains(&id) && line.contains("revoked")),
        "{listed:?}"
    );
}
