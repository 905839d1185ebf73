//! Time windows: a requested range split into what one listing call accepts.

use chrono::{DateTime, Duration, Utc};

/// A closed interval `[start, end]` at second precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl TimeWindow {
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        TimeWindow { start, end }
    }
}

/// Splits `range` into consecutive windows of at most `span` (`[s, s+span-1s]`,
/// `[s+span-1s, …]`), after clamping the start to `now - history` (the oldest the platform
/// serves). Empty when nothing remains.
///
/// Each window starts on the second the one before it ended. The platforms send times to the
/// second and none documents whether a listing's end is inclusive: if one's is not, an order
/// placed or changed on a boundary second is still listed, by the window after it. An order
/// listed by both windows is counted once (the run counts distinct orders, and the raw store
/// keeps one version per content).
pub fn split(
    range: TimeWindow,
    span: Duration,
    history: Duration,
    now: DateTime<Utc>,
) -> Vec<TimeWindow> {
    let oldest = now - history;
    let start = range.start.max(oldest);
    let end = range.end.min(now);
    let mut out = Vec::new();
    let mut cursor = start;
    while cursor <= end {
        let window_end = (cursor + span - Duration::seconds(1)).min(end);
        out.push(TimeWindow {
            start: cursor,
            end: window_end,
        });
        if window_end >= end {
            break;
        }
        // A window of one second shares nothing (it would not move the cursor).
        cursor = window_end.max(cursor + Duration::seconds(1));
    }
    out
}

/// A "history" that clamps nothing: for listings whose platform documents no limit, so the
/// whole requested range is fetched (never clipped silently).
pub fn range_history(range: TimeWindow, now: DateTime<Utc>) -> Duration {
    (now - range.start).max(Duration::zero())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, d, h, 0, 0).unwrap()
    }

    #[test]
    fn windows_cover_the_range_each_starting_where_the_last_ended() {
        let w = split(
            TimeWindow::new(t(1, 0), t(3, 12)),
            Duration::days(1),
            Duration::days(90),
            t(20, 0),
        );
        let second = Duration::seconds(1);
        assert_eq!(w.len(), 3);
        assert_eq!(w[0], TimeWindow::new(t(1, 0), t(2, 0) - second));
        assert_eq!(
            w[1],
            TimeWindow::new(t(2, 0) - second, t(3, 0) - second * 2)
        );
        assert_eq!(w[2], TimeWindow::new(t(3, 0) - second * 2, t(3, 12)));
        for window in &w {
            assert!(window.end - window.start < Duration::days(1), "{window:?}");
        }
        for pair in w.windows(2) {
            assert_eq!(
                pair[0].end, pair[1].start,
                "no boundary second is left to one window"
            );
        }
        // The same when the range ends on a boundary: no window of the last second alone.
        let exact = split(
            TimeWindow::new(t(1, 0), t(3, 0) - second * 2),
            Duration::days(1),
            Duration::days(90),
            t(20, 0),
        );
        assert_eq!(exact.len(), 2);
        // Windows of one second still move forward.
        let seconds = split(
            TimeWindow::new(t(1, 0), t(1, 0) + second * 2),
            second,
            Duration::days(90),
            t(20, 0),
        );
        assert_eq!(seconds.len(), 3);
    }

    #[test]
    fn the_start_is_clamped_to_the_platforms_history_and_the_end_to_now() {
        let now = t(20, 0);
        let w = split(
            TimeWindow::new(t(1, 0), t(25, 0)),
            Duration::days(30),
            Duration::days(10),
            now,
        );
        assert_eq!(w, vec![TimeWindow::new(t(10, 0), now)]);
        assert!(
            split(
                TimeWindow::new(t(1, 0), t(2, 0)),
                Duration::days(1),
                Duration::days(3),
                now
            )
            .is_empty()
        );
    }
}
