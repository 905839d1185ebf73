//! The subcommands.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, bail};
use leadgen_domain::PlatformType;
use leadgen_platforms::sign::{self, SignKind, SignMethod};
use leadgen_settings::{AuthSettings, CryptoSettings, DatabaseSettings, ExposeSecret, Sources};
use serde::Deserialize;
use validator::Validate;

#[derive(Deserialize, Validate)]
struct DbOnly {
    #[validate(nested)]
    database: DatabaseSettings,
}

#[derive(Deserialize, Validate)]
struct AuthOnly {
    auth: AuthSettings,
}

#[derive(Deserialize, Validate)]
struct CryptoOnly {
    crypto: CryptoSettings,
}

fn sources() -> Sources {
    Sources::from_env()
}

pub async fn migrate() -> anyhow::Result<()> {
    let settings: DbOnly = leadgen_settings::load(&sources()).context("loading configuration")?;
    let applied = leadgen_db::run_migrations(settings.database.url.expose_secret()).await?;
    if applied.is_empty() {
        println!("database is up to date");
    }
    for name in applied {
        println!("applied {name}");
    }
    Ok(())
}

pub fn token(
    tenant: i64,
    user: i64,
    name: String,
    perms: Vec<String>,
    hours: i64,
) -> anyhow::Result<()> {
    let settings: AuthOnly = leadgen_settings::load(&sources()).context("loading configuration")?;
    if settings.auth.algorithm != "HS256" {
        bail!(
            "tokens can only be minted for HS256 configurations (this one is {})",
            settings.auth.algorithm
        );
    }
    let secret = settings
        .auth
        .hmac_secret
        .context("auth.hmac_secret is not configured")?;
    let claims = leadgen_http::Claims {
        sub: user,
        tenant_id: tenant,
        name,
        perms: perms
            .into_iter()
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect(),
        exp: chrono::Utc::now().timestamp() + hours * 3600,
        iss: settings.auth.issuer.clone(),
        aud: settings.auth.audience.clone().into_iter().collect(),
    };
    println!(
        "{}",
        leadgen_http::auth::mint_hs256(secret.expose_secret(), &claims)?
    );
    Ok(())
}

pub fn schemas(out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for (file, schema) in leadgen_events::all_schemas() {
        let path = out.join(file);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(&schema)? + "\n";
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// The app secret `leadctl sign` signs with: `LEADCTL_SIGN_SECRET`, else the first line of
/// standard input (never an argument: shell history and `ps` keep those).
pub fn sign_secret() -> anyhow::Result<String> {
    #[expect(
        clippy::disallowed_methods,
        reason = "a secret handed to one command, not the services' configuration"
    )]
    if let Ok(secret) = std::env::var("LEADCTL_SIGN_SECRET") {
        anyhow::ensure!(!secret.is_empty(), "LEADCTL_SIGN_SECRET is empty");
        return Ok(secret);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the app secret from standard input")?;
    let secret = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(
        !secret.is_empty(),
        "no app secret: set LEADCTL_SIGN_SECRET or give it on standard input"
    );
    Ok(secret)
}

pub fn sign(
    platform: &str,
    method: &str,
    secret: &str,
    params: &str,
    kind: &str,
) -> anyhow::Result<()> {
    let platform: PlatformType = match platform.to_ascii_uppercase().as_str() {
        "DOUDIAN" => PlatformType::Douyin,
        "TMALL" => PlatformType::Taobao,
        other => other.parse()?,
    };
    let kind: SignKind = kind.parse().map_err(anyhow::Error::msg)?;
    let method = match kind {
        SignKind::ApiRequest => SignMethod::parse_for(platform, method)?,
        SignKind::Webhook | SignKind::TmcConnect | SignKind::WsConnect => SignMethod::Md5,
    };
    let read;
    let params = match params.strip_prefix('@') {
        Some(path) => {
            read = std::fs::read_to_string(path).with_context(|| format!("--params {params}"))?;
            read.as_str()
        }
        None => params,
    };
    let values: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(params).context("--params must be a JSON object")?;
    let params: BTreeMap<String, String> = values
        .into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => (k, s),
            other => (k, other.to_string()),
        })
        .collect();
    let signature = sign::sign(platform, kind, method, secret, &params)?;
    println!("{signature}");
    Ok(())
}

/// `leadctl data-key status`: sealed values per column and key id.
pub async fn data_key_status() -> anyhow::Result<()> {
    let settings: CryptoOnly =
        leadgen_settings::load(&sources()).context("loading configuration")?;
    let mut conn = crate::leads::connect().await?;
    let configured = configured_key_ids(&settings.crypto)?;
    for (column, counts) in leadctl::data_key::status(&mut conn).await? {
        if counts.is_empty() {
            println!("{column}: no values");
        }
        for c in counts {
            let note = match c.key_id.parse::<u8>() {
                Ok(id) if id == settings.crypto.key_id => " (the current key)",
                Ok(id) if configured.contains(&id) => {
                    " (a previous key: run `leadctl data-key reseal`)"
                }
                Ok(_) => " (NOT CONFIGURED: these values do not open)",
                Err(_) => " (not sealed values)",
            };
            println!("{column}: key {}: {} values{note}", c.key_id, c.values);
        }
    }
    Ok(())
}

/// `leadctl data-key reseal [--batch N]`: every value sealed again under the current key.
pub async fn data_key_reseal(batch: i64) -> anyhow::Result<()> {
    let settings: CryptoOnly =
        leadgen_settings::load(&sources()).context("loading configuration")?;
    let sealer = leadgen_crypto::Sealer::new(
        settings.crypto.key_id,
        &settings.crypto.data_key,
        &settings.crypto.previous_keys,
    )
    .context("[crypto] data_key, key_id, previous_keys")?;
    let mut conn = crate::leads::connect().await?;
    let report =
        leadctl::data_key::reseal(&mut conn, &sealer, settings.crypto.key_id, batch.max(1)).await?;
    let mut unreadable = 0;
    for (column, done) in report {
        println!(
            "{column}: {} resealed under key {}, {} rewritten meanwhile, {} do not open",
            done.resealed, settings.crypto.key_id, done.changed, done.unreadable
        );
        unreadable += done.unreadable;
    }
    if unreadable > 0 {
        bail!(
            "{unreadable} values do not open with the configured keys: keep their key in \
             previous_keys (`leadctl data-key status` names it)"
        );
    }
    Ok(())
}

/// The key ids `[crypto]` configures: the current one and the previous ones.
fn configured_key_ids(crypto: &CryptoSettings) -> anyhow::Result<Vec<u8>> {
    let mut ids = vec![crypto.key_id];
    for old in &crypto.previous_keys {
        let id = old
            .expose_secret()
            .split_once(':')
            .and_then(|(id, _)| id.parse().ok())
            .context("[crypto] previous_keys: each is `id:base64`")?;
        ids.push(id);
    }
    Ok(ids)
}
