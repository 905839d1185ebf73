//! `open.order.cursor.list` (README §5 and the SDK schema): `queryType` 1 create time (90 days
//! of history) / 2 update time, `beginTime`/`endTime` in ms within 7 days, `pageSize` ≤ 50,
//! `cursor` from `""` until `"nomore"`, `orderViewStatus` 1 全部 … 7 已关闭.
//!
//! [unverified] choices: both time bounds inclusive; `sort` 1 newest first, 2 oldest first;
//! `cpsType` 0 all, 1 ordinary, 2 distribution (CPS) orders; the cursor is Base64 of
//! `{time}_{oid}` of the page's last order (keyset paging, so orders arriving mid-walk do not
//! shift pages); `"nomore"` comes with the last page; `pageSize` defaults to 10.

use std::cmp::Ordering;

use base64_lite::{decode, encode};
use chrono::Duration;
use serde_json::{Value, json};

use super::errors::{KsError, success};
use super::gateway::Call;
use super::orders::KsOrder;
use super::orders_for;
use crate::shop::ShopKey;
use crate::state::SimState;

pub const MAX_PAGE_SIZE: i64 = 50;
pub const DEFAULT_PAGE_SIZE: i64 = 10;
pub const NO_MORE: &str = "nomore";

/// A minimal standard Base64 (the simulator has no Base64 dependency).
mod base64_lite {
    const ALPHABET: &[u8] = crate::douyin::buyers::BASE64;

    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    let index = (n >> (18 - 6 * i)) & 63;
                    out.push(char::from(ALPHABET[index as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    pub fn decode(text: &str) -> Option<Vec<u8>> {
        let text = text.trim_end_matches('=');
        let mut bits = 0u32;
        let mut count = 0;
        let mut out = Vec::new();
        for c in text.bytes() {
            let v = ALPHABET.iter().position(|a| *a == c)? as u32;
            bits = (bits << 6) | v;
            count += 6;
            if count >= 8 {
                count -= 8;
                out.push((bits >> count) as u8);
                bits &= (1 << count) - 1;
            }
        }
        Some(out)
    }
}

/// The cursor after `order` for the sort key `time`.
pub fn cursor_of(time: i64, oid: u64) -> String {
    encode(format!("{time}_{oid}").as_bytes())
}

fn parse_cursor(text: &str) -> Option<(i64, u64)> {
    let raw = String::from_utf8(decode(text)?).ok()?;
    let (time, oid) = raw.split_once('_')?;
    Some((time.parse().ok()?, oid.parse().ok()?))
}

fn int(params: &Value, key: &str) -> Result<Option<i64>, KsError> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| KsError::business(key, "应为整数")),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| KsError::business(key, "应为整数")),
        Some(_) => Err(KsError::business(key, "应为整数")),
    }
}

/// Runs `open.order.cursor.list` on the orders of `shop` (the access token's).
pub fn cursor_list(state: &SimState, call: &Call<'_>, shop: &ShopKey) -> Result<Value, KsError> {
    let p = call.params;
    let query_type = int(p, "queryType")?.unwrap_or(1);
    if !matches!(query_type, 1 | 2) {
        return Err(KsError::business(
            "queryType",
            "只能是1（创建时间）或2（更新时间）",
        ));
    }
    let begin = int(p, "beginTime")?.ok_or_else(|| KsError::business("beginTime", "必填"))?;
    let end = int(p, "endTime")?.ok_or_else(|| KsError::business("endTime", "必填"))?;
    if end < begin {
        return Err(KsError::business("endTime", "不能早于beginTime"));
    }
    if end - begin > Duration::days(7).num_milliseconds() {
        return Err(KsError::business("endTime", "时间跨度不能超过7天"));
    }
    let oldest = (call.now - Duration::days(90)).timestamp_millis();
    if query_type == 1 && begin < oldest {
        return Err(KsError::business(
            "beginTime",
            "只能查询最近90天内创建的订单",
        ));
    }
    let page_size = int(p, "pageSize")?.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
        return Err(KsError::business("pageSize", "取值范围1-50"));
    }
    let view = int(p, "orderViewStatus")?.unwrap_or(1);
    let wanted_status = match view {
        1 => None,
        2 => Some(10),
        3 => Some(30),
        4 => Some(40),
        5 => Some(50),
        6 => Some(70),
        7 => Some(80),
        _ => return Err(KsError::business("orderViewStatus", "取值范围1-7")),
    };
    let newest_first = match int(p, "sort")?.unwrap_or(1) {
        1 => true,
        2 => false,
        _ => return Err(KsError::business("sort", "只能是1或2")),
    };
    let cps = int(p, "cpsType")?.unwrap_or(0);
    if !(0..=2).contains(&cps) {
        return Err(KsError::business("cpsType", "取值范围0-2"));
    }
    let after = match p.get("cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) if c.is_empty() => None,
        Some(Value::String(c)) => {
            Some(parse_cursor(c).ok_or_else(|| KsError::business("cursor", "格式错误"))?)
        }
        Some(_) => return Err(KsError::business("cursor", "应为字符串")),
    };
    let key = |o: &KsOrder| {
        (
            if query_type == 1 {
                o.created_ms
            } else {
                o.updated_ms
            },
            o.oid,
        )
    };
    let order = |a: (i64, u64), b: (i64, u64)| if newest_first { b.cmp(&a) } else { a.cmp(&b) };
    let shop = orders_for(state, shop);
    let mut selected: Vec<&KsOrder> = shop
        .orders
        .iter()
        .filter(|o| {
            let (t, _) = key(o);
            t >= begin
                && t <= end
                && wanted_status.is_none_or(|s| o.status == s)
                && (cps == 0 || o.cps_type == cps)
                && after.is_none_or(|a| order(a, key(o)) == Ordering::Less)
        })
        .collect();
    selected.sort_by(|a, b| order(key(a), key(b)));
    let size = usize::try_from(page_size).unwrap_or(0);
    let page: Vec<&KsOrder> = selected.iter().take(size).copied().collect();
    let cursor = match page.last() {
        Some(last) if selected.len() > size => {
            let (t, oid) = key(last);
            cursor_of(t, oid)
        }
        _ => NO_MORE.to_owned(),
    };
    Ok(success(json!({
        "pageSize": page_size,
        "beginTime": begin,
        "endTime": end,
        "cursor": cursor,
        "orderList": page.iter().map(|o| o.json.clone()).collect::<Vec<_>>(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_base64_of_time_and_oid() {
        // The public vector's cursor.
        assert_eq!(
            cursor_of(1716171330000, 2412345678901234),
            "MTcxNjE3MTMzMDAwMF8yNDEyMzQ1Njc4OTAxMjM0"
        );
        assert_eq!(
            parse_cursor("MTcxNjE3MTMzMDAwMF8yNDEyMzQ1Njc4OTAxMjM0"),
            Some((1716171330000, 2412345678901234))
        );
        assert_eq!(encode(b"ab"), "YWI=");
        assert_eq!(decode("YWI=").unwrap(), b"ab");
        assert_eq!(parse_cursor("!!"), None);
        assert_eq!(parse_cursor("bm9tb3Jl"), None);
    }
}
