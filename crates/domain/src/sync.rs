//! Sync windows, the rules a manual sync (auth-api) and a scheduled one (sync-worker) share:
//! where a sync that names no start begins, and how long one window may be.

use chrono::{DateTime, Duration, Utc};

/// A shop never synced before gets this many days on its first sync.
pub const FIRST_SYNC_DAYS: i64 = 30;
/// A sync that resumes from the last one starts this much before where that one ended: clock
/// skew between us and the platform (TOP and PDD accept ±10 min), and writes the platform
/// commits late. Orders read twice cost nothing (an unchanged content hash is skipped).
pub const RESUME_OVERLAP_MINUTES: i64 = 10;
/// The longest window one manual sync may cover.
pub const MAX_WINDOW_DAYS: i64 = 90;

/// Where a sync that names no start begins: `resumed_from` (where the last sync's orders are
/// known to end) less [`RESUME_OVERLAP_MINUTES`], or [`FIRST_SYNC_DAYS`] before `now` for a shop
/// never synced.
pub fn default_start(resumed_from: Option<DateTime<Utc>>, now: DateTime<Utc>) -> DateTime<Utc> {
    resumed_from.map_or(now - Duration::days(FIRST_SYNC_DAYS), |t| {
        t - Duration::minutes(RESUME_OVERLAP_MINUTES)
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

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
