//! Persisting one page: raw orders (sealed) upserted by `(platform_id, order_id)` and the task's
//! counters, in one transaction. The new or changed ones are announced by `RawOrdersFetched`
//! several pages at a time: in the transaction of the page that brings the run's unannounced
//! orders to `[sync] announce_orders` (or that finds the first of them waiting for
//! [`MAX_UNANNOUNCED_WAIT`]), and the rest when the run ends ([`announce_rest`]).
//! order-processor's statements per batch cost about the same for 100 orders as for 500, so
//! a backfill's pages processed a few at a time cost it less per order. Orders stored and not
//! announced because the process died are processed by order-processor's pending sweep.

use std::collections::{HashMap, HashSet};

use diesel_async::AsyncConnection as _;
use leadgen_db::{ScopedFutureExt as _, sealed};
use leadgen_domain::{PlatformType, RawOrder, RawOrderStatus, Receiver};
use leadgen_events::{CloudEvent, RawOrdersFetchedV1};
use leadgen_platforms::OrderPage;

use super::Syncer;
use crate::SERVICE;
use crate::repo::raw_orders::{self, RawInsert};
use crate::repo::tasks::{self, TaskRow, WindowCounts};

/// What one run carries from page to page.
#[derive(Debug, Default)]
pub struct RunPages {
    /// The order ids this run already counted (pages can overlap when a shop's orders change
    /// while we walk them).
    pub seen: HashSet<String>,
    /// Stored and not yet named by a `RawOrdersFetched`.
    unannounced: Unannounced,
}

#[derive(Debug, Default, Clone)]
struct Unannounced {
    raw_order_ids: Vec<i64>,
    malformed: u32,
    /// When the first of them was stored.
    since: Option<std::time::Instant>,
}

impl Unannounced {
    fn is_empty(&self) -> bool {
        self.raw_order_ids.is_empty() && self.malformed == 0
    }

    /// Whether to announce them now: enough of them, or the first waited long enough (a slow
    /// walk's pages: a shop sharing its app's quota with many, a platform backing off).
    fn due(&self, enough: usize) -> bool {
        !self.is_empty()
            && (self.raw_order_ids.len() >= enough
                || self
                    .since
                    .is_some_and(|t| t.elapsed() >= MAX_UNANNOUNCED_WAIT))
    }
}

/// The longest a stored order waits for its announcement while the walk goes on (well under
/// order-processor's pending sweep, which would otherwise process it first).
const MAX_UNANNOUNCED_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Distinct orders of this run stored from one page.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageCounts {
    /// Distinct orders first seen in this run, by what storing them did.
    pub counts: WindowCounts,
    /// The task was no longer RUNNING when the page was stored (cancelled): stop walking.
    pub stopped: bool,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes))
}

/// The receivers stored for the page's orders (their earlier versions), so that a version that
/// masks or drops a phone keeps the one that reached the buyer (`Receiver::keep_reach_of`). A
/// stored version that does not open is left out (the new one stands alone).
async fn stored_receivers(
    syncer: &Syncer,
    task: &TaskRow,
    page: &OrderPage,
) -> anyhow::Result<HashMap<String, Receiver>> {
    let ids: Vec<&str> = page
        .orders
        .iter()
        .filter(|o| o.parsed.is_ok())
        .filter_map(|o| o.order_id.as_deref())
        .collect();
    let mut conn = leadgen_db::conn(&syncer.pool).await?;
    let sealed = raw_orders::stored_normalized(&mut conn, task.platform_id.get(), &ids).await?;
    drop(conn);
    Ok(sealed
        .into_iter()
        .filter_map(|(order_id, sealed_json)| {
            let context = sealed::raw_order("normalized", task.platform_id, &order_id);
            let json = syncer.sealer.open(&context, &sealed_json).ok()?;
            let before: RawOrder = serde_json::from_str(&json).ok()?;
            Some((order_id, before.receiver))
        })
        .collect())
}

/// Stores `page`, and announces the run's unannounced orders once they reach
/// `syncer.announce_orders`.
pub async fn store_page(
    syncer: &Syncer,
    task: &TaskRow,
    platform: PlatformType,
    page: &OrderPage,
    run: &mut RunPages,
) -> anyhow::Result<PageCounts> {
    let seen = &mut run.seen;
    let mut rows = Vec::with_capacity(page.orders.len());
    let mut counts = PageCounts::default();
    let mut first_seen = Vec::new();
    let stored = stored_receivers(syncer, task, page).await?;
    // Orders whose receiver this page replaces, with the new version's hash.
    let mut receiver_changed: Vec<(String, String)> = Vec::new();
    for order in &page.orders {
        let raw_text = serde_json::to_string(&order.raw)?;
        let hash = sha256_hex(raw_text.as_bytes());
        let order_id = order
            .order_id
            .clone()
            .unwrap_or_else(|| format!("unidentified-{}", &hash[..16]));
        let first_time = seen.insert(order_id.clone());
        let (normalized, parse_error, created, modified, status) = match &order.parsed {
            Ok(parsed) => {
                // Only readable orders are compared with what was stored (`newCount`,
                // `updatedCount`, `unchangedCount` add up to `successCount`); an unreadable
                // one counts in `failureCount` alone.
                if first_time {
                    counts.counts.success += 1;
                    first_seen.push(order_id.clone());
                }
                let kept;
                let parsed = match stored.get(&order_id) {
                    Some(before) => {
                        let mut merged = parsed.clone();
                        merged.receiver.keep_reach_of(before);
                        if !merged.receiver.keeps_revealed_phone_of(before) {
                            receiver_changed.push((order_id.clone(), hash.clone()));
                        }
                        kept = merged;
                        &kept
                    }
                    None => parsed,
                };
                let json = serde_json::to_string(parsed)?;
                let sealed_json = syncer.sealer.seal(
                    &sealed::raw_order("normalized", task.platform_id, &order_id),
                    &json,
                )?;
                (
                    Some(sealed_json),
                    None,
                    Some(parsed.created_at),
                    parsed.modified_at,
                    RawOrderStatus::Pending.as_str(),
                )
            }
            Err(reason) => {
                if first_time {
                    counts.counts.failure += 1;
                }
                tracing::warn!(order.id = %order_id, reason = %reason, "Kept a malformed order");
                (
                    None,
                    Some(reason.clone()),
                    None,
                    None,
                    RawOrderStatus::Malformed.as_str(),
                )
            }
        };
        rows.push(RawInsert {
            tenant_id: task.tenant_id.get(),
            platform_id: task.platform_id.get(),
            platform_type: platform.as_str().to_owned(),
            raw_data: syncer.sealer.seal(
                &sealed::raw_order("raw_data", task.platform_id, &order_id),
                &raw_text,
            )?,
            order_id,
            normalized,
            parse_error,
            content_hash: hash,
            order_created_at: created,
            order_modified_at: modified,
            sync_task_id: task.id.get(),
            process_status: status.to_owned(),
        });
    }
    let before = std::mem::take(&mut run.unannounced);
    let page = PageWrite {
        task,
        platform,
        rows: &rows,
        receiver_changed: &receiver_changed,
    };
    let mut waits = PAGE_WRITE_RETRY_WAITS.iter();
    let stored = loop {
        match page.write(syncer, before.clone()).await {
            Err(e)
                if leadgen_db::chain_worth_retrying(e.as_ref()) && !syncer.stop.is_cancelled() =>
            {
                let Some(wait) = waits.next() else {
                    break Err(e);
                };
                tracing::warn!(error = %format!("{e:#}"), wait_ms = wait.as_millis(), "Could not write a page for a passing reason; writing it again");
                // A process stopping meanwhile hands the run on rather than wait.
                tokio::select! {
                    () = syncer.stop.cancelled() => break Err(e),
                    () = tokio::time::sleep(*wait) => {}
                }
            }
            written => break written,
        }
    };
    // A page not stored leaves the earlier pages' orders to be announced when the run ends.
    let (running, written, carried) = match stored {
        Ok(stored) => stored,
        Err(e) => {
            run.unannounced = before;
            return Err(e);
        }
    };
    run.unannounced = carried;
    if !running {
        return Ok(PageCounts {
            stopped: true,
            ..PageCounts::default()
        });
    }
    for id in &first_seen {
        if written.new.contains(id) {
            counts.counts.new += 1;
        } else if written.updated.contains(id) {
            counts.counts.updated += 1;
        } else {
            counts.counts.unchanged += 1;
        }
    }
    Ok(counts)
}

/// How long a page whose write failed for a passing reason (a deadlock, a connection lost, the
/// database restarting; [`leadgen_db::worth_retrying`]) waits before each new try: about 45
/// seconds in all, within the task's lease (kept meanwhile), rather than end a run of many
/// windows, and a backfill's attempt, for a moment's failure. A page's transaction writes all or
/// nothing, so a try again writes it as the first would have.
const PAGE_WRITE_RETRY_WAITS: [std::time::Duration; 4] = [
    std::time::Duration::from_secs(1),
    std::time::Duration::from_secs(3),
    std::time::Duration::from_secs(10),
    std::time::Duration::from_secs(30),
];

/// One page's rows, ready to be written in one transaction.
struct PageWrite<'a> {
    task: &'a TaskRow,
    platform: PlatformType,
    rows: &'a [RawInsert],
    /// Orders whose receiver this page replaces, with the new version's hash.
    receiver_changed: &'a [(String, String)],
}

impl PageWrite<'_> {
    /// Writes the page, `carried` the run's orders not announced before it: whether the run
    /// still holds its task, what was written, and the orders left unannounced after it.
    async fn write(
        &self,
        syncer: &Syncer,
        mut carried: Unannounced,
    ) -> anyhow::Result<(bool, raw_orders::Written, Unannounced)> {
        let PageWrite {
            task,
            platform,
            rows,
            receiver_changed,
        } = *self;
        let task_id = task.id;
        let claim = task.claimed_by.as_deref();
        let lease = syncer.lease;
        let announce_at = syncer.announce_orders;
        let mut conn = leadgen_db::conn(&syncer.pool).await?;
        conn.transaction::<_, anyhow::Error, _>(|conn| {
            async move {
                // The task first (its row lock taken): a page of a task cancelled, ended or
                // taken over meanwhile is not written, nor announced (a disconnected shop's
                // orders would become leads; a successor writes the same rows).
                if tasks::add_page(conn, task_id, claim, lease).await? == 0 {
                    return Ok((false, raw_orders::Written::default(), carried));
                }
                let written = raw_orders::upsert_changed(conn, rows).await?;
                raw_orders::forget_revealed_phones(conn, task.platform_id.get(), receiver_changed)
                    .await?;
                carried.raw_order_ids.extend(
                    written
                        .rows
                        .iter()
                        .filter(|(_, s)| *s == RawOrderStatus::Pending)
                        .map(|(id, _)| *id),
                );
                let malformed = written
                    .rows
                    .iter()
                    .filter(|(_, s)| *s == RawOrderStatus::Malformed)
                    .count()
                    + written.kept_beside;
                carried.malformed = carried
                    .malformed
                    .saturating_add(u32::try_from(malformed).unwrap_or(u32::MAX));
                if !carried.is_empty() {
                    carried.since.get_or_insert_with(std::time::Instant::now);
                }
                if carried.due(announce_at) {
                    announce(conn, task, platform, std::mem::take(&mut carried)).await?;
                }
                Ok((true, written, carried))
            }
            .scope_boxed()
        })
        .await
    }
}

/// Announces what the run stored and did not announce yet; called when the run ends, however
/// it ends (the orders are stored: a cancelled or replaced run's earlier pages were written
/// while it held the task).
pub async fn announce_rest(
    syncer: &Syncer,
    task: &TaskRow,
    platform: PlatformType,
    run: &mut RunPages,
) -> anyhow::Result<()> {
    if run.unannounced.is_empty() {
        return Ok(());
    }
    let rest = std::mem::take(&mut run.unannounced);
    let mut conn = leadgen_db::conn(&syncer.pool).await?;
    conn.transaction::<_, anyhow::Error, _>(|conn| {
        async move { announce(conn, task, platform, rest).await }.scope_boxed()
    })
    .await
}

/// One `RawOrdersFetched` naming `orders` (none when there is nothing to name).
async fn announce(
    conn: &mut diesel_async::AsyncPgConnection,
    task: &TaskRow,
    platform: PlatformType,
    orders: Unannounced,
) -> anyhow::Result<()> {
    if orders.is_empty() {
        return Ok(());
    }
    let event = CloudEvent::new(
        SERVICE,
        task.tenant_id,
        RawOrdersFetchedV1 {
            sync_task_id: task.id,
            platform_id: task.platform_id,
            platform_type: platform,
            raw_order_ids: orders.raw_order_ids,
            malformed_count: orders.malformed,
        },
    );
    leadgen_outbox::enqueue(conn, SERVICE, &event).await?;
    Ok(())
}
