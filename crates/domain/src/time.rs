//! Platform times are mostly Beijing time (UTC+8, no daylight saving) without an offset.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};

/// The platforms' wall-clock format, `yyyy-MM-dd HH:mm:ss`.
pub const PLATFORM_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// UTC+8.
pub fn beijing() -> FixedOffset {
    #[expect(
        clippy::unwrap_used,
        reason = "8 h is inside ±24 h, so east_opt always returns Some"
    )]
    let offset = FixedOffset::east_opt(8 * 3600).unwrap();
    offset
}

/// Parses `2024-05-20 09:58:12` (Beijing time) into UTC.
pub fn parse_beijing(text: &str) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(text.trim(), PLATFORM_FORMAT).ok()?;
    beijing()
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// Formats a UTC instant as Beijing wall-clock time, `yyyy-MM-dd HH:mm:ss`.
pub fn format_beijing(t: DateTime<Utc>) -> String {
    t.with_timezone(&beijing())
        .format(PLATFORM_FORMAT)
        .to_string()
}

/// The start (00:00 Beijing time) of the Beijing day `t` falls in. Scores are computed as of it,
/// so they are the same all day whatever the order orders arrive in.
pub fn start_of_beijing_day(t: DateTime<Utc>) -> DateTime<Utc> {
    let local = t.with_timezone(&beijing()).date_naive();
    local
        .and_hms_opt(0, 0, 0)
        .and_then(|n| beijing().from_local_datetime(&n).single())
        .map_or(t, |d| d.with_timezone(&Utc))
}

/// Whole calendar days in Beijing time from `earlier` to `later` (0 on the same Beijing day, 1
/// from yesterday; never negative): "N天前" as a salesperson in China reads it.
pub fn beijing_days_between(earlier: DateTime<Utc>, later: DateTime<Utc>) -> i64 {
    let day = |t: DateTime<Utc>| t.with_timezone(&beijing()).date_naive();
    (day(later) - day(earlier)).num_days().max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beijing_days_start_at_16_utc() {
        let t = parse_beijing("2024-05-20 09:58:12").unwrap();
        assert_eq!(
            format_beijing(start_of_beijing_day(t)),
            "2024-05-20 00:00:00"
        );
        let late = parse_beijing("2024-05-20 23:59:59").unwrap();
        assert_eq!(start_of_beijing_day(late), start_of_beijing_day(t));
    }

    #[test]
    fn days_between_count_beijing_calendar_days() {
        let at = |text: &str| parse_beijing(text).unwrap();
        let today = at("2024-05-20 00:00:00");
        assert_eq!(beijing_days_between(at("2024-05-20 09:00:00"), today), 0);
        assert_eq!(beijing_days_between(at("2024-05-19 23:59:59"), today), 1);
        assert_eq!(beijing_days_between(at("2024-05-19 00:00:00"), today), 1);
        assert_eq!(beijing_days_between(at("2024-05-18 23:59:59"), today), 2);
        // 16:00 UTC is midnight in Beijing: a day apart there, 2 s apart in UTC.
        let before = "2024-05-19T15:59:59Z".parse().unwrap();
        let after = "2024-05-19T16:00:01Z".parse().unwrap();
        assert_eq!(beijing_days_between(before, after), 1);
    }

    #[test]
    fn beijing_wall_clock_is_eight_hours_ahead_of_utc() {
        let t = parse_beijing("2024-05-20 09:58:12").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-05-20T01:58:12+00:00");
        assert_eq!(format_beijing(t), "2024-05-20 09:58:12");
        assert!(parse_beijing("2024-05-20T09:58:12").is_none());
    }
}
