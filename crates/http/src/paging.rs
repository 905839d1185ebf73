//! Paging and sorting: `page` (1-based, default 1), `size` (default 10, at most 100; larger is
//! 400), `sort` from an allow-list, `order` `asc`|`desc`; the page payload
//! `{records, total, size, current, pages}`.

use serde::{Deserialize, Serialize};

use crate::ApiError;

pub const DEFAULT_SIZE: i64 = 10;
pub const MAX_SIZE: i64 = 100;

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Asc,
    Desc,
}

/// The raw paging parameters of a list request.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct PageQuery {
    pub page: Option<i64>,
    pub size: Option<i64>,
}

/// Validated paging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub page: i64,
    pub size: i64,
}

impl Paging {
    pub fn from_query(page: Option<i64>, size: Option<i64>) -> Result<Self, ApiError> {
        let page = page.unwrap_or(1);
        let size = size.unwrap_or(DEFAULT_SIZE);
        if page < 1 {
            return Err(ApiError::bad_request("page 必须从 1 开始"));
        }
        if !(1..=MAX_SIZE).contains(&size) {
            return Err(ApiError::bad_request(format!(
                "size 必须在 1 到 {MAX_SIZE} 之间"
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
                "不支持的排序字段 `{s}`，可选：{}",
                allowed.join(", ")
            ))
        })?,
    };
    let order = match order.map(str::trim).filter(|s| !s.is_empty()) {
        None => SortOrder::Desc,
        Some(o) if o.eq_ignore_ascii_case("desc") => SortOrder::Desc,
        Some(o) if o.eq_ignore_ascii_case("asc") => SortOrder::Asc,
        Some(o) => {
            return Err(ApiError::bad_request(format!(
                "order 只能是 asc 或 desc，而不是 `{o}`"
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
        assert_eq!(Paging::from_query(Some(3), Some(20)).unwrap().offset(), 40);
        let p: Page<u8> = Page::new(vec![], 21, Paging { page: 1, size: 10 });
        assert_eq!(p.pages, 3);
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
        assert!(parse_sort(Some("id; drop"), None, &allowed, "syncTime").is_err());
        assert!(parse_sort(None, Some("up"), &allowed, "syncTime").is_err());
    }
}
