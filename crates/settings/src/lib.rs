//! Configuration for every service, written once. Layers, later winning:
//! 1. the module's shared files: `config/base.toml`, then `config/{LEADGEN_ENV}.toml`;
//! 2. the service's own files: `services/<name>/config/base.toml`, then `…/{LEADGEN_ENV}.toml`;
//! 3. environment variables with the product's one prefix `LEADGEN` and `__` between levels.
//!
//! | variable | meaning |
//! |---|---|
//! | `LEADGEN_SHARED_CONFIG_DIR` | the shared files (must hold `base.toml`; unset: `./config` when it holds one, else no shared layer) |
//! | `LEADGEN_CONFIG_DIR` | the service's files (default `./config`; its `base.toml` is required only when named and alone) |
//! | `LEADGEN_ENV` | which overlay file to read (default `local`) |
//! | `LEADGEN__DATABASE__URL` | PostgreSQL URL |
//! | `LEADGEN__AMQP__URL` | RabbitMQ URL |
//! | `LEADGEN__HTTP__PORT` | HTTP port (`0` picks a free one) |
//! | `LEADGEN__PLATFORMS__TAOBAO__API_URL` | and `AUTHORIZE_URL`, `TOKEN_URL`, per platform |
//!
//! With no directory named and no `./config`, a process runs on `LEADGEN__*` variables alone, so
//! `leadctl` works from any directory, in an image or in a Job.
//!
//! The four services share one environment namespace, so a service ignores top-level sections it
//! does not use; inside a section every struct denies unknown keys, so a typo fails at start-up
//! with the key's path (`[platforms]`: every key other than `shared_rate_limit` must name a
//! platform in lower case, and an error names its `[platforms.<name>]` table).

mod sections;

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

pub use secrecy::{ExposeSecret, SecretString};
pub use sections::*;

/// Why configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    #[error("cannot read configuration: {0}")]
    Source(#[from] config::ConfigError),
    #[error("invalid configuration at `{path}`: {message} ({read})")]
    Invalid {
        path: String,
        message: String,
        /// Where the configuration was read from, and how to name the rest.
        read: String,
    },
    /// A key committed to the repository for local development, outside `local`.
    #[error(
        "`{path}` holds the development key committed in config/local.toml, which anyone can read; \
         LEADGEN_ENV is `{environment}`: set a key of its own (LEADGEN__{var}), or LEADGEN_ENV=local \
         for a local run"
    )]
    DevelopmentKey {
        path: &'static str,
        var: &'static str,
        environment: String,
    },
}

/// The keys `config/local.toml` commits for `make run` (a test keeps them equal): known to
/// anyone who reads the repository, so refused in any other environment. A token signed with
/// the development secret would pass as any tenant's; data sealed under the development key is
/// as good as clear.
pub const DEVELOPMENT_KEYS: [(&str, &str, &str); 3] = [
    (
        "auth.hmac_secret",
        "AUTH__HMAC_SECRET",
        "leadgen-local-development-secret-change-me",
    ),
    (
        "crypto.data_key",
        "CRYPTO__DATA_KEY",
        "bGVhZGdlbi1sb2NhbC1kZXYta2V5LTMyLWJ5dGVzISE=",
    ),
    (
        "crypto.blind_index_key",
        "CRYPTO__BLIND_INDEX_KEY",
        "bGVhZGdlbi1sb2NhbC1ibGluZC1pbmRleC1rZXkhISE=",
    ),
];

/// Refuses [`DEVELOPMENT_KEYS`] outside the `local` environment (tests name their own).
fn refuse_development_keys(raw: &config::Config, environment: &str) -> Result<(), SettingsError> {
    if environment == "local" {
        return Ok(());
    }
    for (path, var, value) in DEVELOPMENT_KEYS {
        if raw.get_string(path).is_ok_and(|set| set.trim() == value) {
            return Err(SettingsError::DevelopmentKey {
                path,
                var,
                environment: environment.to_owned(),
            });
        }
    }
    Ok(())
}

/// Where to read configuration from.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The module's shared files; `None` skips that layer.
    pub shared_dir: Option<PathBuf>,
    pub dir: PathBuf,
    pub environment: String,
    /// Read `LEADGEN__*` variables (tests turn this off to stay hermetic).
    pub use_env: bool,
    /// `dir` must hold `base.toml` when there is no shared layer (it was named explicitly).
    pub dir_required: bool,
}

impl Sources {
    /// `LEADGEN_CONFIG_DIR`, `LEADGEN_SHARED_CONFIG_DIR` and `LEADGEN_ENV` (default `local`).
    /// A named shared directory must hold its `base.toml`. Unnamed, the shared layer is
    /// `./config` when it holds one (a process started at the repository root) and the process's
    /// own layer is `./config` when present; with neither, the process runs on `LEADGEN__*`
    /// variables alone (an image or a Job, from any working directory).
    pub fn from_env() -> Self {
        #[expect(
            clippy::disallowed_methods,
            reason = "this crate is where env vars are read"
        )]
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self::resolve(
            var("LEADGEN_CONFIG_DIR"),
            var("LEADGEN_SHARED_CONFIG_DIR"),
            var("LEADGEN_ENV"),
        )
    }

    /// [`Sources::from_env`] from the variables' values.
    pub fn resolve(
        config_dir: Option<String>,
        shared_dir: Option<String>,
        environment: Option<String>,
    ) -> Self {
        let default_dir = || Path::new("config").join("base.toml").is_file();
        let dir_named = config_dir.is_some();
        let dir = PathBuf::from(config_dir.unwrap_or_else(|| "config".to_owned()));
        let shared_dir = match shared_dir {
            Some(shared) => Some(PathBuf::from(shared)),
            None => default_dir().then(|| PathBuf::from("config")),
        }
        .filter(|s| s.as_path() != dir.as_path());
        Sources {
            shared_dir,
            dir,
            environment: environment.unwrap_or_else(|| "local".to_owned()),
            use_env: true,
            dir_required: dir_named,
        }
    }

    /// Files only, from `dir`.
    pub fn files(dir: impl AsRef<Path>) -> Self {
        Sources {
            shared_dir: None,
            dir: dir.as_ref().to_path_buf(),
            environment: "local".to_owned(),
            use_env: false,
            dir_required: true,
        }
    }
}

/// Loads a service's settings type from the layered sources.
pub fn load<T: DeserializeOwned + validator::Validate>(
    sources: &Sources,
) -> Result<T, SettingsError> {
    let mut builder = config::Config::builder();
    if let Some(shared) = &sources.shared_dir {
        builder = builder
            .add_source(config::File::from(shared.join("base.toml")).required(true))
            .add_source(
                config::File::from(shared.join(format!("{}.toml", sources.environment)))
                    .required(false),
            );
    }
    let service_base_required = sources.shared_dir.is_none() && sources.dir_required;
    builder = builder
        .add_source(
            config::File::from(sources.dir.join("base.toml")).required(service_base_required),
        )
        .add_source(
            config::File::from(sources.dir.join(format!("{}.toml", sources.environment)))
                .required(false),
        );
    if sources.use_env {
        builder = builder.add_source(environment());
    }
    let raw = builder.build()?;
    refuse_development_keys(&raw, &sources.environment)?;
    refuse_unknown_sections(&raw, sources)?;
    let settings: T =
        serde_path_to_error::deserialize(raw).map_err(|e| SettingsError::Invalid {
            path: e.path().to_string(),
            message: e.inner().to_string(),
            read: sources.describe(),
        })?;
    // Values of the right type that would still break the service (0 connections, a batch of
    // 0 events, an interval of 0 that spins): refused here, named, not found at 3 a.m.
    settings.validate().map_err(|errors| {
        let (path, message) = first_broken_rule(&errors);
        SettingsError::Invalid {
            path,
            message,
            read: sources.describe(),
        }
    })?;
    Ok(settings)
}

/// Every section a service or `leadctl` reads. A section named otherwise is a typo whose values
/// would be ignored for the defaults (`[proccessing]`, or `LEADGEN__SYNC_LEASE_SECS` with one
/// `_` too few, read as a section of its own): refused, as an unknown key inside a section is.
pub const SECTIONS: [&str; 14] = [
    "http",
    "database",
    "amqp",
    "telemetry",
    "auth",
    "crypto",
    "outbox",
    "platforms",
    "oauth",
    "shops",
    "reveal",
    "processing",
    "scorer",
    "sync",
];

fn refuse_unknown_sections(raw: &config::Config, sources: &Sources) -> Result<(), SettingsError> {
    let read: std::collections::HashMap<String, config::Value> = raw.clone().try_deserialize()?;
    let mut unknown: Vec<&String> = read
        .keys()
        .filter(|k| !SECTIONS.contains(&k.as_str()))
        .collect();
    unknown.sort();
    match unknown.first() {
        None => Ok(()),
        Some(name) => Err(SettingsError::Invalid {
            path: (*name).clone(),
            message: format!(
                "no such section (known: {}; a variable is LEADGEN__<SECTION>__<KEY>)",
                SECTIONS.join(", ")
            ),
            read: sources.describe(),
        }),
    }
}

/// The first rule `errors` names, by path (so the message does not depend on a map's order):
/// the key's dotted path and what it must be.
fn first_broken_rule(errors: &validator::ValidationErrors) -> (String, String) {
    fn collect(
        errors: &validator::ValidationErrors,
        prefix: &str,
        out: &mut Vec<(String, String)>,
    ) {
        for (field, kind) in errors.errors() {
            let path = if prefix.is_empty() {
                field.to_string()
            } else {
                format!("{prefix}.{field}")
            };
            match kind {
                validator::ValidationErrorsKind::Field(broken) => {
                    out.extend(broken.iter().map(|e| {
                        let message = e
                            .message
                            .as_deref()
                            .map_or_else(|| e.code.to_string(), str::to_owned);
                        (path.clone(), message)
                    }));
                }
                validator::ValidationErrorsKind::Struct(inner) => collect(inner, &path, out),
                validator::ValidationErrorsKind::List(items) => {
                    for (i, inner) in items {
                        collect(inner, &format!("{path}.{i}"), out);
                    }
                }
            }
        }
    }
    let mut broken = Vec::new();
    collect(errors, "", &mut broken);
    broken.sort();
    broken.into_iter().next().unwrap_or_default()
}

impl Sources {
    /// What was read, for an error: an operator outside the repository learns which files were
    /// found and how to supply the rest.
    fn describe(&self) -> String {
        let files = |dir: &Path| {
            let base = dir.join("base.toml");
            if base.is_file() {
                format!("{}", base.display())
            } else {
                format!("{} (absent)", base.display())
            }
        };
        let shared = self
            .shared_dir
            .as_deref()
            .map_or_else(|| "none".to_owned(), files);
        format!(
            "read: shared files {shared}; own files {}; {}. Name the directories with \
             LEADGEN_SHARED_CONFIG_DIR and LEADGEN_CONFIG_DIR, or set a value as \
             LEADGEN__<SECTION>__<KEY> (e.g. LEADGEN__DATABASE__URL)",
            files(&self.dir),
            if self.use_env {
                "LEADGEN__* variables"
            } else {
                "no variables"
            },
        )
    }
}

/// The `LEADGEN__*` variables. The lists a deployment sets from its secrets or environment are
/// comma-separated (no key, key id or origin holds a comma): the previous data and blind-index
/// keys (a key rotation in a cluster, whose keys live in Secrets), the allowed origins and the
/// identity service's extra public keys (PEM holds no comma); every other value stays a scalar.
fn environment() -> config::Environment {
    config::Environment::with_prefix("LEADGEN")
        .prefix_separator("__")
        .separator("__")
        .try_parsing(true)
        .list_separator(",")
        .with_list_parse_key("crypto.previous_keys")
        .with_list_parse_key("crypto.blind_index_previous_keys")
        .with_list_parse_key("oauth.allowed_redirect_origins")
        .with_list_parse_key("oauth.allowed_callback_origins")
        .with_list_parse_key("auth.additional_public_keys_pem")
}

/// A list setting's entries, trimmed, without empty ones: the environment gives lists
/// comma-separated, and an empty value (an optional Secret key left `""`) or a trailing comma
/// would otherwise be an entry that is no key or origin, and stop the start with an error about
/// something else.
pub fn entries<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: From<String>,
{
    let given: Vec<String> = serde::Deserialize::deserialize(deserializer)?;
    Ok(given
        .into_iter()
        .map(|entry| entry.trim().to_owned())
        .filter(|entry| !entry.is_empty())
        .map(T::from)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use validator::Validate;

    #[derive(serde::Deserialize, Debug, Validate)]
    struct Demo {
        #[validate(nested)]
        database: DatabaseSettings,
        http: HttpSettings,
    }

    #[test]
    fn loads_base_then_overlay_and_names_the_path_of_a_bad_key() {
        let dir = std::env::temp_dir().join(format!("leadgen-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("base.toml"),
            "[database]\nurl = \"postgres://x\"\n[http]\nhost = \"127.0.0.1\"\nport = 8081\n",
        )
        .unwrap();
        std::fs::write(dir.join("local.toml"), "[http]\nport = 9000\n").unwrap();
        let demo: Demo = load(&Sources::files(&dir)).unwrap();
        assert_eq!(demo.http.port, 9000);
        assert_eq!(demo.database.url.expose_secret(), "postgres://x");
        assert_eq!(demo.database.max_connections, 10);

        std::fs::write(dir.join("local.toml"), "[http]\nprot = 9000\n").unwrap();
        let err = load::<Demo>(&Sources::files(&dir)).unwrap_err();
        assert!(err.to_string().contains("http"), "{err}");
        assert!(err.to_string().contains("prot"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A value of the right type that would break the service is refused, named by its path,
    /// and so is a section no service reads (a typo whose values would be ignored).
    #[test]
    fn values_that_would_break_the_service_and_unknown_sections_are_refused() {
        let dir = std::env::temp_dir().join(format!("leadgen-ranges-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let base =
            "[database]\nurl = \"postgres://x\"\n[http]\nhost = \"127.0.0.1\"\nport = 8081\n";
        let refused = |overlay: &str| {
            std::fs::write(dir.join("base.toml"), format!("{base}{overlay}")).unwrap();
            match load::<Demo>(&Sources::files(&dir)).unwrap_err() {
                SettingsError::Invalid { path, message, .. } => (path, message),
                other => panic!("{other}"),
            }
        };
        let (path, message) = refused("[database.x]\n");
        assert_eq!(path, "database.x", "{message}");
        std::fs::write(
            dir.join("base.toml"),
            "[database]\nurl = \"postgres://x\"\nmax_connections = 0\n\
             [http]\nhost = \"127.0.0.1\"\nport = 8081\n",
        )
        .unwrap();
        let err = load::<Demo>(&Sources::files(&dir)).unwrap_err();
        assert!(
            matches!(&err, SettingsError::Invalid { path, message, .. }
                if path == "database.max_connections" && message == "must be at least 1"),
            "{err}"
        );
        let (path, message) = refused("[proccessing]\nsweep_batch_size = 10\n");
        assert_eq!(path, "proccessing");
        assert!(message.contains("no such section"), "{message}");
        std::fs::write(dir.join("base.toml"), base).unwrap();
        assert!(load::<Demo>(&Sources::files(&dir)).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The development keys `config/local.toml` commits are refused anywhere but `local`; the
    /// list the check holds is the file's.
    #[test]
    fn the_committed_development_keys_are_refused_outside_local() {
        let committed = config::Config::builder()
            .add_source(config::File::from(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/local.toml"),
            ))
            .build()
            .unwrap();
        for (path, _, value) in DEVELOPMENT_KEYS {
            assert_eq!(committed.get_string(path).unwrap(), value, "{path}");
        }
        let dir = std::env::temp_dir().join(format!("leadgen-devkeys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (_, _, secret) = DEVELOPMENT_KEYS[0];
        std::fs::write(
            dir.join("base.toml"),
            format!(
                "[database]\nurl = \"postgres://x\"\n[http]\nhost = \"127.0.0.1\"\nport = 8081\n\
                 [auth]\nhmac_secret = \"{secret}\"\n"
            ),
        )
        .unwrap();
        let local = Sources::files(&dir);
        assert!(load::<Demo>(&local).is_ok());
        let prod = Sources {
            environment: "prod".to_owned(),
            ..local
        };
        let err = load::<Demo>(&prod).unwrap_err();
        assert!(
            matches!(
                err,
                SettingsError::DevelopmentKey {
                    path: "auth.hmac_secret",
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains("LEADGEN__AUTH__HMAC_SECRET"),
            "{err}"
        );
        std::fs::write(
            dir.join("prod.toml"),
            "[auth]\nhmac_secret = \"a-secret-of-this-deployment-only-0123456789\"\n",
        )
        .unwrap();
        assert!(load::<Demo>(&prod).is_ok(), "a key of its own");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn platforms_are_tables_named_by_platform_and_a_misspelt_one_is_an_error() {
        #[derive(serde::Deserialize, Debug, Validate)]
        struct WithPlatforms {
            platforms: PlatformsSettings,
        }
        let dir =
            std::env::temp_dir().join(format!("leadgen-settings-platforms-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let endpoint = "api_url = \"http://a\"\nauthorize_url = \"http://b\"\ntoken_url = \"http://c\"\nqps = 5\n";
        std::fs::write(
            dir.join("base.toml"),
            format!("[platforms.taobao]\n{endpoint}[platforms.kuaishou]\n{endpoint}"),
        )
        .unwrap();
        let mut sources = Sources::files(&dir);
        sources.use_env = false;
        let s: WithPlatforms = load(&sources).unwrap();
        let on: std::collections::BTreeSet<_> =
            s.platforms.endpoints.keys().map(|p| p.as_str()).collect();
        assert_eq!(on.into_iter().collect::<Vec<_>>(), ["KUAISHOU", "TAOBAO"]);
        assert!(s.platforms.shared_rate_limit);
        assert_eq!(
            s.platforms
                .endpoint(leadgen_domain::PlatformType::Taobao)
                .map(|e| e.qps),
            Some(5)
        );
        assert!(
            s.platforms
                .endpoint(leadgen_domain::PlatformType::Jd)
                .is_none()
        );

        std::fs::write(
            dir.join("base.toml"),
            format!("[platforms.taobo]\n{endpoint}"),
        )
        .unwrap();
        let err = load::<WithPlatforms>(&sources).unwrap_err().to_string();
        assert!(
            err.contains("taobo") && err.contains("names no platform"),
            "{err}"
        );
        // Another case would be a second table beside the environment's lower-case one.
        std::fs::write(dir.join("base.toml"), format!("[platforms.JD]\n{endpoint}")).unwrap();
        let err = load::<WithPlatforms>(&sources).unwrap_err().to_string();
        assert!(err.contains("[platforms.JD] names no platform"), "{err}");
        // A misspelt key of [platforms] itself, and an endpoint's own error, name their table.
        std::fs::write(
            dir.join("base.toml"),
            format!("[platforms]\nshared_rate_limt = false\n[platforms.jd]\n{endpoint}"),
        )
        .unwrap();
        let err = load::<WithPlatforms>(&sources).unwrap_err().to_string();
        assert!(err.contains("[platforms.shared_rate_limt]"), "{err}");
        std::fs::write(dir.join("base.toml"), "[platforms.pdd]\nqps = 5\n").unwrap();
        let err = load::<WithPlatforms>(&sources).unwrap_err().to_string();
        assert!(
            err.contains("[platforms.pdd]") && err.contains("api_url"),
            "{err}"
        );
        // A value out of its range, named by its table whatever the map's order.
        std::fs::write(
            dir.join("base.toml"),
            format!("[platforms.jd]\n{endpoint}\n[platforms.pdd]\n{endpoint}timeout_ms = 0\n"),
        )
        .unwrap();
        let err = load::<WithPlatforms>(&sources).unwrap_err().to_string();
        assert!(
            err.contains("[platforms.pdd]: timeout_ms must be at least 100"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn outside_the_repository_the_environment_alone_configures() {
        // Tests run in crates/settings, where there is no ./config.
        let mut sources = Sources::resolve(None, None, None);
        assert_eq!(sources.shared_dir, None);
        sources.use_env = false;
        let err = load::<Demo>(&sources).unwrap_err().to_string();
        assert!(!err.contains("not found"), "no file is required: {err}");
        assert!(err.contains("database"), "{err}");
        // It says what was read and how to supply the rest.
        assert!(
            err.contains("shared files none")
                && err.contains("LEADGEN_CONFIG_DIR")
                && err.contains("LEADGEN__DATABASE__URL"),
            "{err}"
        );

        // A named directory is read, and a named shared directory must exist.
        let dir =
            std::env::temp_dir().join(format!("leadgen-settings-named-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("base.toml"),
            "[database]\nurl = \"postgres://y\"\n[http]\nhost = \"127.0.0.1\"\nport = 1\n",
        )
        .unwrap();
        let named = dir.to_string_lossy().into_owned();
        let mut sources = Sources::resolve(Some(named.clone()), None, None);
        sources.use_env = false;
        let demo: Demo = load(&sources).unwrap();
        assert_eq!(demo.database.url.expose_secret(), "postgres://y");
        let mut sources = Sources::resolve(Some(named), Some("/nonexistent".into()), None);
        sources.use_env = false;
        assert!(load::<Demo>(&sources).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// `T` read from these `LEADGEN__*` variables alone.
    fn from_variables<T: DeserializeOwned>(vars: &[(&str, &str)]) -> T {
        config::Config::builder()
            .add_source(
                environment().source(Some(
                    vars.iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                )),
            )
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap()
    }

    /// An optional Secret key left `""`, or a list ending in a comma, gives no entry (an empty
    /// one stopped every service with an error about the current key).
    #[test]
    fn an_empty_list_value_or_a_trailing_comma_is_no_entry() {
        #[derive(serde::Deserialize)]
        struct Lists {
            crypto: Crypto,
        }
        #[derive(serde::Deserialize)]
        struct Crypto {
            #[serde(default, deserialize_with = "entries")]
            previous_keys: Vec<SecretString>,
            #[serde(default, deserialize_with = "entries")]
            blind_index_previous_keys: Vec<String>,
        }
        let vars = [
            ("LEADGEN__CRYPTO__PREVIOUS_KEYS", ""),
            (
                "LEADGEN__CRYPTO__BLIND_INDEX_PREVIOUS_KEYS",
                "1:AAAA, ,2:BBBB,",
            ),
        ];
        let read: Lists = from_variables(&vars);
        assert!(read.crypto.previous_keys.is_empty());
        assert_eq!(read.crypto.blind_index_previous_keys, ["1:AAAA", "2:BBBB"]);
    }

    #[test]
    fn previous_keys_and_origins_come_from_the_environment_comma_separated() {
        #[derive(serde::Deserialize)]
        struct Lists {
            crypto: Crypto,
            oauth: Oauth,
            database: Database,
        }
        #[derive(serde::Deserialize)]
        struct Crypto {
            blind_index_previous_keys: Vec<String>,
            previous_keys: Vec<String>,
        }
        #[derive(serde::Deserialize)]
        struct Oauth {
            allowed_redirect_origins: Vec<String>,
        }
        #[derive(serde::Deserialize)]
        struct Database {
            url: String,
        }
        let vars = [
            (
                "LEADGEN__CRYPTO__BLIND_INDEX_PREVIOUS_KEYS",
                "1:AAAA,2:BBBB",
            ),
            ("LEADGEN__CRYPTO__PREVIOUS_KEYS", "1:CCCC"),
            (
                "LEADGEN__OAUTH__ALLOWED_REDIRECT_ORIGINS",
                "https://a.example,https://b.example",
            ),
            ("LEADGEN__DATABASE__URL", "postgres://u@h/db?a=1,2"),
        ];
        let read: Lists = from_variables(&vars);
        assert_eq!(read.crypto.blind_index_previous_keys, ["1:AAAA", "2:BBBB"]);
        assert_eq!(read.crypto.previous_keys, ["1:CCCC"]);
        assert_eq!(
            read.oauth.allowed_redirect_origins,
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(
            read.database.url, "postgres://u@h/db?a=1,2",
            "a scalar keeps its commas"
        );
    }
}
