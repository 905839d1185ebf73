//! Query parameters read the same way by every service: which names a query may carry, a
//! query read into a type naming the parameter it could not read ([`Query`]), and request
//! times.

use actix_web::{FromRequest, HttpRequest, dev::Payload};
use chrono::{DateTime, Utc};

use crate::ApiError;

/// An endpoint that documents no query parameter: any but a `_`-prefixed cache buster is 400
/// ([`reject_unknown`]). Put it after the permission in the handler's arguments, so that a
/// caller without the permission is answered 401 or 403 first.
pub struct NoQuery;

impl FromRequest for NoQuery {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            crate::nul::refuse_marked(req)
                .and_then(|()| reject_unknown(req.query_string(), &[]))
                .map(|()| NoQuery),
        )
    }
}

/// A query read as `T` the way `web::Query` reads it (`serde_urlencoded`), refused (400) by the
/// name of the parameter that could not be read (`查询参数格式不正确：platformId`), or as a
/// parameter sent twice.
pub struct Query<T>(pub T);

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Query<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: serde::de::DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            crate::nul::refuse_marked(req)
                .and_then(|()| read(req.query_string()))
                .map(Query),
        )
    }
}

/// `query` read as `T` (see [`Query`]). A parameter sent empty or blank (`platformId=`) is read
/// as absent, so its default applies, and surrounding white space is dropped (` 201`), as the
/// lead list reads its parameters (`docs/api-conventions.md`).
pub fn read<T: serde::de::DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    // Sent twice, even once empty (`page=&page=2`): which one was meant is a guess.
    reject_repeated(query, &[])?;
    let given: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            url::form_urlencoded::parse(query.as_bytes())
                .filter(|(_, v)| !v.trim().is_empty())
                .map(|(k, v)| (k, v.trim().to_owned())),
        )
        .finish();
    let pairs = url::form_urlencoded::parse(given.as_bytes());
    serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(pairs)).map_err(|e| {
        // An integer field's value that is not one reads like every other integer parameter.
        let cause = e.inner().to_string();
        let out_of_range = ["number too large", "number too small"]
            .iter()
            .any(|m| cause.contains(m));
        match e.path().to_string().as_str() {
            "." | "" => ApiError::bad_request("查询参数格式不正确"),
            name if out_of_range => out_of_range_error(&crate::error::printable(name)),
            name if cause.contains("invalid digit") => {
                ApiError::bad_request(format!("{} 必须是整数", crate::error::printable(name)))
            }
            name => ApiError::bad_request(format!(
                "查询参数格式不正确：{}",
                crate::error::printable(name)
            )),
        }
    })
}

/// Refuses a query parameter the endpoint does not document (400), so that a misspelled filter
/// never silently widens a list. Names starting with `_` are left alone: front ends append them
/// to defeat caches (`_=1700000000000`, `_t=…`).
pub fn reject_unknown(query: &str, known: &[&str]) -> Result<(), ApiError> {
    match url::form_urlencoded::parse(query.as_bytes())
        .map(|(name, _)| name)
        .find(|name| !name.starts_with('_') && !known.contains(&name.as_ref()))
    {
        Some(name) => Err(ApiError::bad_request(format!(
            "不支持的查询参数：{}",
            crate::error::printable(&name)
        ))),
        None => Ok(()),
    }
}

/// Refuses a parameter sent twice (400): one of the values would go unread. Names in
/// `repeatable` (a list filter such as `intentionTags`) and `_`-prefixed cache busters may
/// repeat.
pub fn reject_repeated(query: &str, repeatable: &[&str]) -> Result<(), ApiError> {
    let mut seen = std::collections::HashSet::new();
    match url::form_urlencoded::parse(query.as_bytes())
        .map(|(name, _)| name)
        .filter(|name| !name.starts_with('_') && !repeatable.contains(&name.as_ref()))
        .find(|name| !seen.insert(name.clone()))
    {
        Some(name) => Err(ApiError::bad_request(format!(
            "查询参数 {} 只能出现一次",
            crate::error::printable(&name)
        ))),
        None => Ok(()),
    }
}

/// An optional integer parameter: absent or empty (white space) is `None`; anything else must
/// be an integer (400 naming it).
pub fn int(name: &str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| integer(name, v))
        .transpose()
}

/// An integer parameter's value (400 naming it, `platformId 必须是整数`, when it is not one;
/// `size 超出取值范围` when it is one no 64-bit integer holds).
pub fn integer(name: &str, value: &str) -> Result<i64, ApiError> {
    use std::num::IntErrorKind;
    value
        .parse()
        .map_err(|e: std::num::ParseIntError| match e.kind() {
            IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => out_of_range_error(name),
            _ => ApiError::bad_request(format!("{name} 必须是整数")),
        })
}

/// An integer parameter too large (or small) for any value it could take.
fn out_of_range_error(name: &str) -> ApiError {
    ApiError::bad_request(format!("{name} 超出取值范围"))
}

/// A query parameter's time ([`parse_time`]): `None` when absent or blank, 400 naming the
/// parameter and the form it takes when unreadable.
pub fn time_param(name: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => parse_time(v).map(Some).ok_or_else(|| time_error(name)),
    }
}

/// A time parameter that cannot be read: named, with the form it takes.
fn time_error(name: &str) -> ApiError {
    ApiError::bad_request(format!(
        "{name} 必须是带时区的 ISO 8601 时间，例如 2026-11-01T00:00:00+08:00"
    ))
}

/// The inclusive end of a time range ([`time_param`]): the last instant of the unit the end
/// was written to ([`parse_end`]). An end written to the whole second
/// (`…T23:59:59+08:00`, as the design's examples end a day) takes in that whole second, and one
/// written to the minute (`…T23:59+08:00`, a date picker without seconds) that whole minute:
/// what happened at 23:59:59.400 is within it, not lost between this day's range and the next
/// day's, which starts at 00:00:00. Stored times carry microseconds.
pub fn end_param(name: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => parse_end(v)
            .map(|(end, unit)| Some(end + unit - chrono::Duration::microseconds(1)))
            .ok_or_else(|| time_error(name)),
    }
}

/// An end time and the unit it was written to: a minute, a second, or a microsecond when it
/// has a fraction. Its last instant is `end + unit - 1 µs`; a range of whole seconds (a sync's
/// window) ends at `end + unit - 1 s`.
pub fn parse_end(value: &str) -> Option<(DateTime<Utc>, chrono::Duration)> {
    let end = parse_time(value)?;
    // The time after the date: RFC 3339 separates them by `T`, `t` or a space.
    let time = value
        .trim()
        .split_once(['T', 't', ' '])
        .map_or("", |(_, time)| time);
    let unit = if time.contains(['.', ',']) {
        chrono::Duration::microseconds(1)
    } else if time
        .split(['+', '-', 'Z', 'z', ' '])
        .next()
        .unwrap_or_default()
        .matches(':')
        .count()
        < 2
    {
        chrono::Duration::minutes(1)
    } else {
        chrono::Duration::seconds(1)
    };
    Some((end, unit))
}

/// A time range's ends, each optional.
pub type TimeRange = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// A time range's two ends as [`time_param`] and [`end_param`] read them; 400 when the start
/// lies after the end (both ends are inclusive).
pub fn time_range(
    (start_name, start): (&str, Option<&str>),
    (end_name, end): (&str, Option<&str>),
) -> Result<TimeRange, ApiError> {
    let from = time_param(start_name, start)?;
    let to = end_param(end_name, end)?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(ApiError::bad_request(format!(
            "{start_name} 不能晚于 {end_name}"
        )));
    }
    Ok((from, to))
}

/// An ISO 8601 time with an offset, surrounding white space ignored: RFC 3339
/// (`2023-10-01T00:00:00+08:00`, `…Z`, fractions of a second), and the ISO 8601 forms clients
/// print beside it: seconds left out (`2023-10-01T00:00Z`, Java's `OffsetDateTime` at a whole
/// minute) and offsets written `+0800` or `+08`. An offset's `+` sent unencoded in a query
/// string arrives as a space (`…T00:00:00 08:00`) and is read as the `+` it was. A time without
/// an offset is not read: whose clock it means is a guess.
pub fn parse_time(value: &str) -> Option<DateTime<Utc>> {
    use chrono::{Datelike as _, SubsecRound as _};
    let value = value.trim();
    // To the microsecond, as PostgreSQL keeps it: a window checked in nanoseconds would be
    // another window once stored (its ends equal, refused by the table's check).
    // Years 1 to 9999 in UTC, as the documented pattern's four digits: chrono also reads signed
    // and five-digit years, which PostgreSQL refuses (or which overflow a window's arithmetic).
    let parse = |v: &str| {
        iso_8601(v)
            .map(|t| t.with_timezone(&Utc).trunc_subsecs(6))
            .filter(|t| (1..=9999).contains(&t.year()))
    };
    parse(value).or_else(|| {
        let (time, offset) = value.rsplit_once(' ')?;
        let digits = offset.chars().filter(char::is_ascii_digit).count();
        let is_offset =
            offset.chars().all(|c| c.is_ascii_digit() || c == ':') && [2, 4].contains(&digits);
        is_offset
            .then(|| parse(&format!("{time}+{offset}")))
            .flatten()
    })
}

fn iso_8601(value: &str) -> Option<DateTime<chrono::FixedOffset>> {
    DateTime::parse_from_rfc3339(value).ok().or_else(|| {
        if !value.contains(['T', 't']) {
            return None;
        }
        let value = match value.strip_suffix(['Z', 'z']) {
            Some(rest) => format!("{rest}+00:00"),
            None => value.to_owned(),
        };
        // `%#z`: `+08`, `+0800` or `+08:00`; `%.f`: a fraction, if there is one.
        ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M%#z"]
            .iter()
            .find_map(|format| DateTime::parse_from_str(&value.replace('t', "T"), format).ok())
    })
}

#[cfg(test)]
mod tests {

    #[test]
    fn years_outside_the_four_digits_of_the_documented_pattern_are_not_times() {
        for outside in [
            "-5000-01-01T00:00:00Z",
            "+12026-01-01T00:00:00Z",
            "-262144-01-15T00:00:00Z",
            "0000-01-01T00:00:00Z",
            // Year 1 at +08:00 is year 0 in UTC.
            "0001-01-01T00:00:00+08:00",
        ] {
            assert_eq!(super::parse_time(outside), None, "{outside}");
        }
        for inside in ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"] {
            assert!(super::parse_time(inside).is_some(), "{inside}");
        }
    }

    #[test]
    fn iso_8601_times_with_an_offset_are_read_in_every_usual_form() {
        let at = super::parse_time("2023-10-01T00:00:00+08:00").expect("rfc 3339");
        for same in [
            "2023-09-30T16:00:00Z",
            "2023-09-30T16:00Z",
            "2023-10-01T00:00+08:00",
            "2023-10-01T00:00:00+0800",
            "2023-10-01T00:00:00+08",
            "2023-10-01T00:00+0800",
            "2023-10-01T00:00:00.000+08:00",
            "2023-10-01T00:00:00.000+0800",
            "2023-10-01t00:00:00+08:00",
            "2023-09-30t16:00:00z",
            " 2023-10-01T00:00:00 08:00 ",
            "2023-10-01T00:00:00 0800",
            "2023-10-01T00:00 08",
        ] {
            assert_eq!(super::parse_time(same), Some(at), "{same}");
        }
        for refused in [
            "2023-10-01T00:00:00",
            "2023-10-01",
            "2023-10-01 00:00:00",
            "2023-10-01T24:30:00Z",
            "2023-10-01T00:00:00+8",
            "2023-10-01T00:00:00 1",
            "yesterday",
            "",
        ] {
            assert_eq!(super::parse_time(refused), None, "{refused}");
        }
    }

    #[test]
    fn times_are_read_to_the_microsecond() {
        let a = super::parse_time("2026-12-01T00:00:00Z");
        let b = super::parse_time("2026-12-01T00:00:00.000000001Z");
        assert_eq!(a, b, "nanoseconds the database cannot keep are dropped");
        let c = super::parse_time("2026-12-01T00:00:00.0000019Z").expect("time");
        assert_eq!(c.timestamp_subsec_nanos(), 1_000);
    }

    /// An inclusive end written to the whole second takes in that second: a record stamped
    /// 23:59:59.400 is in the day `…T00:00:00` to `…T23:59:59`, not lost between two days.
    #[test]
    fn an_end_to_the_whole_second_takes_in_that_second() {
        let end = |v: &str| super::end_param("endTime", Some(v)).unwrap().unwrap();
        let last = super::parse_time("2026-12-07T23:59:59.999999+08:00").unwrap();
        assert_eq!(end("2026-12-07T23:59:59+08:00"), last);
        let stamped = super::parse_time("2026-12-07T23:59:59.4+08:00").unwrap();
        assert!(stamped <= end("2026-12-07T23:59:59+08:00"));
        assert_eq!(
            end("2026-12-07T23:59:59.4+08:00"),
            stamped,
            "a fraction is exact"
        );
        let (from, to) = super::time_range(
            ("startTime", Some("2026-12-07T23:59:59.5+08:00")),
            ("endTime", Some("2026-12-07T23:59:59+08:00")),
        )
        .unwrap();
        assert!(from < to, "a start within the end's second is not after it");
        assert_eq!(super::end_param("endTime", Some(" ")).unwrap(), None);
    }

    /// An end written to the minute (a date picker without seconds) takes in that minute: the
    /// day `…T00:00` to `…T23:59` ends where the next one starts, in every form it is written.
    #[test]
    fn an_end_to_the_minute_takes_in_that_minute() {
        let end = |v: &str| super::end_param("endTime", Some(v)).unwrap().unwrap();
        let last = super::parse_time("2026-12-07T23:59:59.999999+08:00").unwrap();
        for minute in [
            "2026-12-07T23:59+08:00",
            "2026-12-07T23:59+0800",
            "2026-12-07T15:59Z",
            "2026-12-07t23:59 08:00",
        ] {
            assert_eq!(end(minute), last, "{minute}");
        }
        let (_, unit) = super::parse_end("2026-12-07T23:59:00+08:00").unwrap();
        assert_eq!(unit, chrono::Duration::seconds(1), "seconds written");
        let (_, unit) = super::parse_end("2026-12-07 23:59:59+08:00").unwrap();
        assert_eq!(unit, chrono::Duration::seconds(1), "a space for the T");
        let (_, unit) = super::parse_end("2026-12-07T23:59:00.0-05:00").unwrap();
        assert_eq!(
            unit,
            chrono::Duration::microseconds(1),
            "a fraction written"
        );
        assert!(super::parse_end("2026-12-07T23:59").is_none(), "no offset");
    }

    #[test]
    fn a_parameter_that_cannot_be_read_is_named() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Filter {
            platform_id: Option<i64>,
            #[expect(dead_code, reason = "only what fails to read matters")]
            status: Option<String>,
        }
        let message = |q: &str| read::<Filter>(q).unwrap_err().to_string();
        assert_eq!(message("platformId=abc"), "platformId 必须是整数");
        assert_eq!(
            message("platformId=99999999999999999999"),
            "platformId 超出取值范围"
        );
        assert!(message("platformId=1&platformId=2").contains("platformId"));
        // Twice, once empty: which one was meant is a guess.
        assert_eq!(
            message("platformId=&platformId=2"),
            "查询参数 platformId 只能出现一次"
        );
        let read = read::<Filter>("platformId=7&status=A&_t=1").unwrap();
        assert_eq!(read.platform_id, Some(7));
        // Surrounding white space is dropped, as the lead list drops it.
        let read = super::read::<Filter>("platformId=%207+").unwrap();
        assert_eq!(read.platform_id, Some(7));
        // Sent empty or blank: absent, the default applies.
        assert_eq!(
            super::read::<Filter>("platformId=&status=+")
                .unwrap()
                .platform_id,
            None
        );
    }

    use super::*;

    #[test]
    fn undocumented_names_are_refused_and_cache_busters_ignored() {
        let known = ["page", "size"];
        assert!(reject_unknown("page=1&size=10", &known).is_ok());
        assert!(reject_unknown("page=1&_=1700000000000&_t=5", &known).is_ok());
        assert!(reject_unknown("", &known).is_ok());
        assert!(reject_unknown("page=1&pageNum=2", &known).is_err());
    }

    #[test]
    fn an_integer_no_64_bit_integer_holds_is_out_of_range_not_malformed() {
        let message = |v: &str| integer("size", v).unwrap_err().to_string();
        assert_eq!(message("99999999999999999999"), "size 超出取值范围");
        assert_eq!(message("-99999999999999999999"), "size 超出取值范围");
        assert_eq!(message("1.5"), "size 必须是整数");
        assert_eq!(integer("size", "100").ok(), Some(100));
    }

    #[test]
    fn a_parameter_sent_twice_is_refused_unless_it_may_repeat() {
        assert!(reject_repeated("page=1&size=2", &[]).is_ok());
        assert!(reject_repeated("_=1&_=2&tag=a&tag=b", &["tag"]).is_ok());
        let e = reject_repeated("size=1&page=1&size=2", &[]).unwrap_err();
        assert_eq!(e.to_string(), "查询参数 size 只能出现一次");
        let e = reject_repeated("a%00b=1&a%00b=2", &[]).unwrap_err();
        assert_eq!(e.to_string(), "查询参数 ab 只能出现一次");
    }

    #[test]
    fn times_take_any_offset_and_an_unencoded_plus() {
        let utc = |s: &str| s.parse::<DateTime<Utc>>().ok();
        let expected = utc("2023-09-30T16:00:00Z");
        assert_eq!(parse_time("2023-10-01T00:00:00+08:00"), expected);
        assert_eq!(parse_time(" 2023-10-01T00:00:00 08:00 "), expected);
        assert_eq!(parse_time("2023-09-30T16:00:00Z"), expected);
        assert_eq!(parse_time("2023-09-30T16:00:00-00:00"), expected);
        for bad in [
            "yesterday",
            "2023-10-01T00:00:00",
            "2023-10-01T00:00:00 8:00",
            "2023-10-01 08:00",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }
}
