//! The unit of work: a batch of raw orders (one `RawOrdersFetched` page, or what the pending
//! sweep found) → processed orders → their buyers' leads, rebuilt from all of each buyer's
//! orders. Set-based: a handful of statements per batch, none per order.
//!
//! Runs on the caller's transaction. Concurrent batches (two replicas) serialize per buyer:
//! each takes transaction-level advisory locks on its orders' identities in one sorted
//! statement, then locks the leads it touches in id order, so they never deadlock. A lead that
//! another batch merged away meanwhile is followed to the lead it merged into: that round's
//! locks are let go (a savepoint) and the next round takes them all again in id order.

mod announce;
mod buyers;
mod status;

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use leadgen_crypto::{BlindIndexer, Sealer};
use leadgen_domain::buyer::BuyerGroup;
use leadgen_domain::scoring::{Intention, predict_intention};
use leadgen_domain::{LeadProcessStatus, RawOrderStatus, TenantId};
use leadgen_events::ScoredBy;
use leadgen_outbox::Batch;

pub(crate) use buyers::lock_indexes;
use status::MergedStatus;

use crate::lead_record::{self, Buyer, Keep};
use crate::orders::{self, Prepared};
use crate::repo::identities::{self, IdentityWrite};
use crate::repo::leads::{self, LeadRow, LeadState};
use crate::repo::processed;
use crate::repo::raw_orders::{self, RawRow};
use crate::repo::{legacy, revealed};
/// What a batch needs besides its rows.
pub struct Context<'a> {
    pub sealer: &'a Sealer,
    pub indexer: &'a BlindIndexer,
    /// Scores are computed as of this instant (the start of the Beijing day).
    pub as_of: DateTime<Utc>,
    /// Whether an external scorer will rescore changed leads.
    pub external_scorer: bool,
}

/// Counts of one batch, for the log and the tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub orders: usize,
    pub unreadable: usize,
    pub new_leads: Vec<i64>,
    /// The new leads by the shop of their latest order: the operation log names the shop
    /// beside them (design 7: the platform of what was identified).
    pub new_leads_by_shop: std::collections::BTreeMap<i64, Vec<i64>>,
    pub updated_leads: Vec<i64>,
    pub merged_leads: Vec<i64>,
    /// Each merged lead and the lead it merged into (the operation log's detail).
    pub merged_into: Vec<(i64, i64)>,
    /// Shops whose leads changed: the caller marks them for a rescore
    /// ([`crate::repo::shop_stats::mark_dirty`]) last, just before its commit.
    pub dirty_shops: Vec<i64>,
}

/// Processes `rows` (all of one tenant) and pushes the events it causes into `events`.
pub async fn process(
    conn: &mut AsyncPgConnection,
    ctx: &Context<'_>,
    tenant: TenantId,
    rows: &[RawRow],
    events: &mut Batch,
) -> anyhow::Result<Summary> {
    let mut summary = Summary::default();
    let row_ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let revealed = revealed::for_rows(conn, &row_ids).await?;
    let (prepared, unreadable) = prepare_rows(ctx, rows, &revealed);
    for (id, reason) in &unreadable {
        raw_orders::set_aside(conn, *id, reason).await?;
    }
    summary.unreadable = unreadable.len();
    summary.orders = prepared.len();
    if prepared.is_empty() {
        return Ok(summary);
    }

    buyers::lock_identities(conn, &prepared).await?;
    let earlier = buyers::earlier_links(conn, &prepared).await?;
    let earlier_link = |p: &Prepared| earlier.get(&p.row.id).copied();
    let (groups, states) = buyers::resolve(conn, tenant, &prepared, earlier_link).await?;
    let raw_ids: Vec<i64> = prepared.iter().map(|p| p.row.id).collect();
    let legacy: HashMap<i64, LeadProcessStatus> = legacy::take(conn, &raw_ids)
        .await?
        .into_iter()
        .filter_map(|(raw, status)| Some((raw, status.parse().ok()?)))
        .collect();

    let lead_of_group = buyers::link_buyers(conn, &groups).await?;
    for (g, lead) in groups.iter().zip(&lead_of_group) {
        summary.merged_leads.extend(g.merged.iter().copied());
        summary
            .merged_into
            .extend(g.merged.iter().map(|merged| (*merged, *lead)));
    }
    let shown_changed = write_orders(conn, ctx, &prepared, &groups, &lead_of_group).await?;

    let buyer_of_group = buyers::load_buyers(conn, ctx, tenant, &lead_of_group).await?;
    let found = Found {
        prepared: &prepared,
        groups: &groups,
        lead_of_group: &lead_of_group,
        buyers: &buyer_of_group,
        states: states.iter().map(|s| (s.id, s)).collect(),
        legacy: &legacy,
    };
    let mut rebuilt = rebuild_leads(conn, ctx, tenant, &found, events, &mut summary).await?;
    write_leads(conn, tenant, &mut rebuilt, &shown_changed).await?;
    let rotated: Vec<String> = prepared
        .iter()
        .flat_map(|p| p.old_indexes.clone())
        .collect();
    identities::delete(conn, tenant, &rotated).await?;
    summary.dirty_shops = rebuilt.dirty_shops.into_iter().collect();
    raw_orders::set_status(conn, &raw_ids, RawOrderStatus::Processed).await?;
    Ok(summary)
}

/// Opens every row; the unreadable ones are kept apart (marked `MALFORMED` with the reason in
/// `parse_error`, counted).
fn prepare_rows(
    ctx: &Context<'_>,
    rows: &[RawRow],
    revealed: &HashMap<i64, String>,
) -> (Vec<Prepared>, Vec<(i64, String)>) {
    let mut prepared = Vec::new();
    let mut unreadable = Vec::new();
    for row in rows {
        match orders::prepare(ctx.sealer, ctx.indexer, row, revealed.get(&row.id)) {
            Ok(p) => prepared.push(p),
            // A platform a newer build added (a rolling deploy: a newer sync-worker stored it):
            // no fault of the order's. It stays PENDING for a replica that knows the platform
            // (the sweep of this build does not claim it).
            Err(e @ orders::PrepareError::Platform(_)) => {
                tracing::warn!(raw_order.id = row.id, error = %e, "Raw order of a platform this build does not know; left for a newer replica");
            }
            // The error says what failed and where, never the order's content.
            Err(e) => {
                tracing::warn!(raw_order.id = row.id, error = %e, "Raw order unreadable; marked MALFORMED");
                unreadable.push((row.id, format!("无法处理：{e}")));
            }
        }
    }
    (prepared, unreadable)
}

/// Writes each order once, with its buyer's lead. Answers the leads whose shown order data
/// changed (their version moves even when nothing announced did).
async fn write_orders(
    conn: &mut AsyncPgConnection,
    ctx: &Context<'_>,
    prepared: &[Prepared],
    groups: &[BuyerGroup],
    lead_of_group: &[i64],
) -> anyhow::Result<HashSet<i64>> {
    let mut lead_of_order: Vec<Option<i64>> = vec![None; prepared.len()];
    for (g, lead) in groups.iter().zip(lead_of_group) {
        for &i in &g.orders {
            if let Some(slot) = lead_of_order.get_mut(i) {
                *slot = Some(*lead);
            }
        }
    }
    let writes = prepared
        .iter()
        .zip(&lead_of_order)
        .map(|(p, lead)| orders::processed_row(ctx.sealer, p, *lead))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let shown_changed = processed::shown_changes(conn, &writes).await?;
    processed::upsert_many(conn, &writes).await?;
    Ok(shown_changed)
}

/// The batch's buyers as resolved: group `i` is lead `lead_of_group[i]`, whose orders reduce to
/// `buyers[i]`; `states` are the locked leads (and the ones merging into them) before the batch.
struct Found<'a> {
    prepared: &'a [Prepared],
    groups: &'a [BuyerGroup],
    lead_of_group: &'a [i64],
    buyers: &'a [Option<Buyer>],
    states: HashMap<i64, &'a LeadState>,
    legacy: &'a HashMap<i64, LeadProcessStatus>,
}

/// What rebuilding the batch's buyers writes.
#[derive(Default)]
struct Rebuilt {
    rows: Vec<LeadRow>,
    identities: Vec<IdentityWrite>,
    dirty_shops: BTreeSet<i64>,
    status_moved: Vec<i64>,
    history: Vec<MergedStatus>,
}

/// Rebuilds each buyer's lead from all its orders, scores it and announces it.
async fn rebuild_leads(
    conn: &mut AsyncPgConnection,
    ctx: &Context<'_>,
    tenant: TenantId,
    found: &Found<'_>,
    events: &mut Batch,
    summary: &mut Summary,
) -> anyhow::Result<Rebuilt> {
    let distributions = buyers::rank_distributions(conn, found.buyers).await?;
    let mut out = Rebuilt::default();
    let each = found
        .groups
        .iter()
        .zip(found.lead_of_group)
        .zip(found.buyers);
    for ((g, &lead), buyer) in each {
        let Some(buyer) = buyer else { continue };
        let old = found.states.get(&lead).copied();
        let legacy_of_group = g.orders.iter().filter_map(|&i| {
            let p = found.prepared.get(i)?;
            found.legacy.get(&p.row.id).copied()
        });
        let merged_states = g.merged.iter().filter_map(|m| found.states.get(m).copied());
        let status = status::merged(old, merged_states, legacy_of_group);
        // A merge that brings another decision sets the lead's status as a salesperson would:
        // a status change read at an older version is then refused (If-Match, 40902), and
        // the history says where the decision came from.
        if let Some(moved) = MergedStatus::between(lead, old, status, &g.merged) {
            if old.is_some() {
                out.status_moved.push(lead);
            }
            out.history.push(moved);
        }
        // The shops of merged-away leads lost a buyer: their ranks are rescored too.
        for m in &g.merged {
            if let Some(s) = found.states.get(m) {
                out.dirty_shops.insert(s.platform_id);
            }
        }
        let shop = buyer.aggregate.latest_platform_id;
        // `rank_distributions` holds every shop of the batch's buyers.
        let ranks = distributions
            .get(&shop)
            .ok_or_else(|| anyhow::anyhow!("no rank distribution for shop {shop}"))?
            .ranks(&buyer.aggregate);
        let aggregate = serde_json::to_value(&buyer.aggregate)?;
        let (intention, scored_by, external_pending) =
            match old.and_then(|s| standing_external(s, &aggregate)) {
                Some(standing) => (standing, ScoredBy::External, false),
                None => (
                    predict_intention(&buyer.aggregate, ranks, ctx.as_of),
                    ScoredBy::Builtin,
                    ctx.external_scorer,
                ),
            };
        let keep = Keep {
            lead_id: lead,
            tenant_id: tenant.get(),
            process_status: status,
            version: old.map_or(1, |s| s.version + 1),
            external_pending,
        };
        let (row, assessment) = lead_record::row(
            ctx.sealer, buyer, ranks, &intention, scored_by, &keep, ctx.as_of,
        )?;
        let snapshot = lead_record::snapshot(
            &row,
            &buyer.aggregate,
            &buyer.validity,
            &assessment,
            scored_by,
        )?;
        announce::announce(
            events,
            tenant,
            old,
            &row,
            snapshot,
            &assessment.tags,
            &g.merged,
        )?;
        match old {
            None => {
                summary.new_leads.push(lead);
                summary
                    .new_leads_by_shop
                    .entry(shop)
                    .or_default()
                    .push(lead);
            }
            Some(old) => {
                summary.updated_leads.push(lead);
                out.dirty_shops.insert(old.platform_id);
            }
        }
        out.dirty_shops.insert(shop);
        for p in g.orders.iter().filter_map(|&i| found.prepared.get(i)) {
            for (kind, index) in &p.identities {
                out.identities.push(IdentityWrite {
                    tenant_id: tenant.get(),
                    key_hash: index.clone(),
                    kind: kind.as_str().to_owned(),
                    lead_id: lead,
                });
            }
        }
        out.rows.push(row);
    }
    Ok(out)
}

/// The external intention a lead keeps through a rebuild: one that stands (the scorer answered
/// since the buyer last changed) while the rebuilt aggregate, what the scorer was asked about, is
/// the stored one (an order delivered again, a revealed number, a lapsed privacy number's
/// rebuild). Thrown away there, the lead would flip to the built-in score and back at the next
/// rescore: two versions and two `LeadUpdated` for a buyer who did not change.
fn standing_external(old: &LeadState, aggregate: &serde_json::Value) -> Option<Intention> {
    if old.scored_by != ScoredBy::External.as_str()
        || old.external_pending
        || old.aggregate != *aggregate
    {
        return None;
    }
    lead_record::standing_intention(old.intention, &old.score_reasons, &old.model_version)
        .map_err(|e| {
            tracing::warn!(lead.id = old.id, error = %e, "Stored external intention unreadable; scored by the built-in model");
        })
        .ok()
}

/// Writes the rebuilt leads, their version bumps, merged statuses and identities (those no
/// order of theirs carries any more deleted).
async fn write_leads(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    rebuilt: &mut Rebuilt,
    shown_changed: &HashSet<i64>,
) -> anyhow::Result<()> {
    leads::upsert_many(conn, &mut rebuilt.rows).await?;
    let bumped: Vec<(i64, i32)> = rebuilt
        .rows
        .iter()
        .filter(|r| shown_changed.contains(&r.id))
        .map(|r| (r.id, r.version))
        .collect();
    leads::bump(conn, &bumped).await?;
    leads::mark_status_set(conn, &rebuilt.status_moved).await?;
    status::record(conn, tenant, &rebuilt.history).await?;
    rebuilt
        .identities
        .sort_by(|a, b| a.key_hash.cmp(&b.key_hash));
    rebuilt.identities.dedup_by(|a, b| a.key_hash == b.key_hash);
    identities::upsert_many(conn, &mut rebuilt.identities).await?;
    let leads: Vec<i64> = rebuilt.rows.iter().map(|r| r.id).collect();
    identities::drop_stale(conn, tenant, &leads).await?;
    Ok(())
}
