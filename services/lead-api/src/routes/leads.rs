//! `GET /leads` (design 2.5) over buyer-leads: one record per buyer. `orderId`, `orderTime`,
//! `amount` and `productInfo` describe the buyer's latest order; `orderCount`, `totalAmount`
//! (paid and kept), `lastOrderTime`, `score`, `scoreReasons` and `contactValidity` the buyer.
//! `intentionTags` accepts `a&intentionTags=b`, `a,b` and `["a","b"]`; a lead matches when it carries every
//! tag asked for. `contactInfo` with a full 11-digit mobile finds that buyer exactly through the
//! keyed blind index of their phone; otherwise it matches the visible digits of masked contacts.
//! Page numbers reach the first 2,000 leads of any filter (40008 beyond; the page holding the
//! 2,000th lead ends with it, whatever the size); `total` counts up to
//! 2,000 exactly and then reads "at least 2,000" with `totalExact` false.

use actix_web::{HttpRequest, HttpResponse, web};
use leadgen_crypto::BlindIndexer;
use leadgen_domain::buyer::IdentityKey;
use leadgen_domain::{IntentionTag, LeadProcessStatus, TenantId};
use leadgen_http::paging::{Paging, SortOrder, parse_sort};
use leadgen_http::{ApiError, Authorized, BoundedPage, needs};

use crate::repo::leads::{LeadFilter, PhoneSearch, SORT_FIELDS};
use crate::service;
use crate::service::view::LeadView;
use crate::startup::AppState;

/// Buyer-leads (design 2.5): one record per buyer.
#[utoipa::path(get, path = "/leads", tag = "leads", operation_id = "listLeads",
    params(
        ("platformId" = Option<i64>, Query, description = "买家最近一笔订单的店铺"),
        ("orderTimeStart" = Option<String>, Query, pattern = r"^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$|^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$", description = "按买家最近一笔订单的时间（即列表的 orderTime）筛选：买家此后又下单，就不再落在更早的时间段里。带时区的 ISO 8601，如 2026-11-01T00:00:00+08:00（秒可省略；时区写 Z、+08:00、+0800 或 +08），含两端（结束时间写到整分或整秒时含该分或该秒内的全部记录）；orderTimeStart 晚于 orderTimeEnd 为 400"),
        ("orderTimeEnd" = Option<String>, Query, pattern = r"^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$|^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$", description = "按买家最近一笔订单的时间（即列表的 orderTime）筛选：买家此后又下单，就不再落在更早的时间段里。带时区的 ISO 8601，如 2026-11-01T00:00:00+08:00（秒可省略；时区写 Z、+08:00、+0800 或 +08），含两端（结束时间写到整分或整秒时含该分或该秒内的全部记录）；orderTimeStart 晚于 orderTimeEnd 为 400"),
        ("contactInfo" = Option<String>, Query, description = "脱敏号码中可见的数字；完整手机号按盲索引精确查找（计入每日查看号码次数，记入操作日志）"),
        ("processStatus" = Option<String>, Query, pattern = r"^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(PENDING|PROCESSED|INVALID)?[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$", description = "PENDING, PROCESSED, INVALID"),
        ("intentionTags" = Option<Vec<crate::openapi::IntentionTagSchema>>, Query, style = Form, explode, description = "重复此参数（intentionTags=复购&intentionTags=沉睡）、逗号分隔，或写成 JSON 数组（[\"复购\",\"沉睡\"]，须 URL 编码）；每个标签都须命中。可选值：高意向、中意向、低意向、购买过、复购、未支付、退款售后、高价值、即将复购、沉睡（其他值为 400）"),
        ("intentionTags[]" = Option<Vec<crate::openapi::IntentionTagSchema>>, Query, style = Form, explode, description = "intentionTags 的别名：qs、axios 等序列化数组的写法（intentionTags[]=复购&intentionTags[]=沉睡），与 intentionTags 同义，可同时使用"),
        ("page" = Option<i64>, Query, minimum = 1, maximum = 2147483647, description = "从 1 开始，默认 1；(page − 1) × size 达到 2000 且匹配超过 2000 条时为 40008（最后一页截至第 2000 条）"),
        ("size" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1–100，默认 10"),
        ("sort" = Option<String>, Query, pattern = r"^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(orderTime|createTime|score|amount|totalAmount|lastOrderTime)?[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$", description = "orderTime, createTime, score, amount, totalAmount, lastOrderTime"),
        ("order" = Option<String>, Query, pattern = r"^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(asc|desc)?[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$", description = "asc, desc"),
    ),
    security(("bearer" = ["lead:order:view"])),
    responses(
        (status = 200, description = "线索列表", body = leadgen_http::openapi::Envelope<leadgen_http::openapi::BoundedPageOf<LeadView>>),
        (status = 400, description = "参数错误（含业务码 40008：页码超出前 2000 条的浏览范围）", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 401, description = "缺少或无效的令牌", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 403, description = "没有权限", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 429, description = "按完整手机号搜索超出每日限额（业务码 42901/42902，与查看号码共用；42905：同一掩码下搜索的不同号码过多），或本企业请求过于频繁（42907）", body = leadgen_http::openapi::ErrorEnvelope,
            headers(("Retry-After" = u64, description = "多少秒后可重试：到北京时间次日零点"))),
        (status = 500, description = "内部错误", body = leadgen_http::openapi::ErrorEnvelope)
    ))]
pub async fn list(
    user: Authorized<needs::View>,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let ListQuery {
        filter,
        sort,
        paging,
    } = parse_query(req.query_string(), &state.indexer, user.tenant_id)?;
    let page = service::list::page(&state, &user, &filter, sort, paging).await?;
    let records = page.rows.into_iter().map(LeadView::from).collect();
    Ok(leadgen_http::ok(BoundedPage::new(
        records, page.total, page.exact, paging,
    )))
}

/// A parsed `GET /leads` query.
#[derive(Debug)]
pub struct ListQuery {
    pub filter: LeadFilter,
    pub sort: (&'static str, SortOrder),
    pub paging: Paging,
}

/// The tags of one `intentionTags` value: comma-separated, or a JSON array of strings as the
/// design document writes its example (`["高意向"]`, URL-encoded).
fn tag_list(value: &str) -> Result<Vec<String>, ApiError> {
    let value = value.trim();
    if value.starts_with('[') && value.ends_with(']') {
        return serde_json::from_str::<Vec<String>>(value)
            .map(|tags| tags.into_iter().map(|t| t.trim().to_owned()).collect())
            .map_err(|_| {
                ApiError::bad_request(
                    "intentionTags 写成数组时须是字符串的 JSON 数组，如 [\"高意向\",\"复购\"]",
                )
            });
    }
    Ok(value
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect())
}

/// The parameters `GET /leads` takes (`intentionTags[]` is the bracketed form some clients send).
const QUERY_NAMES: &[&str] = &[
    "platformId",
    "orderTimeStart",
    "orderTimeEnd",
    "contactInfo",
    "processStatus",
    "intentionTags",
    "intentionTags[]",
    "page",
    "size",
    "sort",
    "order",
];

/// Parses and checks a `GET /leads` query string (also used by the list benchmark, so that it
/// runs exactly the service's statements bare).
pub fn parse_query(
    query: &str,
    indexer: &BlindIndexer,
    tenant: TenantId,
) -> Result<ListQuery, ApiError> {
    leadgen_http::query::reject_unknown(query, QUERY_NAMES)?;
    leadgen_http::query::reject_repeated(query, &["intentionTags", "intentionTags[]"])?;
    let mut filter = LeadFilter::default();
    let (mut page, mut size, mut sort, mut order) = (None, None, None, None);
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match key.as_ref() {
            "platformId" => {
                filter.platform_id = Some(leadgen_http::query::integer("platformId", value)?)
            }
            "orderTimeStart" => {
                filter.order_time_start =
                    leadgen_http::query::time_param("orderTimeStart", Some(value))?
            }
            "orderTimeEnd" => {
                filter.order_time_end = leadgen_http::query::end_param("orderTimeEnd", Some(value))?
            }
            "contactInfo" => {
                // A full mainland mobile finds the buyer exactly by its keyed blind index;
                // anything else matches the visible digits of masked contacts. Full-width
                // digits (a Chinese input method's) read as the digits they are.
                let value = leadgen_domain::validity::to_half_width(value);
                filter.phone = leadgen_domain::validity::normalize_mainland_mobile(&value)
                    .filter(|_| value.chars().filter(char::is_ascii_digit).count() >= 11)
                    .and_then(|mobile| {
                        let key = IdentityKey::phone(&mobile)?;
                        let national = mobile.trim_start_matches("+86");
                        Some(PhoneSearch {
                            indexes: indexer.all(tenant.get(), &key.material),
                            mask: leadgen_domain::contact::mask_phone(national),
                        })
                    });
                filter.contact_keyword = Some(value);
            }
            "processStatus" => {
                let status: LeadProcessStatus =
                    value
                        .parse()
                        .map_err(|e: leadgen_domain::platform::UnknownVariant| {
                            ApiError::bad_request(e.to_string())
                        })?;
                filter.process_status = Some(status);
            }
            "intentionTags" | "intentionTags[]" => {
                for tag in tag_list(value)? {
                    IntentionTag::parse_label(&tag)
                        .map_err(|e| ApiError::bad_request(e.to_string()))?;
                    filter.tags.push(tag);
                }
            }
            "page" => page = Some(leadgen_http::query::integer("page", value)?),
            "size" => size = Some(leadgen_http::query::integer("size", value)?),
            "sort" => sort = Some(value.to_owned()),
            "order" => order = Some(value.to_owned()),
            // Refused before the loop, or a cache buster (`_t`).
            _ => {}
        }
    }
    if let (Some(start), Some(end)) = (filter.order_time_start, filter.order_time_end)
        && start > end
    {
        return Err(ApiError::bad_request(
            "orderTimeStart 不能晚于 orderTimeEnd",
        ));
    }
    let paging = Paging::from_query(page, size)?;
    let sort = parse_sort(sort.as_deref(), order.as_deref(), SORT_FIELDS, "orderTime")?;
    Ok(ListQuery {
        filter,
        sort,
        paging,
    })
}
