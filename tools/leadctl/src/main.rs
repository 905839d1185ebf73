//! `leadctl`: operations on the order-lead module.
//!
//! - `leadctl migrate`: apply database migrations (the Kubernetes migrate Job runs this).
//! - `leadctl token --tenant 1 --user 7 --name 张三 --perms lead:order:auth,lead:order:view`:
//!   mint a development token the local configuration accepts (HS256 only).
//! - `leadctl schemas [--out proto-events/schemas]`: write the events' JSON Schemas.
//! - `leadctl sign --platform TAOBAO --sign-method md5 --params '{"k":"v"}' < app-secret.txt`: print a
//!   platform signature on the last line (support's answer to "invalid signature" tickets).
//! - `leadctl openapi [--out docs/openapi.json]`: the gateway API's OpenAPI 3.1 document.
//! - `leadctl leads rebuild [--tenant T] [--platform P] [--lead L] [--set-aside]`: rebuild
//!   buyer-leads from all of their orders (after a model change, say), keeping lead ids and
//!   sales decisions; with `--lead`, one buyer; with `--set-aside`, hand back only the raw orders
//!   order-processor set aside (once their cause, a data key a replica lacked, say, is mended).
//! - `leadctl orders show --shop S ORDER_ID…`: where an order stands, from the raw order stored
//!   to the buyer-lead it is filed under; `leadctl orders set-aside [--tenant T] [--shop S]`: the
//!   orders that did not become part of a lead, with why (`src/orders.rs`).
//! - `leadctl blind-index status|rotate`: identities per blind-index key and the orders waiting;
//!   hand every order back for its buyer to be indexed under a new key (procedure in the README).
//! - `leadctl data-key status|reseal [--batch 500]`: sealed values per data key id; seal every
//!   value again under the current key, so that an old key can be retired (procedure in the
//!   README).
//! - `leadctl model-quality --dataset FILE [--cutoff T] [--horizon-days 30] [--decile 0.1]
//!   [--require-ratio 0.8] [--require-lift 2]`: measure how well the built-in model ranks buyers
//!   by who buys again (`docs/model-quality.md`).
//! - `leadctl dlq list`, `dlq show --queue sync-worker [--limit 10] [--body]`,
//!   `dlq replay --queue sync-worker [--limit N | --id <message id>]`,
//!   `dlq purge --queue sync-worker [--yes]`: each consumer's dead-letter queue (`src/dlq/`).

mod commands;
mod leads;
mod openapi;
mod orders;
mod quality;
mod shops;
mod syncs;

use clap::{Parser, Subcommand};
use leadctl::dlq;

#[derive(Parser)]
#[command(name = "leadctl", about = "Operations on the order-lead module")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending database migrations.
    Migrate,
    /// Mint a development bearer token (HS256 configurations only).
    Token {
        #[arg(long)]
        tenant: i64,
        #[arg(long)]
        user: i64,
        #[arg(long, default_value = "")]
        name: String,
        /// Comma-separated permissions.
        #[arg(long, value_delimiter = ',')]
        perms: Vec<String>,
        /// Lifetime in hours.
        #[arg(long, default_value_t = 24)]
        hours: i64,
    },
    /// Write the events' JSON Schemas generated from the Rust types.
    Schemas {
        #[arg(long, default_value = "proto-events/schemas")]
        out: std::path::PathBuf,
    },
    /// Compute a platform signature.
    Sign {
        /// TAOBAO, JD, PDD, DOUYIN or KUAISHOU.
        #[arg(long)]
        platform: String,
        /// The platform's own name of the method (md5, hmac, hmac-sha256, hmacsha256, MD5, HMAC_SHA256, …).
        #[arg(long)]
        sign_method: String,
        /// Every parameter that enters the signature, exactly as sent, as a JSON object, or
        /// `@FILE` to read it from a file (a request's `access_token` is a secret too). The app
        /// secret (Kuaishou: the signSecret) is never an argument, which shell history and `ps`
        /// keep: it is read from `LEADCTL_SIGN_SECRET`, else from the first line of standard
        /// input.
        #[arg(long)]
        params: String,
        /// api_request, webhook, tmc_connect or ws_connect.
        #[arg(long, default_value = "api_request")]
        kind: String,
    },
    /// Write the gateway API's OpenAPI document, generated from the services' code.
    Openapi {
        #[arg(long, default_value = "docs/openapi.json")]
        out: std::path::PathBuf,
    },
    /// Operate on buyer-leads.
    Leads {
        #[command(subcommand)]
        command: LeadsCommand,
    },
    /// Where orders stand: the lead an order is filed under, the orders set aside.
    Orders {
        #[command(subcommand)]
        command: OrdersCommand,
    },
    /// Keyed blind indexes of buyer identities.
    BlindIndex {
        #[command(subcommand)]
        command: BlindIndexCommand,
    },
    /// The data key sealing secrets and personal data: values per key id, and resealing.
    DataKey {
        #[command(subcommand)]
        command: DataKeyCommand,
    },
    /// Every tenant's shops by status (the ones LeadgenShopsExpired speaks of, by default).
    Shops {
        #[command(subcommand)]
        command: ShopsCommand,
    },
    /// Every tenant's sync records (the ones LeadgenSyncsFailing speaks of, by default).
    Syncs {
        #[command(subcommand)]
        command: SyncsCommand,
    },
    /// Each consumer's dead-letter queue: list, show, replay, purge.
    Dlq {
        #[command(subcommand)]
        command: dlq::DlqCommand,
    },
    /// Measure the built-in model: top-decile lift against the ceiling, normalized Gini.
    ModelQuality {
        /// The dataset (docs/model-quality.md), e.g. from `platform-sim dataset`.
        #[arg(long)]
        dataset: std::path::PathBuf,
        /// Split time here (RFC 3339). Default: the dataset's anchor minus the horizon.
        #[arg(long)]
        cutoff: Option<String>,
        /// Buyers buy again if they place a paid order this many days after the cut-off.
        #[arg(long, default_value_t = 30)]
        horizon_days: i64,
        /// The top fraction whose lift is measured.
        #[arg(long, default_value_t = 0.1)]
        decile: f64,
        /// Fail unless model lift / ceiling lift reaches this.
        #[arg(long)]
        require_ratio: Option<f64>,
        /// Fail unless the model's lift reaches this.
        #[arg(long)]
        require_lift: Option<f64>,
        /// Print the measurements as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum LeadsCommand {
    /// Rebuild buyer-leads from all of their orders (order-processor's pending sweep does it).
    ///
    /// Hands every processed raw order of the scope back to order-processor. With --set-aside,
    /// hands back only the raw orders order-processor set aside as MALFORMED (their neutral form
    /// did not open, or processing them failed sweep after sweep), once the cause is mended.
    Rebuild {
        /// Only this tenant.
        #[arg(long)]
        tenant: Option<i64>,
        /// Only this shop (platform authorization id).
        #[arg(long)]
        platform: Option<i64>,
        /// Only this buyer-lead (a merged lead's id names the lead it was merged into).
        #[arg(long, conflicts_with_all = ["platform", "set_aside"])]
        lead: Option<i64>,
        /// Only the raw orders order-processor set aside (MALFORMED, with their neutral form
        /// and its reason, "无法处理：…" or "处理失败（…"), e.g. after restoring a data key a
        /// replica lacked; their reason is cleared, and one whose own order still does not read
        /// is set aside again. Orders sync-worker could not read are left alone.
        #[arg(long)]
        set_aside: bool,
    },
}

#[derive(Subcommand)]
enum OrdersCommand {
    /// Where each order of a shop stands: the raw order stored (by which sync, when), what
    /// order-processor made of it or why it was set aside, and the buyer-lead it is filed under
    /// (after merges).
    Show {
        /// The shop (platform authorization id; a renewed authorization's old id names the new).
        #[arg(long)]
        shop: i64,
        /// The platform's order ids.
        #[arg(required = true)]
        order_ids: Vec<String>,
    },
    /// Raw orders that did not become part of a lead (MALFORMED), and those whose later version
    /// could not be read, newest first: tenant, shop, platform, order, raw order, status,
    /// stored, sync, by, reason.
    SetAside {
        #[arg(long)]
        tenant: Option<i64>,
        /// Only this shop (platform authorization id).
        #[arg(long)]
        shop: Option<i64>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

#[derive(Subcommand)]
enum ShopsCommand {
    /// Shops in a status, of every tenant, longest in it first: tenant, shop id, platform,
    /// name, status, since, reason, purge at (when its order history is due to be purged),
    /// purged.
    List {
        /// Comma-separated statuses.
        #[arg(long, value_delimiter = ',', default_values_t = ["EXPIRED".to_owned(), "INVALID".to_owned()])]
        status: Vec<String>,
        /// Only this platform (TAOBAO, JD, PDD, DOUYIN or KUAISHOU).
        #[arg(long)]
        platform: Option<String>,
    },
    /// ACTIVE shops whose changes were read longest ago, most behind first: tenant, shop id,
    /// platform, name, watermark, hours behind, last sync (LeadgenShopSyncBehind).
    Behind {
        /// Only this platform (TAOBAO, JD, PDD, DOUYIN or KUAISHOU).
        #[arg(long)]
        platform: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
}

#[derive(Subcommand)]
enum SyncsCommand {
    /// Sync records of every tenant, newest first: tenant, task, shop, platform, trigger,
    /// status, requested, finished, attempts, listing, window, windows done/total, new,
    /// updated, unchanged, failed (unreadable), set aside (by order-processor), error, warning.
    List {
        /// Comma-separated statuses (RUNNING, COMPLETED, FAILED, CANCELLED).
        #[arg(long, value_delimiter = ',', default_values_t = ["FAILED".to_owned()])]
        status: Vec<String>,
        #[arg(long)]
        tenant: Option<i64>,
        /// Only this shop (platform authorization id).
        #[arg(long)]
        shop: Option<i64>,
        /// Only this platform (TAOBAO, JD, PDD, DOUYIN or KUAISHOU).
        #[arg(long)]
        platform: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

#[derive(Subcommand)]
enum BlindIndexCommand {
    /// Identities per key id, and raw orders still waiting.
    Status,
    /// Hand every processed order back to order-processor, which indexes its buyer again under
    /// the current key (configure the new key first; `status` follows it).
    Rotate,
}

#[derive(Subcommand)]
enum DataKeyCommand {
    /// Sealed values of every column per key id, and whether each key is configured.
    Status,
    /// Seal every value not under the current key again under it (configure the new key as
    /// `data_key` with a new `key_id`, the old one in `previous_keys`, and restart the services
    /// first).
    Reseal {
        /// Rows per transaction.
        #[arg(long, default_value_t = 500)]
        batch: i64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Migrate => commands::migrate().await,
        Command::Openapi { out } => openapi::write(&out),
        Command::Leads {
            command:
                LeadsCommand::Rebuild {
                    tenant,
                    platform,
                    lead,
                    set_aside,
                },
        } => match lead {
            Some(lead) => leads::rebuild_lead(tenant, lead).await,
            None => leads::rebuild(tenant, platform, set_aside).await,
        },
        Command::Orders { command } => match command {
            OrdersCommand::Show { shop, order_ids } => orders::show(shop, &order_ids).await,
            OrdersCommand::SetAside {
                tenant,
                shop,
                limit,
            } => {
                orders::set_aside(orders::Filter {
                    tenant,
                    shop,
                    limit: limit.max(1),
                })
                .await
            }
        },
        Command::BlindIndex { command } => match command {
            BlindIndexCommand::Status => leads::status().await,
            BlindIndexCommand::Rotate => leads::rotate().await,
        },
        Command::Shops {
            command: ShopsCommand::List { status, platform },
        } => {
            for s in &status {
                s.parse::<leadgen_domain::AuthStatus>()
                    .map_err(|e| anyhow::anyhow!("--status {s}: {e}"))?;
            }
            let platform = platform.map(|p| known_platform(&p)).transpose()?;
            shops::list(&status, platform.as_deref()).await
        }
        Command::Shops {
            command: ShopsCommand::Behind { platform, limit },
        } => {
            let platform = platform.map(|p| known_platform(&p)).transpose()?;
            shops::behind(platform.as_deref(), limit.max(1)).await
        }
        Command::Syncs {
            command:
                SyncsCommand::List {
                    status,
                    tenant,
                    shop,
                    platform,
                    limit,
                },
        } => {
            for s in &status {
                s.parse::<leadgen_domain::SyncStatus>()
                    .map_err(|e| anyhow::anyhow!("--status {s}: {e}"))?;
            }
            let platform = platform.map(|p| known_platform(&p)).transpose()?;
            syncs::list(syncs::Filter {
                statuses: &status,
                tenant,
                shop,
                platform: platform.as_deref(),
                limit: limit.max(1),
            })
            .await
        }
        Command::DataKey { command } => match command {
            DataKeyCommand::Status => commands::data_key_status().await,
            DataKeyCommand::Reseal { batch } => commands::data_key_reseal(batch).await,
        },
        Command::Token {
            tenant,
            user,
            name,
            perms,
            hours,
        } => commands::token(tenant, user, name, perms, hours),
        Command::Schemas { out } => commands::schemas(&out),
        Command::Dlq { command } => dlq::run(command).await,
        Command::Sign {
            platform,
            sign_method,
            params,
            kind,
        } => {
            let secret = commands::sign_secret()?;
            commands::sign(&platform, &sign_method, &secret, &params, &kind)
        }
        Command::ModelQuality {
            dataset,
            cutoff,
            horizon_days,
            decile,
            require_ratio,
            require_lift,
            json,
        } => {
            let cutoff = cutoff
                .map(|c| {
                    chrono::DateTime::parse_from_rfc3339(&c)
                        .map(|t| t.to_utc())
                        .map_err(|e| anyhow::anyhow!("--cutoff `{c}`: {e}"))
                })
                .transpose()?;
            let options = quality::Options {
                cutoff,
                horizon_days,
                top: decile,
            };
            quality::run(&dataset, &options, require_ratio, require_lift, json)
        }
    }
}

/// `--platform`'s value when it names a platform.
fn known_platform(p: &str) -> anyhow::Result<String> {
    p.parse::<leadgen_domain::PlatformType>()
        .map_err(|e| anyhow::anyhow!("--platform {p}: {e}"))?;
    Ok(p.to_owned())
}
