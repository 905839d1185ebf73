//! The subcommands.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, bail};
use leadgen_domain::PlatformType;
use leadgen_platforms::sign::{self, SignKind, SignMethod};
use leadgen_settings::{AuthSettings, DatabaseSettings, ExposeSecret, Sources};
use serde::Deserialize;

#[derive(Deserialize)]
struct DbOnly {
    database: DatabaseSettings,
}

#[derive(Deserialize)]
struct AuthOnly {
    auth: AuthSettings,
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
