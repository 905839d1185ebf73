//! Paging and sorting: `page` (1-based, default 1, at most [`MAX_PAGE`]), `size` (default 10, at
//! most 100; larger is 400), absent or empty meaning the default; `sort` from an allow-list,
//! `order` `asc`|`desc`; the page payload `{records, total, size, current, pages}`.

use serde::Serialize;

use crate::ApiError;

pub const DEFAULT_SIZE: i64 = 10;
pub const MAX_SIZE: i64 = 100;
/// The largest page number: an `int32`, so that clients reading `current` as one, and
/// `page × size`, never overflow.
pub const MAX_PAGE: i64 = i32::MAX as i64;

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Asc,
    Desc,
}

/// Validated paging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub page: i64,
    pub size: i64,
}

impl Paging {
    pub fn from_query(page: Option<i64>, size: Option<i64>) -> Result<Self, ApiError> {
        Self::named(("page", page), ("size", size))
    }

    /// From the query's text: absent or empty (white space) is the default.
    pub fn from_raw(page: Option<&str>, size: Option<&str>) -> Result<Self, ApiError> {
        Self::from_query(
            crate::query::int("page", page)?,
            crate::query::int("size", size)?,
        )
    }

    /// Under an endpoint's own parameter names (`ordersPage`, `ordersSize`), which its
    /// messages name.
    pub fn named(
        (page_name, page): (&str, Option<i64>),
        (size_name, size): (&str, Option<i64>),
    ) -> Result<Self, ApiError> {
        let page = page.unwrap_or(1);
        let size = size.unwrap_or(DEFAULT_SIZE);
        if !(1..=MAX_PAGE).contains(&page) {
            return Err(ApiError::bad_request(format!(
                "{page_name} 必须在 1 到 {MAX_PAGE} 之间"
            )));
        }
        if !(1..=MAX_SIZE).contains(&size) {
            return Err(ApiError::bad_request(format!(
                "{size_name} 必须在 1 到 {MAX_SIZE} 之间"
            )));
        }
        Ok(Paging { page, size })
    }

    pub fn offset(self) -> i64 {
        (self.page - 1).saturating_mul(self.size)
    }
}

/// Parses `sort`/`order` against `allowed` (camelCase names as in responses); returns the
/// chosen name, or `default` when absent.
pub fn parse_sort<'a>(
    sort: Option<&str>,
    order: Option<&str>,
    allowed: &[&'a str],
    default: &'a str,
) -> Result<(&'a str, SortOrder), ApiError> {
    let field = match sort.map(str::trim).filter(|s| !s.is_empty()) {
        None => default,
        Some(s) => allowed.iter().find(|a| **a == s).copied().ok_or_else(|| {
            ApiError::bad_request(format!(
                "sort 取值无效：{}；可选值：{}",
                crate::error::printable(s),
                allowed.join("、")
            ))
        })?,
    };
    let order = match order.map(str::trim).filter(|s| !s.is_empty()) {
        None => SortOrder::Desc,
        Some("desc") => SortOrder::Desc,
        Some("asc") => SortOrder::Asc,
        Some(o) => {
            return Err(ApiError::bad_request(format!(
                "order 取值无效：{}；可选值：asc、desc",
                crate::error::printable(o)
            )));
        }
    };
    Ok((field, order))
}

/// The page payload.
#[derive(Debug, Serialize)]
pub struct Page<T: Serialize> {
    pub records: Vec<T>,
    pub total: i64,
    pub size: i64,
    pub current: i64,
    pub pages: i64,
}

impl<T: Serialize> Page<T> {
    pub fn new(records: Vec<T>, total: i64, paging: Paging) -> Self {
        let pages = if total == 0 {
            0
        } else {
            (total + paging.size - 1) / paging.size
        };
        Page {
            records,
            total,
            size: paging.size,
            current: paging.page,
            pages,
        }
    }
}

/// How many records of a list that only grows (the operation log, sync records: every sync of
/// every shop, every day) a count and the page numbers reach. A year of a tenant's log can be
/// millions of rows: an exact `count(*)` and an `OFFSET` of any size on every page would read
/// them all. Past it `total` reads "at least" ([`BoundedPage`]), and a page starting beyond it
/// is [`crate::codes::PAGE_BEYOND_RECORDS_WINDOW`] when more match: narrow the time range.
pub const RECORDS_WINDOW: i64 = 10_000;

/// A total counted up to one past a window ([`RECORDS_WINDOW`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// Exact when `exact`; otherwise the window ("at least this many").
    pub total: i64,
    pub exact: bool,
}

impl Counted {
    /// From `found` rows counted up to `window + 1`.
    pub fn of(found: i64, window: i64) -> Self {
        if found > window {
            Counted {
                total: window,
                exact: false,
            }
        } else {
            Counted {
                total: found,
                exact: true,
            }
        }
    }

    /// What asking for `paging` may read: `Ok(false)` when the page starts past the matching
    /// rows (an empty page, nothing to read), the window's business error when it starts past a
    /// window that did not hold them all.
    pub fn page_to_read(&self, paging: Paging, window: i64) -> Result<bool, BeyondWindow> {
        if paging.offset() < window {
            return Ok(paging.offset() < self.total);
        }
        if self.exact {
            Ok(false)
        } else {
            Err(BeyondWindow)
        }
    }
}

/// A page asked for past a records window that did not hold every matching record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeyondWindow;

impl From<BeyondWindow> for ApiError {
    fn from(_: BeyondWindow) -> Self {
        ApiError::business(crate::codes::PAGE_BEYOND_RECORDS_WINDOW)
    }
}

/// A page whose total may stop counting at a bound: `total` is exact when `total_exact`, and
/// otherwise a lower bound (the list's browsing window). `pages` is computed from `total` either
/// way, so every page from 1 to `pages` can be asked for.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BoundedPage<T: Serialize> {
    #[serde(flatten)]
    pub page: Page<T>,
    pub total_exact: bool,
}

impl<T: Serialize> BoundedPage<T> {
    pub fn new(records: Vec<T>, total: i64, total_exact: bool, paging: Paging) -> Self {
        BoundedPage {
            page: Page::new(records, total, paging),
            total_exact,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_page_and_size() {
        assert_eq!(
            Paging::from_query(None, None).unwrap(),
            Paging { page: 1, size: 10 }
        );
        assert!(Paging::from_query(Some(0), None).is_err());
        assert!(Paging::from_query(None, Some(101)).is_err());
        assert!(Paging::from_query(Some(MAX_PAGE), None).is_ok());
        assert!(Paging::from_query(Some(MAX_PAGE + 1), None).is_err());
        assert_eq!(
            Paging::from_raw(Some(" "), Some("")).unwrap(),
            Paging { page: 1, size: 10 }
        );
        assert!(Paging::from_raw(Some("x"), None).is_err());
        let named = Paging::named(("ordersPage", Some(0)), ("ordersSize", None));
        assert!(named.unwrap_err().to_string().starts_with("ordersPage "));
        assert_eq!(Paging::from_query(Some(3), Some(20)).unwrap().offset(), 40);
        let p: Page<u8> = Page::new(vec![], 21, Paging { page: 1, size: 10 });
        assert_eq!(p.pages, 3);
    }

    #[test]
    fn a_bounded_count_pages_within_its_window() {
        let size = |page| Paging { page, size: 100 };
        let some = Counted::of(250, RECORDS_WINDOW);
        assert_eq!(
            some,
            Counted {
                total: 250,
                exact: true
            }
        );
        assert_eq!(some.page_to_read(size(3), RECORDS_WINDOW), Ok(true));
        assert_eq!(some.page_to_read(size(4), RECORDS_WINDOW), Ok(false));
        assert_eq!(some.page_to_read(size(200), RECORDS_WINDOW), Ok(false));
        let many = Counted::of(RECORDS_WINDOW + 1, RECORDS_WINDOW);
        assert_eq!(
            many,
            Counted {
                total: RECORDS_WINDOW,
                exact: false
            }
        );
        assert_eq!(many.page_to_read(size(100), RECORDS_WINDOW), Ok(true));
        assert_eq!(
            many.page_to_read(size(101), RECORDS_WINDOW),
            Err(BeyondWindow)
        );
        assert_eq!(ApiError::from(BeyondWindow).code(), 40011);
        let exactly = Counted::of(RECORDS_WINDOW, RECORDS_WINDOW);
        assert!(exactly.exact);
        assert_eq!(exactly.page_to_read(size(101), RECORDS_WINDOW), Ok(false));
    }

    #[test]
    fn sort_fields_come_from_an_allow_list() {
        let allowed = ["syncTime", "status"];
        assert_eq!(
            parse_sort(None, None, &allowed, "syncTime").unwrap(),
            ("syncTime", SortOrder::Desc)
        );
        assert_eq!(
            parse_sort(Some("status"), Some("asc"), &allowed, "syncTime").unwrap(),
            ("status", SortOrder::Asc)
        );
        let message = |r: Result<_, ApiError>| r.unwrap_err().to_string();
        assert_eq!(
            message(parse_sort(Some("id; drop"), None, &allowed, "syncTime")),
            "sort 取值无效：id; drop；可选值：syncTime、status"
        );
        assert_eq!(
            message(parse_sort(None, Some("DESC"), &allowed, "syncTime")),
            "order 取值无效：DESC；可选值：asc、desc"
        );
    }
}
