//! One sync task's run: the requested range split into the platform's windows, each walked page
//! by page through a [`Session`] (retries with backoff; an expired session gets one refresh and
//! one retry, the refreshed tokens sealed and stored by `leadgen_shop_session`).

pub mod outcome;
mod shifted;
pub mod store;

pub use outcome::{Cause, TaskOutcome};
use shifted::Joined;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection as _;
use leadgen_crypto::Sealer;
use leadgen_db::DbPool;
use leadgen_db::ScopedFutureExt as _;
use leadgen_domain::AuthStatus;
use leadgen_domain::sync::{MAX_WINDOW_DAYS, changes_left_behind};
use leadgen_domain::time::format_beijing;
use leadgen_domain::{NotCallable, PlatformType, SyncTrigger};
use leadgen_platforms::client::platform_said;
use leadgen_platforms::resilience::RetryPolicy;
use leadgen_platforms::session::{Session, SessionError};
use leadgen_platforms::{
    Listing, OrderPage, PageCursor, PlatformClient, PlatformError, Registry, TimeWindow,
};
use leadgen_shop_session::{self as shop_session, CredentialSink};
use tokio_util::sync::CancellationToken;

use crate::repo::credentials;
use crate::repo::tasks::{self, TaskRow, WindowCounts};

/// Runs sync tasks.
#[derive(Clone)]
pub struct Syncer {
    pub pool: DbPool,
    pub sealer: Arc<Sealer>,
    pub platforms: Registry,
    pub policy: RetryPolicy,
    /// How long a running task's lease lasts; every page renews it.
    pub lease: chrono::Duration,
    /// Fires when the process stops (SIGTERM, a scale-down): a walk stops at its next page,
    /// well within the pod's grace period, rather than be killed mid-page and have its attempt
    /// spent waiting for its lease to run out.
    pub stop: CancellationToken,
    /// A `RawOrdersFetched` names this many stored orders or more, several pages' worth
    /// (the last of a run fewer): `[sync] announce_orders`.
    pub announce_orders: usize,
}

impl Syncer {
    /// Runs `task` to its end. `Err` means our infrastructure failed and the request should be
    /// retried; platform problems end as [`TaskOutcome::Failed`].
    #[tracing::instrument(name = "sync.run_task", skip_all, fields(tenant_id = task.tenant_id.get(), platform_id = task.platform_id.get(), sync_id = task.id.get(), platform = %platform))]
    pub async fn run(&self, task: &TaskRow, platform: PlatformType) -> anyhow::Result<TaskOutcome> {
        let Some(client) = self.platforms.get(platform) else {
            return Ok(TaskOutcome::Failed(
                Cause::Internal,
                format!("暂不支持该电商平台：{}（{platform}）", platform.name_zh()),
            ));
        };
        let mut conn = leadgen_db::conn(&self.pool).await?;
        let Some(row) = shop_session::find(&mut conn, task.tenant_id, task.platform_id).await?
        else {
            return Ok(TaskOutcome::Failed(
                Cause::Authorization,
                "平台授权不存在".into(),
            ));
        };
        drop(conn);
        match row.status.callable() {
            Ok(()) => {}
            Err(NotCallable::Paused) => {
                return Ok(TaskOutcome::Failed(
                    Cause::Authorization,
                    "店铺已暂停同步，未同步订单；启用店铺后可再同步".into(),
                ));
            }
            Err(NotCallable::NoGrant) => {
                return Ok(TaskOutcome::Failed(
                    Cause::Authorization,
                    match row.status {
                        AuthStatus::PendingAuth => "店铺尚未完成授权，请先完成授权".to_owned(),
                        status => format!("店铺授权{}，请重新授权", status.name_zh()),
                    },
                ));
            }
        }
        let mut session = match shop_session::open_session(&self.sealer, &row, self.policy) {
            Ok(session) => session,
            Err(e) => {
                tracing::error!(error = %e, "The shop's credentials do not open; the sync fails");
                return Ok(TaskOutcome::Failed(
                    Cause::Internal,
                    shop_session::CREDENTIALS_UNREADABLE.into(),
                ));
            }
        };
        // The process stopping gives up a call waiting on the platform (never a renewal).
        session.stop_on(self.stop.clone());
        let sink = CredentialSink {
            pool: self.pool.clone(),
            sealer: Arc::clone(&self.sealer),
            platform_id: row.id,
        };
        let listing = task.listing;
        let requested = TimeWindow::new(task.window_start, task.window_end);
        // A resumed run splits the range as the run whose progress it resumes did: where the
        // platform serves a limited history, windows split later start later, and skipping the
        // stored ones would skip the first slice of the next.
        let as_of = tasks::windows_as_of(task, Utc::now());
        let windows = client.windows(requested, as_of, listing);
        let (served_from, clip) = clipped(&requested, &windows, clip_tolerance(task, as_of));
        let total_windows = i32::try_from(windows.len()).unwrap_or(i32::MAX);
        let mut conn = leadgen_db::conn(&self.pool).await?;
        let left_behind = match listing {
            Listing::Modified => credentials::changes_stored_until(&mut conn, task.platform_id)
                .await?
                .and_then(|until| changes_left_behind(until, task.window_start))
                .map(|from| changes_left_behind_warning(from, task.window_start)),
            Listing::Created => None,
        };
        let warning = match (left_behind, clip) {
            (Some(left), Some(clip)) => Some(format!("{left}；{clip}")),
            (left, clip) => left.or(clip),
        };
        let skip = tasks::begin_windows(
            &mut conn,
            task,
            total_windows,
            as_of,
            served_from,
            warning.as_deref(),
        )
        .await?;
        drop(conn);
        let mut walk = Walk {
            client: client.as_ref(),
            session: &mut session,
            sink: &sink,
            grant: row.activated_at,
            task,
            platform,
            listing,
            pages: store::RunPages::default(),
        };
        let remaining = windows.get(skip..).unwrap_or_default();
        let walked = tokio::select! {
            walked = self.walk_windows(&mut walk, remaining) => walked,
            never = self.keep_lease(task) => match never {},
        };
        // A failed announcement is logged, and ends nothing: the orders are stored `PENDING`,
        // and order-processor's pending sweep processes them.
        if let Err(e) = store::announce_rest(self, task, platform, &mut walk.pages).await {
            tracing::warn!(error = %format!("{e:#}"), "Could not announce the run's last stored orders; the pending sweep processes them");
        }
        let total = match walked? {
            Ok(total) => total,
            Err(ended) => return Ok(ended),
        };
        Ok(TaskOutcome::Completed {
            success: usize::try_from(total.success).unwrap_or(0),
            failure: usize::try_from(total.failure).unwrap_or(0),
        })
    }

    /// Renews the run's lease every third of it while the walk runs. Every stored page renews
    /// it too, but one call can outlast a lease (a platform's stated waits, retries, the token
    /// renewal's lock): recovery would then hand a live run's task to another worker. Stops
    /// renewing once the task is no longer this run's (the run's next write stops it), or once
    /// the run stored nothing for [`tasks::STALLED_AFTER_LEASES`] leases: a walk that hangs
    /// must not hold its task RUNNING for good.
    async fn keep_lease(&self, task: &TaskRow) -> std::convert::Infallible {
        let every = (self.lease / 3)
            .to_std()
            .unwrap_or(Duration::from_secs(60))
            .max(Duration::from_millis(100));
        loop {
            tokio::time::sleep(every).await;
            let renewed = async {
                let mut conn = leadgen_db::conn(&self.pool).await?;
                let claim = task.claimed_by.as_deref();
                anyhow::Ok(tasks::renew_lease(&mut conn, task.id, claim, self.lease).await?)
            }
            .await;
            match renewed {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), sync_task.id = task.id.get(), "Could not renew the sync's lease; will try again");
                }
            }
        }
        std::future::pending().await
    }

    /// Walks `windows` in order, page by page; answers the counts of all of them, or how the
    /// task ended (failed, expired, cancelled). The next page (or the next window's first) is
    /// fetched while the last one is stored, so the platform's answer and our database write
    /// overlap; pages are still stored one after another, in order, each window is finished
    /// before the next one's first page is stored, and a page fetched ahead of a failed or
    /// cancelled store is dropped unstored.
    async fn walk_windows(
        &self,
        walk: &mut Walk<'_>,
        windows: &[TimeWindow],
    ) -> anyhow::Result<Result<WindowCounts, TaskOutcome>> {
        let mut total = WindowCounts::default();
        let Some(first) = windows.first() else {
            return Ok(Ok(total));
        };
        let Walk {
            client,
            session,
            sink,
            grant,
            task,
            platform,
            listing,
            pages,
        } = walk;
        let grant = *grant;
        let (client, sink, task, platform, listing) = (*client, *sink, *task, *platform, *listing);
        let mut at = 0;
        let mut window_counts = WindowCounts::default();
        let mut fetched = session
            .list_orders(client, first, listing, None, sink)
            .await;
        let mut joined = Joined::new(listing);
        let mut probing = true;
        // The cursors of this pass over the window: one answered again is a loop. So are
        // pages that go on while bringing no order this pass has not seen (a numbered listing
        // that answers the same page with `has_next` forever, whose page numbers never repeat).
        let mut cursors: HashSet<PageCursor> = HashSet::new();
        // Each order of the pass, with its modification time as read.
        let mut pass_orders: HashMap<String, Option<DateTime<Utc>>> = HashMap::new();
        let mut stale_pages = 0_u32;
        let mut empty_cursor_pages = 0_u32;
        // The cursor of the page being fetched.
        let mut asked: Option<PageCursor> = None;
        let mut answered = false;
        loop {
            let page = match self.page_or_end(task, grant, fetched).await? {
                Ok(page) => page,
                Err(ended) => return Ok(Err(ended)),
            };
            if !answered {
                // The platform answered the shop's tokens: a refusal of their refresh noted
                // before (`refresh_refused_since`) has passed.
                answered = true;
                let mut conn = leadgen_db::conn(&self.pool).await?;
                shop_session::clear_refresh_refusal(&mut conn, task.platform_id).await?;
            }
            let mut moved = false;
            let fresh = page
                .orders
                .iter()
                .filter(|o| {
                    let Some(id) = &o.order_id else {
                        return true;
                    };
                    let modified = o.parsed.as_ref().ok().and_then(|p| p.modified_at);
                    match pass_orders.insert(id.clone(), modified) {
                        None => true,
                        Some(before) => {
                            moved |= before.is_some() && modified.is_some() && before != modified;
                            false
                        }
                    }
                })
                .count();
            stale_pages = match may_loop(asked.as_ref(), &page) {
                _ if fresh > 0 => 0,
                Some(true) => stale_pages + 1,
                Some(false) => 0,
                None => stale_pages,
            };
            empty_cursor_pages = match &page.next {
                Some(PageCursor::Token(_)) if page.orders.is_empty() => empty_cursor_pages + 1,
                _ => 0,
            };
            if (stale_pages >= MAX_STALE_PAGES || empty_cursor_pages >= MAX_EMPTY_CURSOR_PAGES)
                && page.next.is_some()
            {
                tracing::warn!(
                    sync_task.id = task.id.get(),
                    pages = stale_pages.max(empty_cursor_pages),
                    "The platform's pages bring no new order and do not end; the sync stops"
                );
                return Ok(Err(TaskOutcome::Failed(
                    Cause::Platform,
                    PAGING_LOOPS.to_owned(),
                )));
            }
            joined.read(probing, &page);
            // A numbered listing (one with totals) by modification: a cursor's pages do not
            // shift.
            if listing == Listing::Modified && moved && page.total.is_some() {
                joined.moved();
            }
            // What comes after this page: the window's next page, the same window again from its
            // probe (orders joined it mid-walk), or the next window's first.
            let (next_at, cursor) = match &page.next {
                Some(cursor) => (at, Some(cursor.clone())),
                None if joined.walk_again(task.id, platform) => (at, None),
                None => (at + 1, None),
            };
            match &cursor {
                Some(c) if !cursors.insert(c.clone()) || cursors.len() > MAX_PAGES_PER_PASS => {
                    tracing::warn!(sync_task.id = task.id.get(), cursor = ?c, pages = cursors.len(), "The platform's paging does not end; the sync stops");
                    return Ok(Err(TaskOutcome::Failed(
                        Cause::Platform,
                        PAGING_LOOPS.to_owned(),
                    )));
                }
                Some(_) => {}
                None => {
                    cursors.clear();
                    pass_orders.clear();
                    stale_pages = 0;
                }
            }
            probing = cursor.is_none();
            let window_done = next_at > at;
            let left_short = joined.left_short().filter(|_| window_done);
            if window_done {
                joined = Joined::new(listing);
            }
            let counts_so_far = window_counts;
            let store = async {
                let mut stored = store::store_page(self, task, platform, &page, pages).await?;
                if !stored.stopped {
                    // Counted as each page is written, not with its window: a run stopped
                    // mid-window (a rollout hands it on) still counts what it stored.
                    count_page(platform, &stored.counts);
                }
                if window_done && !stored.stopped {
                    let mut counts = counts_so_far;
                    counts += stored.counts;
                    if let Some(window) = windows.get(at) {
                        stored.stopped = !self
                            .finish_window(task, (listing, platform), window, counts, left_short)
                            .await?;
                    }
                }
                anyhow::Ok(stored)
            };
            let (stored, next) = match windows.get(next_at) {
                Some(window) => {
                    let fetch = session.list_orders(client, window, listing, cursor.as_ref(), sink);
                    // The call first: it goes out before the page is sealed and written. The
                    // page is stored whatever happens; the call gives up if the process stops.
                    let (next, stored) = tokio::join!(fetch, store);
                    (stored?, Some(next))
                }
                None => (store.await?, None),
            };
            if stored.stopped {
                return Ok(Err(self.why_stopped(task).await?));
            }
            window_counts += stored.counts;
            if window_done {
                total += window_counts;
                window_counts = WindowCounts::default();
                at = next_at;
            }
            match next {
                Some(_) if self.stop.is_cancelled() => return Ok(Err(TaskOutcome::Stopped)),
                Some(next) => {
                    fetched = next;
                    asked = cursor;
                }
                None => return Ok(Ok(total)),
            }
        }
    }

    /// Why a walk was told to stop: the task was cancelled, or it is no longer this run's to
    /// end (another run holds it, or recovery or a dead letter ended it).
    pub async fn why_stopped(&self, task: &TaskRow) -> anyhow::Result<TaskOutcome> {
        let mut conn = leadgen_db::conn(&self.pool).await?;
        let now = tasks::find(&mut conn, task.tenant_id, task.id).await?;
        let cancelled = leadgen_domain::SyncStatus::Cancelled;
        if now.as_ref().is_some_and(|now| now.status == cancelled) {
            return Ok(TaskOutcome::Cancelled);
        }
        tracing::warn!(
            sync_task.id = task.id.get(),
            sync_task.status = now.as_ref().map(|n| n.status.as_str()),
            "The task is no longer this run's; it stops without writing"
        );
        Ok(TaskOutcome::Superseded)
    }

    /// Every page of `window` is stored: its counts, the progress and the watermark move
    /// together, so a restarted task resumes after it. False when the task no longer runs
    /// under this run's claim: nothing moved. A window the walk left short of the platform's
    /// total (`left_short`: the total and the orders read) puts a warning on the task, so the
    /// merchant knows which period to sync again: the walk moves on (a platform whose total
    /// counts orders it never lists would otherwise hold the shop's syncs for good), and the
    /// daily reconcile reads only the last day's changes again.
    #[tracing::instrument(name = "sync.finish_window", skip_all, fields(sync_id = task.id.get()))]
    async fn finish_window(
        &self,
        task: &TaskRow,
        (listing, platform): (Listing, PlatformType),
        window: &TimeWindow,
        counts: WindowCounts,
        left_short: Option<(u64, u64)>,
    ) -> anyhow::Result<bool> {
        let mut conn = leadgen_db::conn(&self.pool).await?;
        let (task_id, shop, end) = (task.id, task.platform_id, window.end);
        let claim = task.claimed_by.as_deref();
        let warning =
            left_short.map(|(total, read)| short_window_warning(listing, window, total, read));
        let held = conn
            .transaction::<bool, anyhow::Error, _>(|conn| {
                async move {
                    if tasks::finish_window(conn, task_id, claim, counts).await? == 0 {
                        return Ok(false);
                    }
                    if let Some(warning) = &warning {
                        tasks::add_warning(conn, task_id, warning).await?;
                    }
                    if listing == Listing::Modified {
                        credentials::advance_watermark(conn, shop, end).await?;
                    }
                    Ok(true)
                }
                .scope_boxed()
            })
            .await?;
        if !held {
            return Ok(false);
        }
        metrics::counter!("leadgen_sync_windows_total", "platform" => platform.as_str())
            .increment(1);
        Ok(true)
    }

    /// A fetched page, or how its failure ends the task (a dead session marks the shop).
    async fn page_or_end(
        &self,
        task: &TaskRow,
        grant: Option<DateTime<Utc>>,
        fetched: Result<OrderPage, SessionError>,
    ) -> anyhow::Result<Result<OrderPage, TaskOutcome>> {
        match fetched {
            Ok(page) => Ok(Ok(page)),
            Err(SessionError::Persist(e)) => anyhow::bail!("storing refreshed tokens: {e}"),
            Err(SessionError::Expired(reason)) => {
                let shop = task.platform_id;
                tracing::warn!(platform.id = shop.get(), reason = %reason, "Platform session is dead; marking the shop EXPIRED or INVALID");
                let mut conn = leadgen_db::conn(&self.pool).await?;
                shop_session::mark_expired(&mut conn, shop, grant, &reason, crate::SERVICE).await?;
                // The platform's own code and words, as on the shop's statusReason.
                Ok(Err(TaskOutcome::Failed(
                    Cause::Authorization,
                    format!("店铺授权已失效，请重新授权（{reason}）"),
                )))
            }
            Err(SessionError::Platform(e)) => {
                Ok(Err(TaskOutcome::Failed(Cause::Platform, describe(&e))))
            }
            Err(SessionError::Stopped) => Ok(Err(TaskOutcome::Stopped)),
            Err(other) => Ok(Err(TaskOutcome::Failed(Cause::Internal, other.to_string()))),
        }
    }
}

/// Counts a stored page and its orders by change (`leadgen_sync_pages_total`,
/// `leadgen_sync_orders_total`).
fn count_page(platform: PlatformType, counts: &WindowCounts) {
    let platform = platform.as_str();
    metrics::counter!("leadgen_sync_pages_total", "platform" => platform).increment(1);
    for (change, n) in [
        ("new", counts.new),
        ("updated", counts.updated),
        ("unchanged", counts.unchanged),
        ("malformed", counts.failure),
    ] {
        metrics::counter!("leadgen_sync_orders_total", "platform" => platform, "change" => change)
            .increment(u64::try_from(n).unwrap_or(0));
    }
}

/// The most pages one pass over a window may take (100 orders a page: millions of orders in a
/// window of a day at most); a platform whose paging goes on past it, or answers a cursor it
/// answered before in the same pass, loops, and the sync stops rather than run forever.
const MAX_PAGES_PER_PASS: usize = 20_000;

/// How many pages in a row may go on without an order the pass has not seen before the
/// paging counts as looping (orders leaving a window mid-walk shift its pages, so one or two
/// pages may bring nothing new), where the walk could loop at all ([`may_loop`]).
const MAX_STALE_PAGES: u32 = 5;

/// How many empty pages in a row a cursor may go on with before the paging counts as looping:
/// a platform may send an empty page before its last, not fifty.
const MAX_EMPTY_CURSOR_PAGES: u32 = 50;

/// Whether a page that brings no order the pass has not seen counts toward
/// [`MAX_STALE_PAGES`] (`Some(true)`), shows the walk moving on (`Some(false)`), or says
/// neither (`None`). Only a walk that could go on forever counts: numbered pages counting up
/// (a listing answering `has_next` forever) and cursors that answer orders already seen. A
/// backward walk's numbers count down to its first page, where it ends, and its pages come
/// back empty when orders left the window mid-walk; a cursor's empty pages are the
/// platform's to send (Kuaishou's paging ends at `nomore`, not at an empty page). Repeated
/// cursors and [`MAX_PAGES_PER_PASS`] bound every walk.
fn may_loop(asked: Option<&PageCursor>, page: &OrderPage) -> Option<bool> {
    match (asked, &page.next) {
        (_, None) => Some(false),
        (Some(PageCursor::Number(at)), Some(PageCursor::Number(next))) => Some(next > at),
        (_, Some(PageCursor::Token(_))) if page.orders.is_empty() => None,
        _ => Some(true),
    }
}

/// A task's error when the platform's paging loops.
pub const PAGING_LOOPS: &str = "电商平台的分页没有结束（游标重复、连续多页没有新订单或页数超出上限），为避免无限循环已停止本次同步，请稍后重试";

/// How much of a requested range's start a platform's history may cut without a warning.
const CLIP_TOLERANCE: chrono::Duration = chrono::Duration::minutes(1);

/// One run's walk: the platform, the session and what this run already saw.
struct Walk<'a> {
    client: &'a dyn PlatformClient,
    session: &'a mut Session,
    sink: &'a CredentialSink,
    /// The grant the session was opened on (`activated_at`): a dead session ends only it.
    grant: Option<DateTime<Utc>>,
    task: &'a TaskRow,
    platform: PlatformType,
    listing: Listing,
    pages: store::RunPages,
}

/// How much of the task's range a platform's history may cut without a warning, split as of
/// `as_of`: [`CLIP_TOLERANCE`]; for a backfill also the time since it was requested. A backfill
/// asks for all the history the platform serves as of its request, and that history has moved on
/// by the time the walk starts (a queue's wait, a retry the scheduler started): the part it lost
/// meanwhile is no news to the merchant, who named no period.
fn clip_tolerance(task: &TaskRow, as_of: DateTime<Utc>) -> chrono::Duration {
    match task.trigger_type {
        SyncTrigger::Backfill => {
            CLIP_TOLERANCE + (as_of - task.sync_time).max(chrono::Duration::zero())
        }
        _ => CLIP_TOLERANCE,
    }
}

/// Where a platform's documented history clipped the requested range: the part it serves and a
/// warning for the merchant (never a silent clip). A clip under `tolerance`
/// ([`clip_tolerance`]) is none: the history a platform serves ends a fixed time before now,
/// and a range asked for as "all it serves" (a backfill) has moved by the time the walk starts.
fn clipped(
    requested: &TimeWindow,
    windows: &[TimeWindow],
    tolerance: chrono::Duration,
) -> (Option<DateTime<Utc>>, Option<String>) {
    match windows.first() {
        Some(first) if first.start - requested.start >= tolerance => (
            Some(first.start),
            Some(format!(
                "电商平台只提供 {} 之后的订单：{} 至 {} 的订单无法同步",
                format_beijing(first.start),
                format_beijing(requested.start),
                format_beijing(first.start)
            )),
        ),
        None if requested.start < requested.end => (
            None,
            Some("电商平台不提供该时间范围的订单，未同步任何订单".into()),
        ),
        _ => (None, None),
    }
}

/// The task's warning for the changes a catch-up left behind ([`changes_left_behind`]): the
/// period, and what the merchant can do, where the platform still serves the orders' creation
/// period (a sync of a named period lists by creation time; Taobao serves 88 days, Kuaishou 89).
fn changes_left_behind_warning(from: DateTime<Utc>, window_start: DateTime<Utc>) -> String {
    format!(
        "店铺超过 {MAX_WINDOW_DAYS} 天未同步订单变更，本次只同步 {} 之后的变更：{} 至 {} 之间发生的变更（如退款、关闭）可能未同步；下单时间仍在电商平台可查范围内的订单，可按下单时间指定时段手动同步",
        format_beijing(window_start),
        format_beijing(from),
        format_beijing(window_start),
    )
}

/// The task's warning for a window the walk left short of the platform's total, with what the
/// merchant can do: a window by creation time is synced again by naming the period; one by
/// modification time holds orders placed at any time, which a sync of a named period (listed by
/// creation time) reaches only as far back as it names.
fn short_window_warning(listing: Listing, window: &TimeWindow, total: u64, read: u64) -> String {
    let (what, remedy) = match listing {
        Listing::Created => ("下单", "请稍后重新同步该时段"),
        Listing::Modified => ("有变更", "请稍后按下单时间重新同步近期订单"),
    };
    format!(
        "{} 至 {} {what}的订单：平台称共 {total} 笔，多次读取只得到 {read} 笔，可能有订单未同步，{remedy}",
        format_beijing(window.start),
        format_beijing(window.end)
    )
}

/// A wait as a merchant reads it: seconds under two minutes, else about so many minutes.
fn wait_words(wait: std::time::Duration) -> String {
    let secs = wait.as_secs().max(1);
    if secs < 120 {
        format!("{secs} 秒")
    } else {
        format!("约 {} 分钟", secs.div_ceil(60))
    }
}

/// A sync record's error message for a platform failure: Chinese, no secrets, what the merchant
/// can do, and the platform's own code and message where it sent them.
pub fn describe(e: &PlatformError) -> String {
    match e {
        PlatformError::Throttled {
            retry_after: Some(wait),
            detail,
        } => format!(
            "电商平台调用过于频繁，需等待{}后再调用，本次同步未完成，请稍后重新同步{}",
            wait_words(*wait),
            platform_said(detail)
        ),
        PlatformError::Throttled {
            retry_after: None,
            detail,
        } => format!(
            "电商平台调用过于频繁，重试多次后仍失败，请稍后重新同步{}",
            platform_said(detail)
        ),
        PlatformError::SessionExpired { detail } => {
            format!("店铺授权已失效，请重新授权{}", platform_said(detail))
        }
        PlatformError::AuthRefused(detail) => format!("电商平台拒绝授权，请重新授权（{detail}）"),
        PlatformError::InvalidRequest(detail) => format!("电商平台拒绝请求：{detail}"),
        PlatformError::Unavailable(detail) => {
            format!("电商平台暂不可用，重试多次后仍失败（{detail}）")
        }
        PlatformError::UnavailableFor {
            retry_after,
            detail,
        } => format!(
            "电商平台暂不可用，需等待{}后再调用，本次同步未完成（{detail}）",
            wait_words(*retry_after)
        ),
        PlatformError::Malformed(detail) => {
            format!("电商平台返回的数据无法解析，重试多次后仍失败（{detail}）")
        }
        PlatformError::Unknown { code, message } => {
            format!("电商平台返回未知错误，重试后仍失败（错误码 {code}：{message}）")
        }
        // Ours: the call was never made.
        PlatformError::GateUnavailable(_) => {
            "系统繁忙，未能调用电商平台，本次同步未完成，请稍后重新同步".to_owned()
        }
        PlatformError::QueueFull { retry_after } => format!(
            "同一电商应用下的调用请求过多，本次同步未完成，请{}后重新同步",
            wait_words(*retry_after)
        ),
        other => format!("电商平台调用失败：{other}"),
    }
}

/// The retry policy from settings: throttles and bans the platform states a wait for are
/// waited out for up to [`STATED_WAIT_SHARE_OF_LEASE`] of the task's lease (a page renews it),
/// rather than failing the task at the first stated wait longer than a backoff.
pub fn policy(max_retries: usize, max_backoff: Duration, lease: Duration) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        min_delay: Duration::from_millis(200),
        max_delay: max_backoff,
        max_stated_wait: (lease / STATED_WAIT_SHARE_OF_LEASE).max(max_backoff),
    }
}

/// A page's stated waits may take a quarter of the lease: the run keeps its task.
pub const STATED_WAIT_SHARE_OF_LEASE: u32 = 4;

#[cfg(test)]
mod tests;
