//! The unit of work: a batch of raw orders (one `RawOrdersFetched` page, or what the pending
//! sweep found) → processed orders → their buyers' leads, rebuilt from all of each buyer's
//! orders. Set-based: a handful of statements per batch, none per order.
//!
//! Runs on the caller's transaction. Concurrent batches (two replicas) serialize per buyer:
//! each takes transaction-level advisory locks on its orders' identities in one sorted
//! statement, then locks the leads it touches in id order, so they never deadlock. A lead that
//! another batch merged away meanwhile is followed to the lead it merged into.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, Int8};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_crypto::{BlindIndexer, Sealer, lock_key};
use leadgen_db::status_history::{self, NewChange};
use leadgen_domain::buyer::{BuyerGroup, OrderIdentities, group_buyers};
use leadgen_domain::lead::merge_process_status;
use leadgen_domain::scoring::{ShopDistribution, predict_intention};
use leadgen_domain::{LeadId, LeadProcessStatus, PlatformId, RawOrderStatus, TenantId, UserId};
use leadgen_events::{
    CloudEvent, LeadChange, LeadIdentifiedV1, LeadIdentifiedV2, LeadUpdatedV1, ScoredBy,
};
use leadgen_outbox::Batch;

use crate::SERVICE;
use crate::lead_record::{
    self, Announced, Buyer, ContactShown, Keep, OrderFigures, announced_changes, orders_changed,
    tags_of,
};
use crate::orders::{self, Prepared};
use crate::repo::identities::{self, IdentityWrite};
use crate::repo::leads::{self, LeadRow, LeadState};
use crate::repo::processed::{self, BuyerOrder};
use crate::repo::raw_orders::{self, RawRow};
use crate::repo::{legacy, revealed, shop_stats};

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
    pub updated_leads: Vec<i64>,
    pub merged_leads: Vec<i64>,
    /// Each merged lead and the lead it merged into (the operation log's detail).
    pub merged_into: Vec<(i64, i64)>,
    /// Shops whose leads changed: the caller marks them for a rescore
    /// ([`shop_stats::mark_dirty`]) last, just before its commit.
    pub dirty_shops: Vec<i64>,
}

/// How often a batch follows leads that other batches merged meanwhile before it gives up (the
/// message is then retried).
const MAX_RESOLVE_ROUNDS: usize = 4;

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
    raw_orders::set_status(conn, &unreadable, RawOrderStatus::Malformed).await?;
    summary.unreadable = unreadable.len();
    summary.orders = prepared.len();
    if prepared.is_empty() {
        return Ok(summary);
    }

    lock_identities(conn, &prepared).await?;
    let keys: Vec<(i64, String)> = prepared
        .iter()
        .map(|p| (p.row.platform_id, p.order.order_id.clone()))
        .collect();
    let by_order: HashMap<(i64, String), i64> = processed::links(conn, &keys)
        .await?
        .into_iter()
        .map(|(shop, order, lead)| ((shop, order), lead))
        .collect();
    // The lead each raw row's order was linked to before, looked up once.
    let earlier: HashMap<i64, i64> = prepared
        .iter()
        .zip(keys)
        .filter_map(|(p, key)| Some((p.row.id, *by_order.get(&key)?)))
        .collect();
    let earlier_link = |p: &Prepared| earlier.get(&p.row.id).copied();

    let (groups, states) = resolve(conn, tenant, &prepared, earlier_link).await?;
    let raw_ids: Vec<i64> = prepared.iter().map(|p| p.row.id).collect();
    let legacy: HashMap<i64, LeadProcessStatus> = legacy::take(conn, &raw_ids)
        .await?
        .into_iter()
        .filter_map(|(raw, status)| Some((raw, status.parse().ok()?)))
        .collect();

    let lead_of_group = link_buyers(conn, &groups).await?;
    for (g, lead) in groups.iter().zip(&lead_of_group) {
        summary.merged_leads.extend(g.merged.iter().copied());
        summary
            .merged_into
            .extend(g.merged.iter().map(|merged| (*merged, *lead)));
    }
    // Each order is written once, with its buyer's lead.
    let mut lead_of_order: Vec<Option<i64>> = vec![None; prepared.len()];
    for (g, lead) in groups.iter().zip(&lead_of_group) {
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

    let buyers = load_buyers(conn, ctx, tenant, &lead_of_group).await?;
    let distributions = rank_distributions(conn, &buyers).await?;

    let state_of: HashMap<i64, &LeadState> = states.iter().map(|s| (s.id, s)).collect();
    let mut rows: Vec<LeadRow> = Vec::new();
    let mut identity_rows = Vec::new();
    let mut dirty_shops: BTreeSet<i64> = BTreeSet::new();
    let mut status_moved: Vec<i64> = Vec::new();
    let mut history: Vec<MergedStatus> = Vec::new();
    for ((g, lead), buyer) in groups.iter().zip(&lead_of_group).zip(&buyers) {
        let Some(buyer) = buyer else { continue };
        let old = state_of.get(lead).copied();
        let legacy_of_group = g
            .orders
            .iter()
            .filter_map(|&i| prepared.get(i).and_then(|p| legacy.get(&p.row.id)).copied());
        let merged_states = g.merged.iter().filter_map(|m| state_of.get(m).copied());
        let status = merged_status(old, merged_states, legacy_of_group);
        // A merge that brings another decision sets the lead's status as a salesperson would:
        // a status change read at an older version is then refused (If-Match, 40902), and
        // the history says where the decision came from.
        let before = old.map_or(LeadProcessStatus::Pending.as_str(), |o| {
            o.process_status.as_str()
        });
        if before != status.as_str() {
            if old.is_some() {
                status_moved.push(*lead);
            }
            history.push(MergedStatus {
                lead: *lead,
                from: before.to_owned(),
                to: status,
                note: merged_status_note(&g.merged),
            });
        }
        // The shops of merged-away leads lost a buyer: their ranks are rescored too.
        for m in &g.merged {
            if let Some(s) = state_of.get(m) {
                dirty_shops.insert(s.platform_id);
            }
        }
        let shop = buyer.aggregate.latest_platform_id;
        // `rank_distributions` holds every shop of the batch's buyers.
        let ranks = distributions
            .get(&shop)
            .ok_or_else(|| anyhow::anyhow!("no rank distribution for shop {shop}"))?
            .ranks(&buyer.aggregate);
        let intention = predict_intention(&buyer.aggregate, ranks, ctx.as_of);
        let keep = Keep {
            lead_id: *lead,
            tenant_id: tenant.get(),
            process_status: status,
            version: old.map_or(1, |s| s.version + 1),
            external_pending: ctx.external_scorer,
        };
        let (row, assessment) = lead_record::row(
            ctx.sealer,
            buyer,
            ranks,
            &intention,
            ScoredBy::Builtin,
            &keep,
            ctx.as_of,
        )?;
        let snapshot = lead_record::snapshot(
            &row,
            &buyer.aggregate,
            &buyer.validity,
            &assessment,
            ScoredBy::Builtin,
        )?;
        let subject = Some(format!("lead/{lead}"));
        match old {
            None => {
                events.push(&CloudEvent::new(
                    SERVICE,
                    tenant,
                    subject.clone(),
                    LeadIdentifiedV2 {
                        lead: snapshot.clone(),
                    },
                ))?;
                events.push(&CloudEvent::new(
                    SERVICE,
                    tenant,
                    subject,
                    legacy_event(&row, &snapshot)?,
                ))?;
                summary.new_leads.push(*lead);
            }
            Some(old) => {
                let (changes, orders_changed) =
                    changes(old, &row, &assessment.tags, !g.merged.is_empty());
                if !changes.is_empty() || orders_changed {
                    events.push(&CloudEvent::new(
                        SERVICE,
                        tenant,
                        subject,
                        LeadUpdatedV1 {
                            lead: snapshot,
                            changes,
                            merged_lead_ids: g.merged.iter().copied().map(LeadId::new).collect(),
                            orders_changed,
                        },
                    ))?;
                }
                summary.updated_leads.push(*lead);
                dirty_shops.insert(old.platform_id);
            }
        }
        dirty_shops.insert(shop);
        for &i in &g.orders {
            let Some(p) = prepared.get(i) else { continue };
            for (kind, index) in &p.identities {
                identity_rows.push(IdentityWrite {
                    tenant_id: tenant.get(),
                    key_hash: index.clone(),
                    kind: kind.as_str().to_owned(),
                    lead_id: *lead,
                });
            }
        }
        rows.push(row);
    }
    leads::upsert_many(conn, &mut rows).await?;
    let bumped: Vec<(i64, i32)> = rows
        .iter()
        .filter(|r| shown_changed.contains(&r.id))
        .map(|r| (r.id, r.version))
        .collect();
    leads::bump(conn, &bumped).await?;
    leads::mark_status_set(conn, &status_moved).await?;
    record_merged_statuses(conn, tenant, &history).await?;
    identity_rows.sort_by(|a, b| a.key_hash.cmp(&b.key_hash));
    identity_rows.dedup_by(|a, b| a.key_hash == b.key_hash);
    identities::upsert_many(conn, &mut identity_rows).await?;
    let rotated: Vec<String> = prepared
        .iter()
        .flat_map(|p| p.old_indexes.clone())
        .collect();
    identities::delete(conn, tenant, &rotated).await?;
    summary.dirty_shops = dirty_shops.into_iter().collect();
    let done: Vec<i64> = prepared.iter().map(|p| p.row.id).collect();
    raw_orders::set_status(conn, &done, RawOrderStatus::Processed).await?;
    Ok(summary)
}

/// Opens every row; the unreadable ones are kept apart (marked `MALFORMED`, counted).
fn prepare_rows(
    ctx: &Context<'_>,
    rows: &[RawRow],
    revealed: &HashMap<i64, String>,
) -> (Vec<Prepared>, Vec<i64>) {
    let mut prepared = Vec::new();
    let mut unreadable = Vec::new();
    for row in rows {
        match orders::prepare(ctx.sealer, ctx.indexer, row, revealed.get(&row.id)) {
            Ok(p) => prepared.push(p),
            Err(e) => {
                tracing::warn!(raw_order.id = row.id, error = %format!("{e:#}"), "Raw order unreadable; marked MALFORMED");
                unreadable.push(row.id);
            }
        }
    }
    (prepared, unreadable)
}

/// Gives new buyers their lead ids and merges leads that met in one group (their orders and
/// identities move to the group's lead). Answers each group's lead.
async fn link_buyers(
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
async fn load_buyers(
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
    leads
        .iter()
        .map(|lead| {
            let orders = orders_of.get(lead).map(Vec::as_slice).unwrap_or_default();
            lead_record::reduce(ctx.sealer, orders, now)
        })
        .collect()
}

/// A status a lead took from the leads merged into it (or from its per-order leads).
struct MergedStatus {
    lead: i64,
    from: String,
    to: LeadProcessStatus,
    note: String,
}

/// Why a lead's status moved without anyone setting it, for its history.
fn merged_status_note(merged: &[i64]) -> String {
    if merged.is_empty() {
        return "沿用该买家此前按订单生成的线索的处理状态".to_owned();
    }
    let ids: Vec<String> = merged.iter().map(|id| format!("#{id}")).collect();
    format!("合并同一买家的线索 {}，沿用其处理状态", ids.join("、"))
}

/// Writes the merged statuses into their leads' histories, the system as operator.
async fn record_merged_statuses(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    moved: &[MergedStatus],
) -> anyhow::Result<()> {
    let changes: Vec<NewChange<'_>> = moved
        .iter()
        .map(|m| NewChange {
            tenant_id: tenant,
            lead_id: LeadId::new(m.lead),
            from_status: &m.from,
            to_status: m.to.as_str(),
            note: Some(&m.note),
            operator_id: UserId::SYSTEM,
            operator_name: "",
        })
        .collect();
    status_history::record(conn, &changes).await?;
    Ok(())
}

/// The process status a buyer-lead keeps: its own, merged with that of leads merging into it
/// and with the kept decisions of per-order leads (`leadgen_domain::lead::merge_process_status`).
fn merged_status<'a>(
    own: Option<&LeadState>,
    merged: impl Iterator<Item = &'a LeadState>,
    legacy: impl Iterator<Item = LeadProcessStatus>,
) -> LeadProcessStatus {
    own.map(|s| s.process_status)
        .into_iter()
        .chain(merged.map(|s| s.process_status))
        .chain(legacy)
        .fold(LeadProcessStatus::Pending, merge_process_status)
}

/// Takes the batch's identity locks in one sorted statement.
async fn lock_identities(
    conn: &mut AsyncPgConnection,
    prepared: &[Prepared],
) -> anyhow::Result<()> {
    lock_indexes(conn, prepared.iter().flat_map(Prepared::current_indexes)).await
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
async fn resolve(
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
        let states = leads::lock(conn, tenant, &ids).await?;
        let husks: Vec<(i64, i64)> = states
            .iter()
            .filter_map(|s| s.merged_into.map(|into| (s.id, into)))
            .collect();
        if husks.is_empty() {
            return Ok((groups, states));
        }
        moved.extend(husks);
    }
    anyhow::bail!("leads kept merging while this batch resolved its buyers; will retry")
}

/// Each shop's rank distribution: the stored one, or (before the shop's first rescore) the
/// batch's own buyers of that shop.
async fn rank_distributions(
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

/// What changed between a lead's locked state and its new row: the announced fields (with
/// `MERGED`), and whether the buyer's orders did.
fn changes(
    old: &LeadState,
    row: &LeadRow,
    tags: &[leadgen_domain::IntentionTag],
    merged: bool,
) -> (Vec<LeadChange>, bool) {
    let old_tags = tags_of(&old.intention_tags);
    let before = Announced {
        score: old.score,
        intention: old.intention,
        tags: &old_tags,
        contact: ContactShown {
            kind: &old.contact_kind,
            masked: &old.contact_masked,
            validity: &old.contact_validity,
            reason: &old.contact_validity_reason,
        },
        process_status: old.process_status.as_str(),
        orders: OrderFigures::of(
            &old.order_id,
            (old.order_count, old.paid_order_count, old.paid_total_fen),
            &old.aggregate,
        ),
    };
    let after = Announced {
        score: row.score,
        intention: row.intention,
        tags,
        contact: ContactShown {
            kind: &row.contact_kind,
            masked: &row.contact_masked,
            validity: &row.contact_validity,
            reason: &row.contact_validity_reason,
        },
        process_status: &row.process_status,
        orders: OrderFigures::of(
            &row.order_id,
            (row.order_count, row.paid_order_count, row.paid_total_fen),
            &row.aggregate,
        ),
    };
    let mut out = announced_changes(before, after);
    if merged {
        out.push(LeadChange::Merged);
    }
    (out, orders_changed(before, after))
}

/// The deprecated v1 announcement of a new buyer-lead, its order fields from the latest order.
fn legacy_event(
    row: &LeadRow,
    lead: &leadgen_events::BuyerLead,
) -> anyhow::Result<LeadIdentifiedV1> {
    Ok(LeadIdentifiedV1 {
        lead_id: LeadId::new(row.id),
        platform_id: PlatformId::new(row.platform_id),
        platform_type: lead.platform_type,
        order_id: row.order_id.clone(),
        raw_order_id: row.raw_order_id,
        order_time: row.order_time,
        amount: leadgen_domain::Money::from_fen(row.amount_fen).to_string(),
        product_info: row.product_info.clone(),
        contact: lead.contact.clone(),
        intention_tags: lead
            .intention_tags
            .iter()
            .filter_map(|t| leadgen_events::IntentionTagV1::from_tag(*t))
            .collect(),
        score: lead.score,
    })
}
