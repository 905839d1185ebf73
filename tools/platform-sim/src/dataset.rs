//! `platform-sim dataset`: one shop's generated orders, as the simulator serves them, reduced to
//! the neutral facts a lead model sees, plus each buyer's truth, as one JSON file.
//!
//! The orders cover `--history-days` days before the anchor (default 365): the server serves each
//! platform's 80 days (the platforms' APIs list recent months only), but a shop that has used the
//! product for a year has a year of orders, and that is what a lead model scores from. With
//! `--history-days 80` the file holds exactly the orders the server serves.
//!
//! `leadctl model-quality` measures the built-in model on such a file; the format is documented
//! in `docs/model-quality.md`. Each order is parsed with the adapter's own parser
//! (`leadgen_platforms::<platform>::parse_*`), so statuses, amounts and times are exactly what
//! the services would store. `buyerId` is the buyer's strongest identity as the services key it:
//! the platform's buyer id (Taobao `buyer_open_uid`, JD `open_id_buyer`, Douyin
//! `doudian_open_id`, Kuaishou `buyerOpenId`), for PDD, which sends none, the search index of the
//! phone ciphertext with the number's mask (`leadgen_domain::buyer::pdd_phone_identity`). PDD orders whose group never filled are left out: `pdd.order.list.get`
//! never lists them.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;

use leadgen_domain::{NeutralStatus, PlatformType, RawOrder};

use crate::behaviour::BuyerTruth;
use crate::cli::DatasetArgs;
use crate::shop::{Shop, ShopKey};
use crate::{douyin, jd, kuaishou, pdd, taobao};

/// The file `leadctl model-quality --dataset` reads.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dataset {
    pub source: String,
    pub anchor: DateTime<Utc>,
    pub orders: Vec<DatasetOrder>,
    pub buyers: Vec<DatasetBuyer>,
}

/// One order's neutral facts.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetOrder {
    pub buyer_id: String,
    pub order_id: String,
    pub status: NeutralStatus,
    pub created_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub amount_fen: i64,
    pub refunded: bool,
    pub product: String,
}

/// One buyer's truth: what a perfect model would rank by. The buyer's true rate at a time t is
/// `true_rate_per_day` while active (t before `active_until`), 0 after.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetBuyer {
    pub buyer_id: String,
    /// Purchase occasions per (average) day while the buyer is active.
    pub true_rate_per_day: f64,
    /// The time of the purchase after which the buyer dropped out for good; `null`: still active
    /// at the anchor.
    pub active_until: Option<DateTime<Utc>>,
    /// The shape of the buyer's Gamma-distributed gaps (extra; readers may ignore it).
    pub gap_shape: f64,
    /// The buyer's chance to drop out after each purchase (extra; readers may ignore it).
    pub dropout_probability: f64,
}

/// One generated order in the platform's JSON, and the index of its buyer.
struct Served {
    buyer: usize,
    json: Value,
}

/// The shop's served orders and its buyers' truth, as the generator made them.
fn generate(
    platform: PlatformType,
    seed: u64,
    app_key: &str,
    count: usize,
    anchor: DateTime<Utc>,
    history_days: i64,
) -> (Vec<Served>, Vec<BuyerTruth>) {
    let key = ShopKey::default_seller(app_key);
    match platform {
        PlatformType::Taobao => {
            let shop = Shop::derive(seed, platform, &key);
            let g = taobao::orders::generate_over(seed, &shop, count, anchor, history_days);
            let served = g
                .trades
                .into_iter()
                .map(|t| Served {
                    buyer: t.buyer,
                    json: Value::Object(t.json),
                })
                .collect();
            (served, g.buyers)
        }
        PlatformType::Jd => {
            let shop = Shop::derive(seed, platform, &key);
            let g = jd::orders::generate_over(seed, &shop, count, anchor, history_days);
            let served = g
                .orders
                .into_iter()
                .map(|o| Served {
                    buyer: o.buyer,
                    json: Value::Object(o.json),
                })
                .collect();
            (served, g.buyers)
        }
        PlatformType::Pdd => {
            let shop = Shop::derive(seed, platform, &key);
            let g = pdd::orders::generate_over(seed, &shop, count, anchor, history_days);
            let served = g
                .orders
                .into_iter()
                .filter(|o| o.confirmed.is_some())
                .map(|o| Served {
                    buyer: o.buyer,
                    json: Value::Object(o.json),
                })
                .collect();
            (served, g.buyers)
        }
        PlatformType::Douyin => {
            let shop = douyin::orders::DyShop::derive(seed, &key);
            let g = douyin::orders::generate_over(seed, &shop, count, anchor, history_days);
            let served = g
                .orders
                .into_iter()
                .map(|o| Served {
                    buyer: o.buyer,
                    json: Value::Object(o.json),
                })
                .collect();
            (served, g.buyers)
        }
        PlatformType::Kuaishou => {
            let shop = kuaishou::orders::KsShop::derive(seed, &key);
            let g = kuaishou::orders::generate_over(seed, &shop, count, anchor, history_days);
            let served = g
                .orders
                .into_iter()
                .map(|o| Served {
                    buyer: o.buyer,
                    json: o.json,
                })
                .collect();
            (served, g.buyers)
        }
    }
}

/// The adapter's parse of one served order.
fn parse(platform: PlatformType, json: &Value) -> Result<RawOrder, String> {
    use leadgen_platforms as p;
    match platform {
        PlatformType::Taobao => p::taobao::parse_trade(json),
        PlatformType::Jd => p::jd::parse_order(json),
        PlatformType::Pdd => p::pdd::parse_order(json),
        PlatformType::Douyin => p::douyin::parse_order(json),
        PlatformType::Kuaishou => p::kuaishou::parse_order(json),
    }
}

/// The buyer's strongest identity on the order (see the module doc).
fn buyer_id(order: &RawOrder) -> Option<String> {
    if let Some(id) = order
        .buyer
        .open_id
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        return Some(id.trim().to_owned());
    }
    let phone = order.receiver.phone.as_ref()?;
    leadgen_domain::buyer::pdd_phone_identity(phone).map(|id| format!("phone-index:{id}"))
}

/// The dataset of `platform`'s shop behind `app_key`: `count` orders over the `history_days`
/// days before `anchor`.
pub fn build(
    platform: PlatformType,
    seed: u64,
    app_key: &str,
    count: usize,
    anchor: DateTime<Utc>,
    history_days: i64,
) -> anyhow::Result<Dataset> {
    let anchor = anchor - Duration::nanoseconds(i64::from(anchor.timestamp_subsec_nanos()));
    let (served, truths) = generate(platform, seed, app_key, count, anchor, history_days);
    let mut ids: HashMap<usize, String> = HashMap::new();
    let mut orders = Vec::with_capacity(served.len());
    for s in &served {
        let raw = parse(platform, &s.json)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("parsing a generated {platform} order: {}", s.json))?;
        let id = buyer_id(&raw).unwrap_or_else(|| format!("sim-buyer-{}", s.buyer));
        ids.entry(s.buyer).or_insert_with(|| id.clone());
        orders.push(DatasetOrder {
            buyer_id: id,
            order_id: raw.order_id.clone(),
            status: raw.status,
            created_at: raw.created_at,
            paid_at: raw.paid_at,
            amount_fen: raw.amount.fen(),
            refunded: raw.refunded,
            product: raw.product_summary(),
        });
    }
    orders.sort_by(|a, b| {
        a.created_at
            .cmp(&b.created_at)
            .then_with(|| a.order_id.cmp(&b.order_id))
    });
    // One entry per buyer id, in id order; should two simulated buyers share an id (a phone
    // index collision), the first keeps it.
    let mut buyers: BTreeMap<String, DatasetBuyer> = BTreeMap::new();
    let mut indexes: Vec<(&usize, &String)> = ids.iter().collect();
    indexes.sort();
    for (index, id) in indexes {
        let Some(truth) = truths.get(*index) else {
            continue;
        };
        buyers.entry(id.clone()).or_insert_with(|| DatasetBuyer {
            buyer_id: id.clone(),
            true_rate_per_day: truth.rate_per_day,
            active_until: truth.active_until,
            gap_shape: truth.gap_shape,
            dropout_probability: truth.dropout_probability,
        });
    }
    Ok(Dataset {
        source: format!(
            "platform-sim {platform} app {app_key} seed {seed} orders {count} history \
             {history_days} days (behaviour: Gamma rates, gamma renewal gaps, Beta drop-out; see \
             tools/platform-sim/src/behaviour.rs)"
        ),
        anchor,
        orders,
        buyers: buyers.into_values().collect(),
    })
}

/// Runs `platform-sim dataset`.
pub fn run(args: &DatasetArgs, started: DateTime<Utc>) -> anyhow::Result<()> {
    let anchor = args.anchor(started)?;
    let app_key = args.app_key();
    let dataset = build(
        args.platform,
        args.seed,
        &app_key,
        args.orders,
        anchor,
        args.history_days,
    )?;
    let text = serde_json::to_string(&dataset)? + "\n";
    match &args.out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            let mut stdout = std::io::stdout().lock();
            writeln!(
                stdout,
                "wrote {}: {} orders, {} buyers, anchor {}",
                path.display(),
                dataset.orders.len(),
                dataset.buyers.len(),
                dataset.anchor.to_rfc3339()
            )?;
        }
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn anchor() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T08:00:00Z")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn every_platform_exports_parsed_orders_and_the_truth_of_every_buyer() {
        for platform in PlatformType::ALL {
            let key = format!("sim-{}-app", platform.as_str().to_ascii_lowercase());
            let d = build(*platform, 42, &key, 800, anchor(), 365).unwrap();
            if *platform == PlatformType::Pdd {
                assert!(d.orders.len() > 700 && d.orders.len() <= 800, "{platform}");
            } else {
                assert_eq!(d.orders.len(), 800, "{platform}");
            }
            let buyers: HashSet<&str> = d.buyers.iter().map(|b| b.buyer_id.as_str()).collect();
            assert_eq!(
                buyers.len(),
                d.buyers.len(),
                "{platform}: one entry per buyer"
            );
            let mut per_buyer: HashMap<&str, usize> = HashMap::new();
            for o in &d.orders {
                assert!(buyers.contains(o.buyer_id.as_str()), "{platform}: {o:?}");
                assert!(o.created_at <= anchor() + Duration::seconds(1));
                if let Some(paid) = o.paid_at {
                    assert!(
                        paid + Duration::seconds(1) >= o.created_at,
                        "{platform}: {o:?}"
                    );
                }
                *per_buyer.entry(&o.buyer_id).or_default() += 1;
            }
            assert_eq!(per_buyer.len(), d.buyers.len(), "{platform}");
            assert!(
                per_buyer.values().any(|n| *n >= 3),
                "{platform}: repeat buyers"
            );
            assert!(d.buyers.iter().all(|b| b.true_rate_per_day > 0.0));
            // A buyer who dropped out placed no order after (Kuaishou adds milliseconds).
            let until: HashMap<&str, DateTime<Utc>> = d
                .buyers
                .iter()
                .filter_map(|b| Some((b.buyer_id.as_str(), b.active_until?)))
                .collect();
            assert!(
                !until.is_empty() && until.len() < d.buyers.len(),
                "{platform}: some buyers dropped out, not all"
            );
            for o in &d.orders {
                if let Some(u) = until.get(o.buyer_id.as_str()) {
                    assert!(
                        o.created_at < *u + Duration::seconds(1),
                        "{platform}: {o:?}"
                    );
                }
            }
            assert!(
                d.orders
                    .iter()
                    .any(|o| anchor() - o.created_at > Duration::days(300)),
                "{platform}: a year of history"
            );
            let statuses: HashSet<NeutralStatus> = d.orders.iter().map(|o| o.status).collect();
            assert!(statuses.len() >= 3, "{platform}: {statuses:?}");
        }
    }

    #[test]
    fn the_file_has_the_documented_shape() {
        let d = build(PlatformType::Taobao, 7, "k", 300, anchor(), 365).unwrap();
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["anchor"], "2026-03-01T08:00:00Z");
        let o = &v["orders"][0];
        for key in [
            "buyerId",
            "orderId",
            "status",
            "createdAt",
            "paidAt",
            "amountFen",
            "refunded",
            "product",
        ] {
            assert!(o.get(key).is_some(), "{key} missing: {o}");
        }
        assert!(v["buyers"][0]["trueRatePerDay"].is_f64());
        let buyers = v["buyers"].as_array().unwrap();
        assert!(buyers.iter().all(|b| b.get("activeUntil").is_some()));
        assert!(buyers.iter().any(|b| b["activeUntil"].is_string()));
        assert!(buyers.iter().any(|b| b["activeUntil"].is_null()));
        let a = serde_json::to_string(&d).unwrap();
        let b = serde_json::to_string(
            &build(PlatformType::Taobao, 7, "k", 300, anchor(), 365).unwrap(),
        )
        .unwrap();
        assert_eq!(a, b, "deterministic");
    }

    #[test]
    fn the_history_can_be_as_long_as_the_served_one_or_longer() {
        let served = build(PlatformType::Jd, 42, "sim-jd-app", 600, anchor(), 80).unwrap();
        assert!(
            served
                .orders
                .iter()
                .all(|o| anchor() - o.created_at <= Duration::days(80))
        );
        // 80 days are exactly the served shop's orders.
        let shop = Shop::derive(42, PlatformType::Jd, &ShopKey::default_seller("sim-jd-app"));
        let g = jd::orders::generate(42, &shop, 600, anchor());
        let mut ids: Vec<String> = g.orders.iter().map(|o| o.order_id.to_string()).collect();
        let mut exported: Vec<String> = served.orders.iter().map(|o| o.order_id.clone()).collect();
        ids.sort();
        exported.sort();
        assert_eq!(ids, exported);
        let year = build(PlatformType::Jd, 42, "sim-jd-app", 600, anchor(), 365).unwrap();
        assert_eq!(year.orders.len(), 600);
        assert!(
            year.orders
                .iter()
                .any(|o| anchor() - o.created_at > Duration::days(200))
        );
    }
}
