//! Who the batch's orders belong to: identity locks, grouping into buyers against the stored
//! identities (following leads merged away meanwhile), new lead ids and merges, and each
//! buyer's orders and rank distribution, loaded once for the batch.

use std::collections::{BTreeSet, HashMap};

use chrono::Utc;
use diesel::sql_types::{Array, Int8};
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection as _};
use leadgen_crypto::lock_key;
use leadgen_domain::TenantId;
use leadgen_domain::buyer::{BuyerGroup, OrderIdentities, group_buyers};
use leadgen_domain::scoring::ShopDistribution;

use super::Context;
use crate::lead_record::{self, Buyer};
use crate::orders::Prepared;
use crate::repo::identities;
use crate::repo::leads::{self, LeadState};
use crate::repo::processed::{self, BuyerOrder};
use crate::repo::shop_stats;

/// How often a batch follows leads that other batches merged meanwhile before it gives up (the
/// message is then retried).
const MAX_RESOLVE_ROUNDS: usize = 4;

/// The lead each prepared order (by raw row id) was linked to before, looked up once.
pub(super) async fn earlier_links(
    conn: &mut AsyncPgConnection,
    prepared: &[Prepared],
) -> anyhow::Result<HashMap<i64, i64>> {
    let keys: Vec<(i64, String)> = prepared
        .iter()
        .map(|p| (p.row.platform_id, p.order.order_id.clone()))
        .collect();
    let by_order: HashMap<(i64, String), i64> = processed::links(conn, &keys)
        .await?
        .into_iter()
        .map(|(shop, order, lead)| ((shop, order), lead))
        .collect();
    Ok(prepared
        .iter()
        .zip(keys)
        .filter_map(|(p, key)| Some((p.row.id, *by_order.get(&key)?)))
        .collect())
}

/// Takes the batch's identity locks in one sorted statement: under the current blind-index key
/// and every previous one still configured, so that while a key rotation rolls out, a replica
/// that still indexes under the old key and one that indexes under the new key lock the same
/// buyer alike (each knows both keys).
pub(super) async fn lock_identities(
    conn: &mut AsyncPgConnection,
    prepared: &[Prepared],
) -> anyhow::Result<()> {
    // Collected first: an iterator of closures held across the await fails the futures'
    // higher-ranked `Send` check.
    let indexes: Vec<&String> = prepared
        .iter()
        .flat_map(|p| p.current_indexes().chain(p.old_indexes.iter()))
        .collect();
    lock_indexes(conn, indexes.into_iter()).await
}

/// Takes the transaction-level advisory locks of buyer identities (blind indexes), in one
/// sorted statement: what serializes work on a buyer.
pub(crate) async fn lock_indexes<'a>(
    conn: &mut AsyncPgConnection,
    indexes: impl Iterator<Item = &'a String>,
) -> anyhow::Result<()> {
    let mut keys: Vec<i64> = indexes.map(|index| lock_key(index)).collect();
    keys.sort_unstable();
    keys.dedup();
    diesel::sql_query(
        "SELECT pg_advisory_xact_lock(k) FROM (SELECT unnest($1::int8[]) AS k ORDER BY 1) AS s",
    )
    .bind::<Array<Int8>, _>(keys)
    .execute(conn)
    .await?;
    Ok(())
}

/// Groups the batch into buyers against the stored identities and locks their leads, following
/// leads another batch merged away meanwhile.
pub(super) async fn resolve(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    prepared: &[Prepared],
    earlier_link: impl Fn(&Prepared) -> Option<i64>,
) -> anyhow::Result<(Vec<BuyerGroup>, Vec<LeadState>)> {
    let lookup: Vec<String> = prepared
        .iter()
        .flat_map(|p| p.current_indexes().chain(p.old_indexes.iter()).cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let known: HashMap<String, i64> = identities::find(conn, tenant, &lookup)
        .await?
        .into_iter()
        .collect();
    let mut moved: HashMap<i64, i64> = HashMap::new();
    let follow = |moved: &HashMap<i64, i64>, mut id: i64| {
        for _ in 0..MAX_RESOLVE_ROUNDS * 4 {
            match moved.get(&id) {
                Some(next) => id = *next,
                None => break,
            }
        }
        id
    };
    for _ in 0..MAX_RESOLVE_ROUNDS {
        let batch: Vec<OrderIdentities> = prepared
            .iter()
            .map(|p| {
                let mut known_leads: Vec<i64> = p
                    .current_indexes()
                    .chain(p.old_indexes.iter())
                    .filter_map(|k| known.get(k).copied())
                    .chain(earlier_link(p))
                    .map(|id| follow(&moved, id))
                    .collect();
                known_leads.sort_unstable();
                known_leads.dedup();
                OrderIdentities {
                    keys: p.current_indexes().cloned().collect(),
                    known_leads,
                }
            })
            .collect();
        let groups = group_buyers(&batch);
        let ids: Vec<i64> = groups
            .iter()
            .flat_map(|g| g.lead.iter().chain(g.merged.iter()).copied())
            .collect();
        match lock_unless_moved(conn, tenant, &ids).await? {
            Ok(states) => return Ok((groups, states)),
            Err(husks) => moved.extend(husks),
        }
    }
    anyhow::bail!("leads kept merging while this batch resolved its buyers; will retry")
}

/// Locks the leads `ids` in id order, in a savepoint; should some have been merged away
/// meanwhile, rolls the savepoint back, which lets their locks go, and answers the husks with the
/// leads they merged into. The next round then takes every lock it needs in one sorted
/// statement again: keeping a husk's lock while taking its survivor's, a lower id, would lock
/// out of order, and another batch locking in order could deadlock with this one.
async fn lock_unless_moved(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    ids: &[i64],
) -> anyhow::Result<Result<Vec<LeadState>, Vec<(i64, i64)>>> {
    // Plain statements rather than a nested diesel transaction: its closure's future makes
    // every caller's future fail the higher-ranked `Send` check.
    conn.batch_execute("SAVEPOINT resolve_leads").await?;
    let states = leads::lock(conn, tenant, ids).await?;
    let husks: Vec<(i64, i64)> = states
        .iter()
        .filter_map(|s| s.merged_into.map(|into| (s.id, into)))
        .collect();
    if husks.is_empty() {
        conn.batch_execute("RELEASE SAVEPOINT resolve_leads")
            .await?;
        Ok(Ok(states))
    } else {
        conn.batch_execute("ROLLBACK TO SAVEPOINT resolve_leads; RELEASE SAVEPOINT resolve_leads")
            .await?;
        Ok(Err(husks))
    }
}

/// Gives new buyers their lead ids and merges leads that met in one group (their orders and
/// identities move to the group's lead). Answers each group's lead.
pub(super) async fn link_buyers(
    conn: &mut AsyncPgConnection,
    groups: &[BuyerGroup],
) -> anyhow::Result<Vec<i64>> {
    let new = groups.iter().filter(|g| g.lead.is_none()).count();
    let mut new_ids = leads::allocate_ids(conn, new).await?.into_iter();
    let mut lead_of_group = Vec::with_capacity(groups.len());
    for g in groups {
        let id = match g.lead {
            Some(id) => id,
            None => new_ids
                .next()
                .ok_or_else(|| anyhow::anyhow!("allocated too few lead ids"))?,
        };
        lead_of_group.push(id);
    }
    for (g, lead) in groups.iter().zip(&lead_of_group) {
        if !g.merged.is_empty() {
            processed::relink(conn, &g.merged, *lead).await?;
            identities::repoint(conn, &g.merged, *lead).await?;
            leads::mark_merged(conn, &g.merged, *lead).await?;
        }
    }
    Ok(lead_of_group)
}

/// Every order of these leads (one query), reduced per buyer.
pub(super) async fn load_buyers(
    conn: &mut AsyncPgConnection,
    ctx: &Context<'_>,
    tenant: TenantId,
    leads: &[i64],
) -> anyhow::Result<Vec<Option<Buyer>>> {
    let mut orders_of: HashMap<i64, Vec<BuyerOrder>> = HashMap::new();
    for o in processed::of_leads(conn, tenant, leads).await? {
        if let Some(lead) = o.user_id {
            orders_of.entry(lead).or_default().push(o);
        }
    }
    let now = Utc::now();
    let buyers = leads
        .iter()
        .map(|lead| {
            let orders = orders_of.get(lead).map(Vec::as_slice).unwrap_or_default();
            lead_record::reduce(ctx.sealer, orders, now)
        })
        .collect::<Result<_, _>>()?;
    Ok(buyers)
}

/// Each shop's rank distribution: the stored one, or (before the shop's first rescore) the
/// batch's own buyers of that shop.
pub(super) async fn rank_distributions(
    conn: &mut AsyncPgConnection,
    buyers: &[Option<Buyer>],
) -> anyhow::Result<HashMap<i64, ShopDistribution>> {
    let shops: Vec<i64> = buyers
        .iter()
        .flatten()
        .map(|b| b.aggregate.latest_platform_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut out = HashMap::new();
    for (shop, stored) in shop_stats::distributions(conn, &shops).await? {
        match stored.map(serde_json::from_value::<ShopDistribution>) {
            Some(Ok(d)) => {
                out.insert(shop, d);
            }
            // Rebuilt from this batch's buyers below; the shop's next rescore stores it anew.
            Some(Err(e)) => {
                tracing::warn!(platform.id = shop, error = %e, "Stored rank distribution unreadable; using this batch's buyers");
            }
            None => {}
        }
    }
    for shop in shops {
        out.entry(shop).or_insert_with(|| {
            ShopDistribution::of(
                buyers
                    .iter()
                    .flatten()
                    .filter(|b| b.aggregate.latest_platform_id == shop)
                    .map(|b| &b.aggregate),
            )
        });
    }
    Ok(out)
}
