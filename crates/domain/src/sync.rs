//! Sync windows, the rules a manual sync (auth-api) and a scheduled one (sync-worker) share:
//! which of an order's times a sync lists by, where a sync that names no start begins, and how
//! long one window may be; and how long the scheduler waits before trying a shop whose syncs
//! keep failing again.

use chrono::{DateTime, Duration, Utc};

/// A shop never synced before gets this many days on its first sync.
pub const FIRST_SYNC_DAYS: i64 = 30;
/// A sync that resumes from the last one starts this much before where that one ended: clock
/// skew between us and the platform (TOP and PDD accept ±10 min), and writes the platform
/// commits late. Orders read twice cost nothing (an unchanged content hash is skipped).
pub const RESUME_OVERLAP_MINUTES: i64 = 10;
/// The longest window one manual sync may cover.
pub const MAX_WINDOW_DAYS: i64 = 90;
/// Once this long after its last such sync, a scheduled sync reads the last this-many hours of
/// changes again ([`scheduled_start`]): a change the platform records later than the overlap
/// allows (dated before the watermark) is still caught within a day.
pub const RECONCILE_HOURS: i64 = 24;
/// How late the platform may record a change (dated before the watermark, listed only later)
/// and the daily reconcile still read it: each reconcile reads again this much before where the
/// last one's window ended. A change dated just before a reconcile's end and recorded after
/// that reconcile walked past it is read by the next one only if it falls in this overlap;
/// with the scheduled syncs' 10 minutes it was lost for good when recorded more than about 12
/// minutes late. No platform documents its lag; two hours costs a reconcile of Taobao four
/// more 30-minute windows (53 instead of 49).
pub const RECONCILE_OVERLAP_HOURS: i64 = 2;

/// Which of an order's times a sync's window selects by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// By creation time: a backfill, and a manual sync of a period the merchant names (each
    /// order as it is now, so a change to an order created in the period arrives too).
    Created,
    /// By last modification, through the platform's increment API: every sync that catches up
    /// (scheduled, or manual without a start), so that a refund, shipment or edit of an older
    /// order after its first fetch arrives (`docs/platform-sync.md`).
    Modified,
}

impl Listing {
    pub fn as_str(self) -> &'static str {
        match self {
            Listing::Created => "CREATED",
            Listing::Modified => "MODIFIED",
        }
    }

    /// The stored spelling back; anything else is `None`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "CREATED" => Some(Listing::Created),
            "MODIFIED" => Some(Listing::Modified),
            _ => None,
        }
    }
}

/// A stored listing that is neither `CREATED` nor `MODIFIED`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown listing `{0}`")]
pub struct UnknownListing(pub String);

impl TryFrom<String> for Listing {
    type Error = UnknownListing;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Listing::parse(&s).ok_or(UnknownListing(s))
    }
}

/// Where a sync that catches up on changes (by modification, with no start named) begins: the
/// end of the shop's last by-modification window fully stored (`modified_watermark`); before
/// any, the shop's first sync (orders fetched by creation time since then may have changed);
/// with the overlap of [`default_start`], never after `now`, and never more than
/// [`MAX_WINDOW_DAYS`] before it: a shop paused or expired for months catches up on the last 90
/// days, as a manual sync does, instead of asking every time for a range the platform may not
/// serve (and so never moving its watermark).
pub fn changes_start(
    modified_watermark: Option<DateTime<Utc>>,
    first_sync: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    default_start(modified_watermark.or(first_sync), now)
        .min(now)
        .max(now - Duration::days(MAX_WINDOW_DAYS))
}

/// Where the changes a catch-up from `watermark` left behind begin, when its window starts at
/// `window_start` more than a minute after the changes it should read from (the watermark less
/// the overlap): [`changes_start`] reads no further back than [`MAX_WINDOW_DAYS`], so a shop
/// whose changes were not read for longer (paused or expired for months) misses what changed
/// between the two. `None` when the window starts where it should.
pub fn changes_left_behind(
    watermark: DateTime<Utc>,
    window_start: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let from = default_start(Some(watermark), window_start);
    (window_start - from > Duration::minutes(1)).then_some(from)
}

/// The shop's last reconcile: the last completed by-modification sync that covered
/// [`RECONCILE_HOURS`] or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastReconcile {
    /// When it was requested.
    pub requested_at: DateTime<Utc>,
    /// Where its window ended (the settle before it was requested).
    pub window_end: DateTime<Utc>,
}

/// Where a scheduled sync begins: [`changes_start`], except once a day ([`RECONCILE_HOURS`]
/// since the last reconcile was requested) a shop synced by modification and first fetched over
/// a day ago reads the last day of changes again. Its pages are mostly orders already stored
/// unchanged (skipped by their content hash); what it finds are changes the platform dated
/// before the watermark but recorded after the sync that read past them.
///
/// The reconcile reads from where the last one's window ended (a day before now would leave out
/// the minutes between that end and a day before now: the settle, and up to an interval of the
/// schedule), less [`RECONCILE_OVERLAP_HOURS`], the lateness it absorbs. At most two days back
/// (a shop paused for longer catches up through its watermark).
pub fn scheduled_start(
    modified_watermark: Option<DateTime<Utc>>,
    first_sync: Option<DateTime<Utc>>,
    last_reconcile: Option<LastReconcile>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let start = changes_start(modified_watermark, first_sync, now);
    let day_ago = now - Duration::hours(RECONCILE_HOURS);
    let due = modified_watermark.is_some()
        && first_sync.is_some_and(|first| first <= day_ago)
        && last_reconcile.is_none_or(|last| last.requested_at <= day_ago);
    if !due {
        return start;
    }
    let from = last_reconcile.map_or(day_ago, |last| last.window_end.min(day_ago))
        - Duration::hours(RECONCILE_OVERLAP_HOURS);
    start.min(from.max(day_ago - Duration::hours(RECONCILE_HOURS)))
}

/// Where a sync that names no start begins: `resumed_from` (where the last sync's orders are
/// known to end) less [`RESUME_OVERLAP_MINUTES`], or [`FIRST_SYNC_DAYS`] before `now` for a shop
/// never synced.
pub fn default_start(resumed_from: Option<DateTime<Utc>>, now: DateTime<Utc>) -> DateTime<Utc> {
    resumed_from.map_or(now - Duration::days(FIRST_SYNC_DAYS), |t| {
        t - Duration::minutes(RESUME_OVERLAP_MINUTES)
    })
}

/// The scheduler's wait after a shop's syncs failed `failures` times in a row (since its last
/// completed sync): the schedule's interval, doubled for every further failure, at most
/// [`MAX_FAILED_SYNC_BACKOFF_HOURS`]. A shop whose credentials the platform refuses (a wrong
/// signing secret, say) would otherwise be called every tick; some platforms ban an app for
/// too many failed calls (JD code 2 `失败次数超限`), and the ban hits every shop of the app.
pub fn failed_sync_backoff(interval: Duration, failures: u32) -> Duration {
    if failures == 0 {
        return Duration::zero();
    }
    let cap = Duration::hours(MAX_FAILED_SYNC_BACKOFF_HOURS);
    let doublings = failures.saturating_sub(1).min(MAX_FAILED_SYNC_DOUBLINGS);
    interval
        .checked_mul(1 << doublings)
        .map_or(cap, |wait| wait.min(cap))
}

/// The longest wait of [`failed_sync_backoff`].
pub const MAX_FAILED_SYNC_BACKOFF_HOURS: i64 = 24;

/// The most doublings [`failed_sync_backoff`] counts (the cap is reached long before; the bound
/// keeps the arithmetic, here and in the scheduler's SQL, from overflowing).
pub const MAX_FAILED_SYNC_DOUBLINGS: u32 = 20;

#[cfg(test)]
mod tests {
    #[test]
    fn a_scheduled_sync_reads_the_last_day_again_once_a_day() {
        use super::*;
        let now = DateTime::parse_from_rfc3339("2026-12-05T12:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let watermark = Some(now - Duration::minutes(5));
        let first = Some(now - Duration::days(3));
        let day_ago = now - Duration::hours(RECONCILE_HOURS);
        let usual = now - Duration::minutes(15);
        let reconciled = |hours_ago: i64| {
            let requested_at = now - Duration::hours(hours_ago);
            Some(LastReconcile {
                requested_at,
                window_end: requested_at - Duration::minutes(2),
            })
        };
        let overlap = Duration::hours(RECONCILE_OVERLAP_HOURS);
        // Never reconciled: the whole last day, and the lateness it absorbs.
        assert_eq!(
            scheduled_start(watermark, first, None, now),
            day_ago - overlap
        );
        // Reconciled over a day ago: from where that reconcile's window ended, with the
        // overlap, so that no minute between the two goes unread.
        let yesterday = now - Duration::hours(25);
        assert_eq!(
            scheduled_start(watermark, first, reconciled(25), now),
            yesterday - Duration::minutes(2) - overlap
        );
        // Reconciled just a day ago: still from its end, a little more than a day back.
        assert_eq!(
            scheduled_start(watermark, first, reconciled(RECONCILE_HOURS), now),
            day_ago - Duration::minutes(2) - overlap
        );
        // Reconciled a week ago: at most two days back.
        assert_eq!(
            scheduled_start(watermark, first, reconciled(24 * 7), now),
            now - Duration::hours(2 * RECONCILE_HOURS)
        );
        // Reconciled within the day: from the watermark, with the overlap.
        assert_eq!(scheduled_start(watermark, first, reconciled(3), now), usual);
        // First fetched within the day: every sync since read from the first fetch on.
        let recent = Some(now - Duration::hours(5));
        assert_eq!(scheduled_start(watermark, recent, None, now), usual);
        // Before any by-modification window: from the first fetch, as before.
        assert_eq!(
            scheduled_start(None, first, None, now),
            changes_start(None, first, now)
        );
    }
    /// Four days of a shop's syncs every 30 minutes, each window read the moment it is
    /// requested (its end the settle before): a change dated at any minute and recorded by the
    /// platform up to [`RECONCILE_OVERLAP_HOURS`] late is in some window read after it was
    /// recorded. With the reconcile overlapping the last one by the scheduled syncs' 10
    /// minutes, a change dated 20 minutes before a reconcile's end and recorded 40 minutes late
    /// was read by no sync at all.
    #[test]
    fn a_change_recorded_late_is_read_by_some_later_sync() {
        use super::*;
        let start = DateTime::parse_from_rfc3339("2026-12-01T00:07:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let first = Some(start - Duration::days(3));
        let (mut watermark, mut last) = (Some(start - Duration::minutes(20)), None);
        // (read at, from, to) of every sync.
        let mut reads = Vec::new();
        for tick in 0..(4 * 48) {
            let now = start + Duration::minutes(30 * tick);
            let from = scheduled_start(watermark, first, last, now);
            let to = now - Duration::minutes(2);
            reads.push((now, from, to));
            if to - from >= Duration::hours(RECONCILE_HOURS) {
                last = Some(LastReconcile {
                    requested_at: now,
                    window_end: to,
                });
            }
            watermark = Some(to);
        }
        let end = start + Duration::days(2);
        let mut dated = start;
        while dated < end {
            for late in [15, 40, 70, 119] {
                let recorded = dated + Duration::minutes(late);
                assert!(
                    reads
                        .iter()
                        .any(|(at, from, to)| *at >= recorded && (*from..=*to).contains(&dated)),
                    "a change dated {dated} recorded {late} minutes late was never read"
                );
            }
            dated += Duration::minutes(1);
        }
    }

    #[test]
    fn a_failing_shop_is_tried_again_later_and_later_up_to_a_day() {
        use super::*;
        let every = Duration::minutes(30);
        let waits: Vec<i64> = (0..9)
            .map(|n| failed_sync_backoff(every, n).num_minutes())
            .collect();
        assert_eq!(waits, [0, 30, 60, 120, 240, 480, 960, 1440, 1440]);
        assert_eq!(
            failed_sync_backoff(every, u32::MAX),
            Duration::hours(MAX_FAILED_SYNC_BACKOFF_HOURS)
        );
    }

    use chrono::TimeZone;

    use super::*;

    #[test]
    fn changes_are_never_read_from_further_back_than_the_longest_window() {
        let now = Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap();
        let months_ago = now - Duration::days(200);
        let longest = now - Duration::days(MAX_WINDOW_DAYS);
        assert_eq!(changes_start(Some(months_ago), None, now), longest);
        assert_eq!(changes_start(None, Some(months_ago), now), longest);
        assert_eq!(
            scheduled_start(Some(months_ago), Some(months_ago), None, now),
            longest
        );
    }

    #[test]
    fn a_catch_up_clipped_to_the_longest_window_says_where_the_changes_it_left_begin() {
        let now = Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap();
        let months_ago = now - Duration::days(200);
        let start = changes_start(Some(months_ago), None, now);
        assert_eq!(
            changes_left_behind(months_ago, start),
            Some(months_ago - Duration::minutes(RESUME_OVERLAP_MINUTES))
        );
        let yesterday = now - Duration::days(1);
        let start = changes_start(Some(yesterday), None, now);
        assert_eq!(changes_left_behind(yesterday, start), None);
    }

    #[test]
    fn changes_are_read_from_the_watermark_else_from_the_first_sync() {
        let now = Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap();
        let first = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let mark = Utc.with_ymd_and_hms(2026, 12, 4, 11, 0, 0).unwrap();
        assert_eq!(
            changes_start(Some(mark), Some(first), now),
            Utc.with_ymd_and_hms(2026, 12, 4, 10, 50, 0).unwrap()
        );
        assert_eq!(
            changes_start(None, Some(first), now),
            Utc.with_ymd_and_hms(2026, 12, 1, 8, 50, 0).unwrap()
        );
        assert_eq!(changes_start(None, None, now), now - Duration::days(30));
        // A watermark within the overlap of now (a settle shorter than it) starts no later
        // than now.
        assert_eq!(
            changes_start(Some(now + Duration::minutes(15)), None, now),
            now
        );
        for listing in [Listing::Created, Listing::Modified] {
            assert_eq!(Listing::parse(listing.as_str()), Some(listing));
        }
        assert_eq!(Listing::parse("created"), None);
    }

    #[test]
    fn a_sync_resumes_with_an_overlap_or_starts_a_month_back() {
        let now = Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap();
        let last = Utc.with_ymd_and_hms(2026, 12, 4, 11, 30, 0).unwrap();
        assert_eq!(
            default_start(Some(last), now),
            Utc.with_ymd_and_hms(2026, 12, 4, 11, 20, 0).unwrap()
        );
        assert_eq!(
            default_start(None, now),
            Utc.with_ymd_and_hms(2026, 11, 4, 12, 0, 0).unwrap()
        );
    }
}
