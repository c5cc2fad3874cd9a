//! Where settings come from: the file's TOML table, every setting variable
//! of the environment merged into it, then one deserialisation into
//! [`Config`], so the same rules (types, unknown keys refused) hold for
//! both sources and every setting can be set from either.

use std::path::Path;

use serde::Deserialize as _;
use toml::{Table, Value};

use super::{Config, ConfigError};

/// Variables older than the `SIGIL_<SECTION>__<KEY>` names, still accepted
/// (the image, docker-compose.yml and scripts/run set them), with the key
/// each sets. Where both spellings are set, the `SIGIL_…__…` one wins.
pub(super) const ALIASES: &[(&str, &str)] = &[
    ("DATABASE_URL", "database.url"),
    ("SIGIL_MIGRATE_DATABASE_URL", "database.migrate_url"),
    ("DATABASE_READ_URL", "database.read_url"),
    ("REDIS_URL", "redis.url"),
    ("SIGIL_LISTEN", "listen"),
    ("SIGIL_PLUGIN_DIR", "plugins.dir"),
    ("SIGIL_SIGNING_KEY_SECRET", "auth.signing_key_secret"),
];

/// The variable to name for `key` (`http.body_limit_bytes`): its alias if
/// it has one, else `SIGIL_HTTP__BODY_LIMIT_BYTES`.
pub(super) fn variable_for(key: &str) -> String {
    match ALIASES.iter().find(|(_, aliased)| *aliased == key) {
        Some((alias, _)) => (*alias).to_owned(),
        None => format!("SIGIL_{}", key.replace('.', "__").to_ascii_uppercase()),
    }
}

/// One environment variable that sets one setting.
#[derive(Debug, Clone)]
struct EnvSetting {
    variable: String,
    /// The key, one entry per table level (`["http", "body_limit_bytes"]`).
    path: Vec<String>,
    value: Value,
}

impl Config {
    /// Defaults, then `file` (if any), then the process environment;
    /// validated.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let text = match file {
            Some(path) => {
                Some(
                    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                        path: path.to_owned(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        let env = std::env::vars_os().map(|(name, value)| {
            let text = |s: std::ffi::OsString| s.to_string_lossy().into_owned();
            (text(name), text(value))
        });
        Self::from_sources(file.zip(text.as_deref()), env)
    }

    /// The validated configuration that `file` (its path, named in errors,
    /// and its text) and the variables `env` describe. Reads nothing else,
    /// so tests can give it any sources.
    pub fn from_sources(
        file: Option<(&Path, &str)>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let config = Self::merge(file, env)?;
        config.validate()?;
        Ok(config)
    }

    /// [`Config::from_sources`] before validation.
    fn merge(
        file: Option<(&Path, &str)>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let base = match file {
            Some((path, text)) => {
                toml::from_str::<Table>(text).map_err(|e| file_error(path, &e))?
            }
            None => Table::new(),
        };
        let settings = env_settings(env);
        let mut table = base.clone();
        overlay(&mut table, &settings)?;
        table
            .try_into()
            .map_err(|error| blame(file, &base, &settings, &error))
    }
}

/// The variables of `env` that are settings, typed, in the order they
/// apply: aliases first, then by name (the environment's order is not
/// meaningful, the result must not depend on it).
fn env_settings(env: impl IntoIterator<Item = (String, String)>) -> Vec<EnvSetting> {
    // Serialising the defaults cannot fail; without them every value is
    // read as a TOML scalar, which still works for all but odd strings.
    let defaults = Table::try_from(Config::default()).unwrap_or_default();
    let mut settings: Vec<EnvSetting> = env
        .into_iter()
        .filter_map(|(variable, raw)| {
            let path = setting_path(&variable)?;
            let value = typed(&raw, lookup(&defaults, &path));
            Some(EnvSetting {
                variable,
                path,
                value,
            })
        })
        .collect();
    settings.sort_by_cached_key(|s| (s.variable.contains("__"), s.variable.clone()));
    settings
}

/// The key a variable sets, if it is a setting: an alias, or `SIGIL_` and
/// a `__`-separated key (`SIGIL_HTTP__BODY_LIMIT_BYTES`:
/// `http.body_limit_bytes`). Other `SIGIL_` variables are build, run and
/// test switches (`SIGIL_TEST_PLUGINS`, `SIGIL_WIDE_ARITHMETIC`,
/// `SIGIL_PORT`...), not settings.
fn setting_path(variable: &str) -> Option<Vec<String>> {
    if let Some((_, key)) = ALIASES.iter().find(|(alias, _)| *alias == variable) {
        return Some(key.split('.').map(str::to_owned).collect());
    }
    let key = variable
        .strip_prefix("SIGIL_")
        .filter(|key| key.contains("__"))?;
    Some(key.split("__").map(str::to_ascii_lowercase).collect())
}

/// An environment value as TOML: text where the setting is text (so
/// `SIGIL_AUTH__ISSUER=2024` stays a string); otherwise a TOML value
/// (`42`, `true`, `1.5`, `["a", "b"]`), or text if it is none, which then
/// fails to deserialise with an error naming the variable.
fn typed(raw: &str, default: Option<&Value>) -> Value {
    if let Some(Value::String(_)) = default {
        return Value::String(raw.to_owned());
    }
    Value::deserialize(toml::de::ValueDeserializer::new(raw.trim()))
        .unwrap_or_else(|_| Value::String(raw.to_owned()))
}

fn lookup<'t>(table: &'t Table, path: &[String]) -> Option<&'t Value> {
    let (leaf, sections) = path.split_last()?;
    let mut at = table;
    for section in sections {
        at = at.get(section)?.as_table()?;
    }
    at.get(leaf)
}

/// Set each setting in `table`, making sections as needed.
fn overlay(table: &mut Table, settings: &[EnvSetting]) -> Result<(), ConfigError> {
    for setting in settings {
        let Some((leaf, sections)) = setting.path.split_last() else {
            continue;
        };
        let mut at = &mut *table;
        for section in sections {
            let entry = at
                .entry(section.clone())
                .or_insert(Value::Table(Table::new()));
            at = entry.as_table_mut().ok_or_else(|| ConfigError::Env {
                variable: setting.variable.clone(),
                message: format!("`{section}` is a setting, not a section"),
            })?;
        }
        at.insert(leaf.clone(), setting.value.clone());
    }
    Ok(())
}

/// Which source made the merged table unusable, by elimination: the file
/// alone (its error shows the line), else the first variable that fails
/// on top of the file. Only runs when loading has failed.
fn blame(
    file: Option<(&Path, &str)>,
    base: &Table,
    settings: &[EnvSetting],
    error: &toml::de::Error,
) -> ConfigError {
    if let Some((path, text)) = file
        && let Err(e) = toml::from_str::<Config>(text)
    {
        return file_error(path, &e);
    }
    for setting in settings {
        let mut table = base.clone();
        if overlay(&mut table, std::slice::from_ref(setting)).is_ok()
            && let Err(e) = table.try_into::<Config>()
        {
            return ConfigError::Env {
                variable: setting.variable.clone(),
                message: one_line(&e),
            };
        }
    }
    // Each source is fine alone but not together: name them all.
    let variables: Vec<&str> = settings.iter().map(|s| s.variable.as_str()).collect();
    ConfigError::Env {
        variable: variables.join(", "),
        message: one_line(error),
    }
}

fn file_error(path: &Path, error: &toml::de::Error) -> ConfigError {
    ConfigError::File {
        path: path.to_owned(),
        message: error.to_string().trim_end().to_owned(),
    }
}

/// toml's message without its line breaks ("… expected usize in
/// `http.body_limit_bytes`").
fn one_line(error: &toml::de::Error) -> String {
    error.to_string().trim().replace('\n', " ")
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    const DB: (&str, &str) = ("DATABASE_URL", "postgres://sigil_app@db/sigil");

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn file(text: &str) -> Option<(&Path, &str)> {
        Some((Path::new("sigil.toml"), text))
    }

    /// Every setting as (`section.key`, default value), from the code.
    pub(in crate::config) fn settings_with_defaults() -> Vec<(String, Value)> {
        fn walk(prefix: &str, table: &Table, out: &mut Vec<(String, Value)>) {
            for (key, value) in table {
                let key = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                match value {
                    Value::Table(section) => walk(&key, section, out),
                    value => out.push((key, value.clone())),
                }
            }
        }
        let mut out = Vec::new();
        let defaults = Table::try_from(Config::default()).expect("defaults serialise");
        walk("", &defaults, &mut out);
        out
    }

    #[test]
    fn environment_overrides_file_and_defaults() {
        let config = Config::from_sources(
            file("listen = \"127.0.0.1:7000\"\n[verify]\nmax_batch_items = 10\nmax_signature_bytes = 99\n"),
            env(&[
                DB,
                ("SIGIL_LISTEN", "0.0.0.0:9000"),
                ("SIGIL_VERIFY__MAX_BATCH_ITEMS", "50"),
                ("SIGIL_AUTH__OPEN_REGISTRATION", "false"),
                ("SIGIL_HTTP__BODY_LIMIT_BYTES", "1024"),
            ]),
        )
        .expect("valid");
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.verify.max_batch_items, 50);
        assert_eq!(config.verify.max_signature_bytes, 99, "from the file");
        assert!(!config.auth.open_registration);
        assert_eq!(config.http.body_limit_bytes, 1024);
        assert_eq!(config.verify.max_document_bytes, 1 << 20, "default");
    }

    /// Each setting, set through its variable to a value other than its
    /// default, changes that setting and no other: every setting can be
    /// set from the environment.
    #[test]
    fn every_setting_is_settable_from_the_environment() {
        let defaults = settings_with_defaults();
        assert!(defaults.len() >= 50, "{} settings", defaults.len());
        for (key, default) in &defaults {
            let raw = match default {
                Value::Integer(n) => (n + 1).to_string(),
                Value::Boolean(b) => (!b).to_string(),
                Value::String(_) if key == "listen" => "0.0.0.0:9".to_owned(),
                Value::String(s) => format!("{s}-changed"),
                other => panic!("{key}: no test value for {other:?}"),
            };
            let variable = variable_for(key);
            let config = Config::merge(None, env(&[(&variable, &raw)]))
                .unwrap_or_else(|e| panic!("{variable}={raw}: {e}"));
            let table = Table::try_from(config).expect("serialises");
            for (other, default) in &defaults {
                let now = lookup(
                    &table,
                    &other.split('.').map(str::to_owned).collect::<Vec<_>>(),
                );
                if other == key {
                    assert_ne!(now, Some(default), "{variable} did not set {key}");
                } else {
                    assert_eq!(now, Some(default), "{variable} changed {other}");
                }
            }
        }
    }

    #[test]
    fn an_unknown_variable_is_refused_by_name() {
        for variable in [
            "SIGIL_HTTP__BODY_LIMT_BYTES",
            "SIGIL_HTPP__BODY_LIMIT_BYTES",
            "SIGIL_HTTP__",
            "SIGIL_LISTEN__PORT",
        ] {
            let error =
                Config::from_sources(None, env(&[DB, (variable, "1")])).expect_err(variable);
            assert!(
                matches!(&error, ConfigError::Env { variable: v, .. } if v == variable),
                "{variable}: {error}"
            );
        }
        let error = Config::from_sources(file("[http]\nbody_limt_bytes = 1\n"), env(&[DB]))
            .expect_err("unknown file key");
        assert!(error.to_string().contains("sigil.toml"), "{error}");
        assert!(error.to_string().contains("body_limt_bytes"), "{error}");
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (variable, raw) in [
            ("SIGIL_VERIFY__MAX_BATCH_ITEMS", "lots"),
            ("SIGIL_AUTH__OPEN_REGISTRATION", "yes"),
            ("SIGIL_PLUGINS__WORKERS", "-1"),
            ("SIGIL_LISTEN", "not an address"),
        ] {
            let error = Config::from_sources(
                file("[verify]\nmax_batch_items = 10\n"),
                env(&[DB, (variable, raw)]),
            )
            .expect_err(variable);
            assert!(error.to_string().contains(variable), "{error}");
        }
        let error = Config::from_sources(None, env(&[])).expect_err("no database");
        assert!(error.to_string().contains("DATABASE_URL"), "{error}");
    }

    #[test]
    fn aliases_set_their_keys_and_the_long_name_wins() {
        let dir = std::env::temp_dir();
        let config = Config::from_sources(
            None,
            env(&[
                ("SIGIL_DATABASE__URL", "postgres://long@db/sigil"),
                ("DATABASE_URL", "postgres://alias@db/sigil"),
                ("SIGIL_MIGRATE_DATABASE_URL", "postgres://owner@db/sigil"),
                ("REDIS_URL", "redis://cache"),
                ("SIGIL_PLUGIN_DIR", dir.to_str().expect("utf-8")),
                (
                    "SIGIL_SIGNING_KEY_SECRET",
                    "thirty-two characters or more, fine",
                ),
            ]),
        )
        .expect("valid");
        assert_eq!(config.database.url.expose(), "postgres://long@db/sigil");
        assert_eq!(config.migrate_url(), "postgres://owner@db/sigil");
        assert_eq!(config.redis.url.expose(), "redis://cache");
        assert_eq!(config.plugins.dir.as_deref(), Some(dir.as_path()));
        assert!(
            config
                .auth
                .signing_key_secret
                .expose()
                .starts_with("thirty-two")
        );
        let unset =
            Config::from_sources(None, env(&[DB, ("SIGIL_PLUGIN_DIR", "")])).expect("valid");
        assert_eq!(unset.plugins.dir, None, "empty unsets");
    }

    #[test]
    fn text_settings_stay_text_and_other_sigil_variables_are_ignored() {
        let config = Config::from_sources(
            None,
            env(&[
                DB,
                ("SIGIL_AUTH__ISSUER", "2024"),
                ("SIGIL_REDIS__KEY_PREFIX", "true"),
                ("SIGIL_TEST_PLUGINS", "/nowhere"),
                ("SIGIL_WIDE_ARITHMETIC", "0"),
                ("SIGIL_CONFIG", "/nowhere.toml"),
                ("SIGIL_PORT", "8081"),
            ]),
        )
        .expect("valid");
        assert_eq!(config.auth.issuer, "2024");
        assert_eq!(config.redis.key_prefix, "true");
        assert!(config.plugins.wide_arithmetic);
    }

    #[test]
    fn unusable_trusted_publishers_are_refused_by_name() {
        let refused = Config::from_sources(
            None,
            env(&[DB, ("SIGIL_PLUGINS__TRUSTED_PUBLISHERS", "acme:not-a-key")]),
        )
        .expect_err("refused");
        assert!(
            refused
                .to_string()
                .contains("SIGIL_PLUGINS__TRUSTED_PUBLISHERS"),
            "{refused}"
        );
        let key = "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
        let config = Config::from_sources(
            None,
            env(&[
                DB,
                ("SIGIL_PLUGINS__TRUSTED_PUBLISHERS", &format!("acme:{key}")),
                ("SIGIL_PLUGINS__REQUIRE_SIGNATURE", "true"),
            ]),
        )
        .expect("valid");
        assert!(config.plugins.require_signature);
        assert_eq!(
            config.plugins.trusted_publishers().expect("parses").names(),
            ["acme"]
        );
    }

    #[test]
    fn a_short_signing_key_secret_is_refused() {
        let short =
            Config::from_sources(None, env(&[DB, ("SIGIL_SIGNING_KEY_SECRET", "too short")]))
                .expect_err("refused");
        assert!(short.to_string().contains("signing_key_secret"), "{short}");
        assert!(!short.to_string().contains("too short"), "{short}");
    }
}
