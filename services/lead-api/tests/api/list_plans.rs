//! The list's statements (`lead_api::repo::list`) answer the same question: on a few
//! thousand leads with every tag combination, tags correlated with time, ties in every sort,
//! two shops, merged leads and another tenant, the plain statement, the per-tag-combination
//! merge, the fenced statement (a contact keyword split by the mask's prefix) and the
//! head-of-the-order probe find exactly the ids that the filter and sort select when computed
//! here in Rust from the rows, for every sort, direction and depth (a probe too short for the answer finds its beginning); and
//! `list` pages and totals are slices of that answer, whichever statement it chose.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use lead_api::repo::leads::{self, LIST_WINDOW, LeadFilter, SORT_FIELDS};
use lead_api::repo::list::{self, merges, months, sql};
use leadgen_db::schema::t_order_lead as lead;
use leadgen_domain::{LeadProcessStatus, TenantId};
use leadgen_http::paging::{Paging, SortOrder};

use crate::helpers::{SeedLead, spawn_app};

const TENANT: i64 = 1;

/// 3,000 buyers of tenant 1 copied from one seeded lead: two shops, three statuses, order times
/// in threes, scores and amounts with many ties, contacts with common and rare digits in every
/// mask's shape (a mobile's with its head, part of it or none, a privacy number's, a
/// landline's, none, a name), tags
/// drawn per buyer (`沉睡` only among the oldest, `即将复购` only among the newest, as in real
/// shops), every 97th merged away; and 300 of another tenant.
async fn seed_many(app: &crate::helpers::TestApp) {
    let (p1, t1) = app.platform(TENANT, "TAOBAO").await;
    let (p2, _) = app.platform(TENANT, "JD").await;
    let (other_shop, _) = app.platform(2, "TAOBAO").await;
    let first = app
        .lead(
            t1,
            "TAOBAO",
            SeedLead::new(TENANT, p1, "O-0", "2026-01-01T00:00:00Z"),
        )
        .await;
    let mut conn = app.conn().await;
    diesel::sql_query(format!(
        "INSERT INTO t_order_lead (tenant_id, platform_id, platform_type, order_id, raw_order_id, \
           processed_order_id, contact_info, contact_masked, contact_kind, product_info, amount_fen, \
           order_time, intention_tags, score, process_status, order_count, paid_order_count, \
           paid_total_fen, last_order_time, aggregate, intention, score_reasons, model_version, \
           scored_by, contact_validity, contact_validity_reason, create_time, merged_into) \
         SELECT CASE WHEN g > 3000 THEN 2 ELSE tenant_id END, \
           CASE WHEN g > 3000 THEN {other_shop} WHEN g % 3 = 0 THEN {p2} ELSE {p1} END, \
           platform_type, 'copy-' || g, \
           raw_order_id, processed_order_id, contact_info, \
           CASE (g / 7) % 10 \
             WHEN 1 THEN '*******' || lpad(((g * 104729) % 10000)::text, 4, '0') \
             WHEN 2 THEN lpad(((g * 7919) % 1000)::text, 3, '1') || '****' \
               || lpad(((g * 104729) % 10000)::text, 4, '0') || '-' || (g % 1000) \
             WHEN 3 THEN '****' || lpad(((g * 104729) % 10000)::text, 4, '0') \
             WHEN 4 THEN '******' \
             WHEN 5 THEN '欧***' \
             WHEN 6 THEN left(lpad(((g * 7919) % 1000)::text, 3, '1'), 2) || '*****' \
               || lpad(((g * 104729) % 10000)::text, 4, '0') \
             ELSE lpad(((g * 7919) % 1000)::text, 3, '1') || '****' \
               || lpad(((g * 104729) % 10000)::text, 4, '0') END, \
           contact_kind, product_info, (g * 37) % 50 * 1000, \
           order_time - make_interval(hours => (g / 3) * 5), \
           array_remove(ARRAY[ \
             (ARRAY['高意向','中意向','低意向'])[1 + (g * 31) % 3], \
             CASE WHEN g % 7 <> 0 THEN '购买过' END, \
             CASE WHEN (g * 13) % 4 = 0 THEN '复购' END, \
             CASE WHEN (g * 17) % 11 = 0 THEN '未支付' END, \
             CASE WHEN (g * 19) % 13 = 0 THEN '退款售后' END, \
             CASE WHEN (g * 23) % 9 = 0 THEN '高价值' END, \
             CASE WHEN g < 300 AND g % 5 = 0 THEN '即将复购' END, \
             CASE WHEN g > 2000 AND g % 4 <> 1 THEN '沉睡' END], NULL), \
           (g * 11) % 101, (ARRAY['PENDING','PENDING','PENDING','PROCESSED','INVALID'])[1 + g % 5], \
           order_count, paid_order_count, (g * 53) % 40 * 500, \
           order_time - make_interval(hours => (g / 3) * 5 + (g * 7) % 51 - 2), \
           aggregate, intention, score_reasons, model_version, scored_by, contact_validity, \
           contact_validity_reason, create_time - make_interval(mins => (g * 97) % 100000), \
           CASE WHEN g % 97 = 0 THEN {first} END \
         FROM t_order_lead, generate_series(1, 3300) AS g WHERE id = {first}"
    ))
    .execute(&mut *conn)
    .await
    .expect("copy leads");
    diesel::sql_query("ANALYZE t_order_lead")
        .execute(&mut *conn)
        .await
        .expect("analyze");
}

fn filters() -> Vec<(&'static str, LeadFilter)> {
    let tags = |t: &[&str]| t.iter().map(|s| (*s).to_owned()).collect();
    vec![
        ("none", LeadFilter::default()),
        (
            "dormant",
            LeadFilter {
                tags: tags(&["沉睡"]),
                ..LeadFilter::default()
            },
        ),
        (
            "repeat and dormant",
            LeadFilter {
                tags: tags(&["复购", "沉睡"]),
                ..LeadFilter::default()
            },
        ),
        (
            "due and PENDING",
            LeadFilter {
                tags: tags(&["即将复购"]),
                process_status: Some(leadgen_domain::LeadProcessStatus::Pending),
                ..LeadFilter::default()
            },
        ),
        (
            "high value with a keyword",
            LeadFilter {
                tags: tags(&["高价值"]),
                contact_keyword: Some("12".into()),
                ..LeadFilter::default()
            },
        ),
        (
            "one shop",
            LeadFilter {
                platform_id: Some(0),
                ..LeadFilter::default()
            },
        ),
        (
            "due (2 %)",
            LeadFilter {
                tags: tags(&["即将复购"]),
                ..LeadFilter::default()
            },
        ),
        (
            "a rare keyword",
            LeadFilter {
                contact_keyword: Some("123".into()),
                ..LeadFilter::default()
            },
        ),
        (
            "a keyword every contact has",
            LeadFilter {
                contact_keyword: Some("***".into()),
                ..LeadFilter::default()
            },
        ),
        (
            // `100****6100`: at the start and in the tail of the same mask, found once.
            "a keyword at the start of masks, in their tail, and both",
            LeadFilter {
                contact_keyword: Some("100".into()),
                ..LeadFilter::default()
            },
        ),
        (
            "a keyword across the mask's stars",
            LeadFilter {
                contact_keyword: Some("3****".into()),
                ..LeadFilter::default()
            },
        ),
        (
            "a keyword reaching two tail digits",
            LeadFilter {
                contact_keyword: Some("*61".into()),
                ..LeadFilter::default()
            },
        ),
        (
            "a keyword in a mask's head and stars",
            LeadFilter {
                contact_keyword: Some("00*".into()),
                ..LeadFilter::default()
            },
        ),
        (
            // Found through the heads `?13`, never `?31`.
            "a keyword from a mobile mask's second character into its stars",
            LeadFilter {
                contact_keyword: Some("13*".into()),
                ..LeadFilter::default()
            },
        ),
        (
            "a tail of four digits",
            LeadFilter {
                contact_keyword: Some("6100".into()),
                ..LeadFilter::default()
            },
        ),
        (
            // Twenty masks end in `61xx` with another head: the tail alone does not decide.
            "a keyword that sets a mobile mask's head and tail",
            LeadFilter {
                contact_keyword: Some("00****61".into()),
                ..LeadFilter::default()
            },
        ),
        (
            "a keyword over a mobile mask's starred head",
            LeadFilter {
                contact_keyword: Some("*****61".into()),
                ..LeadFilter::default()
            },
        ),
        (
            "a keyword more tails could hold than are looked up",
            LeadFilter {
                contact_keyword: Some("**5".into()),
                ..LeadFilter::default()
            },
        ),
        (
            "a privacy number's extension",
            LeadFilter {
                contact_keyword: Some("-12".into()),
                ..LeadFilter::default()
            },
        ),
        (
            "a name",
            LeadFilter {
                contact_keyword: Some("欧**".into()),
                ..LeadFilter::default()
            },
        ),
        (
            "a keyword with LIKE's wildcards, taken literally",
            LeadFilter {
                contact_keyword: Some("1_1".into()),
                ..LeadFilter::default()
            },
        ),
        (
            "INVALID",
            LeadFilter {
                process_status: Some(leadgen_domain::LeadProcessStatus::Invalid),
                ..LeadFilter::default()
            },
        ),
        (
            "a keyword",
            LeadFilter {
                contact_keyword: Some("5".into()),
                ..LeadFilter::default()
            },
        ),
        (
            "an order-time range with a tag",
            LeadFilter {
                order_time_start: Some("2025-08-01T00:00:00Z".parse().expect("time")),
                order_time_end: Some("2025-11-01T00:00:00Z".parse().expect("time")),
                tags: tags(&["购买过"]),
                ..LeadFilter::default()
            },
        ),
        (
            // Leads at 18:00 and 23:00 UTC on October 31st are in November in Beijing: the
            // months are the index's, in UTC.
            "a range ending late on a month's last day",
            LeadFilter {
                order_time_start: Some("2025-09-15T00:00:00Z".parse().expect("time")),
                order_time_end: Some("2025-10-31T23:30:00Z".parse().expect("time")),
                ..LeadFilter::default()
            },
        ),
        (
            "a shop, a status, a time range and a short keyword",
            LeadFilter {
                platform_id: Some(0),
                process_status: Some(leadgen_domain::LeadProcessStatus::Pending),
                order_time_start: Some("2025-08-01T00:00:00Z".parse().expect("time")),
                contact_keyword: Some("1".into()),
                ..LeadFilter::default()
            },
        ),
        (
            "PROCESSED in a time range",
            LeadFilter {
                process_status: Some(leadgen_domain::LeadProcessStatus::Processed),
                order_time_end: Some("2025-11-01T00:00:00Z".parse().expect("time")),
                ..LeadFilter::default()
            },
        ),
        (
            // Lead 918 of the copies (PROCESSED) was last ordered two hours after its order
            // time, the tenant's most negative lag: the implied range must reach past the end.
            "PROCESSED up to a lead ordered again after its latest payment",
            LeadFilter {
                process_status: Some(leadgen_domain::LeadProcessStatus::Processed),
                order_time_end: Some("2025-10-29T06:00:00Z".parse().expect("time")),
                ..LeadFilter::default()
            },
        ),
        (
            "a tag that does not exist",
            LeadFilter {
                tags: tags(&["不存在"]),
                ..LeadFilter::default()
            },
        ),
    ]
}

/// Which question of a keyword finds mask `m` (which contains `k`), from the shapes, without
/// SQL (`repo/list/keyword.rs`): 0 the prefix; in a mobile's mask, 1 its tail, 2 its head and
/// stars from the second character; 3 any other mask.
fn keyword_branch(m: &str, k: &str) -> usize {
    let c: Vec<char> = m.chars().collect();
    let mobile = c.len() == 11
        && c[..3].iter().all(|c| c.is_ascii_digit() || *c == '*')
        && c[3..7].iter().all(|c| *c == '*')
        && c[7..].iter().all(char::is_ascii_digit);
    let head_and_stars: String = c.iter().skip(1).take(6).collect();
    if m.starts_with(k) {
        0
    } else if mobile && !head_and_stars.contains(k) {
        1
    } else if mobile {
        2
    } else {
        3
    }
}

/// The columns the filters and sorts read, of every lead in the database.
#[derive(Queryable)]
struct Row {
    id: i64,
    tenant_id: i64,
    platform_id: i64,
    order_time: DateTime<Utc>,
    create_time: DateTime<Utc>,
    score: i16,
    amount_fen: i64,
    paid_total_fen: i64,
    last_order_time: DateTime<Utc>,
    process_status: String,
    intention_tags: Vec<String>,
    contact_masked: String,
    merged_into: Option<i64>,
}

/// The tag combinations tenant 1's unmerged leads hold that contain every asked tag, from the
/// rows without SQL, ascending.
fn present_combinations(rows: &[Row], filter: &LeadFilter) -> Vec<i32> {
    let bits = |tags: &[String]| {
        tags.iter()
            .filter_map(|t| leadgen_domain::IntentionTag::from_label(t))
            .fold(0, |acc, tag| acc | tag.bit())
    };
    let mask = bits(&filter.tags);
    let mut present: Vec<i32> = rows
        .iter()
        .filter(|r| r.tenant_id == TENANT && r.merged_into.is_none())
        .map(|r| bits(&r.intention_tags))
        .filter(|b| b & mask == mask)
        .collect();
    present.sort_unstable();
    present.dedup();
    present
}

/// The (status, shop) pairs whose ranges hold `filter`'s leads, from the rows without SQL.
fn status_shop_pairs(rows: &[Row], filter: &LeadFilter) -> Vec<(LeadProcessStatus, i64)> {
    let mut pairs: Vec<(LeadProcessStatus, i64)> = rows
        .iter()
        .filter(|r| r.tenant_id == TENANT && r.merged_into.is_none())
        .map(|r| (r.process_status.parse().expect("status"), r.platform_id))
        .filter(|(status, shop)| {
            filter.process_status.is_none_or(|s| s == *status)
                && filter.platform_id.is_none_or(|p| p == *shop)
        })
        .collect();
    pairs.sort_by_key(|(status, shop)| (status.as_str(), *shop));
    pairs.dedup();
    pairs
}

/// What the list must show: tenant 1's unmerged leads that pass `filter`, in the sort's order
/// with `id` breaking ties, computed from the rows without SQL.
fn expected(rows: &[Row], filter: &LeadFilter, sort: (&str, SortOrder)) -> Vec<i64> {
    let mut kept: Vec<&Row> = rows
        .iter()
        .filter(|r| r.tenant_id == TENANT && r.merged_into.is_none())
        .filter(|r| filter.platform_id.is_none_or(|p| r.platform_id == p))
        .filter(|r| filter.order_time_start.is_none_or(|t| r.order_time >= t))
        .filter(|r| filter.order_time_end.is_none_or(|t| r.order_time <= t))
        .filter(|r| {
            filter
                .contact_keyword
                .as_ref()
                .is_none_or(|k| r.contact_masked.contains(k.as_str()))
        })
        .filter(|r| {
            filter
                .process_status
                .as_ref()
                .is_none_or(|s| r.process_status == s.as_str())
        })
        .filter(|r| filter.tags.iter().all(|t| r.intention_tags.contains(t)))
        .collect();
    let key = |r: &Row| -> i64 {
        match sort.0 {
            "createTime" => r.create_time.timestamp_micros(),
            "score" => i64::from(r.score),
            "amount" => r.amount_fen,
            "totalAmount" => r.paid_total_fen,
            "lastOrderTime" => r.last_order_time.timestamp_micros(),
            _ => r.order_time.timestamp_micros(),
        }
    };
    kept.sort_by_key(|r| (key(r), r.id));
    if sort.1 == SortOrder::Desc {
        kept.reverse();
    }
    kept.iter().map(|r| r.id).collect()
}

#[tokio::test]
async fn every_statement_of_the_list_finds_what_the_filter_and_sort_select() {
    let app = spawn_app().await;
    seed_many(&app).await;
    let mut conn = app.conn().await;
    let rows: Vec<Row> = lead::table
        .select((
            lead::id,
            lead::tenant_id,
            lead::platform_id,
            lead::order_time,
            lead::create_time,
            lead::score,
            lead::amount_fen,
            lead::paid_total_fen,
            lead::last_order_time,
            lead::process_status,
            lead::intention_tags,
            lead::contact_masked,
            lead::merged_into,
        ))
        .load(&mut *conn)
        .await
        .expect("rows");
    let second_shop = rows
        .iter()
        .filter(|r| r.tenant_id == TENANT)
        .map(|r| r.platform_id)
        .max()
        .expect("a shop");
    let stats = leads::ListStats::default();
    // Tenant 1 holds 3,000 of 3,300 leads: dominant, from the statistics ANALYZE gathered.
    let share = stats
        .tenant_share(&mut conn, TenantId::new(TENANT))
        .await
        .expect("share");
    assert!(share >= list::DOMINANT_TENANT_SHARE, "{share}");
    assert_eq!(
        stats
            .tenant_share(&mut conn, TenantId::new(999))
            .await
            .expect("share"),
        0.0
    );
    let (mut merged_checks, mut status_shop_checks, mut bounded_checks) = (0, 0, 0);
    let mut month_checks = 0;
    let (mut probes, mut short_probes) = (0, 0);
    // Which of a keyword's questions found a lead, over all the keywords.
    let mut branches_found = [false; 4];
    for (name, mut filter) in filters() {
        if filter.platform_id.is_some() {
            filter.platform_id = Some(second_shop);
        }
        for field in SORT_FIELDS {
            for order in [SortOrder::Desc, SortOrder::Asc] {
                let sort = (*field, order);
                let everything = expected(&rows, &filter, sort);
                // Every keyword finds something; but `1_1`, which would find `101` were its `_`
                // a wildcard.
                if let Some(k) = &filter.contact_keyword {
                    assert_eq!(everything.is_empty(), k.contains('_'), "{name}");
                    let split = sql::trigram_keyword(k);
                    for r in rows
                        .iter()
                        .filter(|r| split && r.contact_masked.contains(k.as_str()))
                    {
                        branches_found[keyword_branch(&r.contact_masked, k)] = true;
                    }
                }
                for need in [10, 100, 1_000, LIST_WINDOW + 1] {
                    let reference = &everything[..everything.len().min(need as usize)];
                    let plain = list::load_ids(&mut conn, &sql::plain(TENANT, &filter, sort, need))
                        .await
                        .expect("plain");
                    assert_eq!(plain, reference, "plain: {name}, {field} {order:?}, {need}");
                    if *field == "lastOrderTime" {
                        // The last-order range the time range and the tags imply (the seeded
                        // lags run from -2 to +48 hours) loses no lead.
                        let bounded = list::bounds::implied_last_order(
                            &mut conn,
                            TENANT.into(),
                            &filter,
                            order,
                        )
                        .await
                        .expect("lags");
                        let ranged =
                            filter.order_time_start.is_some() || filter.order_time_end.is_some();
                        if ranged || sql::asked_tags(&filter).is_some() {
                            assert!(bounded.implied_last_order.is_some(), "{name}");
                        }
                        let ids =
                            list::load_ids(&mut conn, &sql::plain(TENANT, &bounded, sort, need))
                                .await
                                .expect("bounded");
                        assert_eq!(ids, reference, "bounded: {name}, {order:?}, {need}");
                        // The dominant tenant's form (its condition written as int4).
                        let dominant = sql::Scope {
                            tenant: TENANT,
                            dominant: true,
                        };
                        let same =
                            list::bounds::implied_last_order(&mut conn, dominant, &filter, order)
                                .await
                                .expect("lags, dominant");
                        assert_eq!(
                            same.implied_last_order, bounded.implied_last_order,
                            "dominant bounds: {name}, {order:?}"
                        );
                        bounded_checks += usize::from(bounded.implied_last_order.is_some());
                    }
                    if let Some(parts) = months::parts(&filter, sort, chrono::Utc::now()) {
                        let ids = list::load_ids(
                            &mut conn,
                            &months::merged_months(TENANT, &filter, sort, need, &parts),
                        )
                        .await
                        .expect("months");
                        assert_eq!(ids, reference, "months: {name}, {order:?}, {need}");
                        month_checks += 1;
                    }
                    if sql::per_combination(&filter, sort) {
                        // The route's choice, and both forms over the combinations present.
                        let chosen =
                            list::merged_tags(&mut conn, TENANT.into(), &filter, sort, need)
                                .await
                                .expect("present combinations");
                        let present = present_combinations(&rows, &filter);
                        for statement in [
                            chosen,
                            merges::merged_combinations(TENANT, &filter, sort, need, &present),
                            merges::per_tag_combination(TENANT, &filter, sort, need, &present),
                        ] {
                            let merged = list::load_ids(&mut conn, &statement)
                                .await
                                .expect("per combination");
                            assert_eq!(merged, reference, "{name}, {field} {order:?}, {need}");
                        }
                        merged_checks += 1;
                    }
                    if merges::per_status_and_shop(&filter, sort) {
                        let pairs = status_shop_pairs(&rows, &filter);
                        let merged = list::load_ids(
                            &mut conn,
                            &merges::merged_status_shops(TENANT, &filter, sort, need, &pairs),
                        )
                        .await
                        .expect("per status and shop");
                        assert_eq!(
                            merged, reference,
                            "status and shop: {name}, {field} {order:?}, {need}"
                        );
                        status_shop_checks += 1;
                    }
                    let fenced =
                        list::load_ids(&mut conn, &sql::fenced(TENANT, &filter, sort, need))
                            .await
                            .expect("fenced");
                    assert_eq!(
                        fenced, reference,
                        "fenced: {name}, {field} {order:?}, {need}"
                    );
                    // A dominant tenant's statements (its condition written as int4).
                    let dominant = sql::Scope {
                        tenant: TENANT,
                        dominant: true,
                    };
                    for statement in [
                        sql::plain(dominant, &filter, sort, need),
                        sql::fenced(dominant, &filter, sort, need),
                    ] {
                        let ids = list::load_ids(&mut conn, &statement)
                            .await
                            .expect("dominant");
                        assert_eq!(
                            ids, reference,
                            "dominant: {name}, {field} {order:?}, {need}"
                        );
                    }
                    // A probe of the whole tenant is the answer; a short one its beginning.
                    for entries in [need, 4_000] {
                        let probe = sql::probe(TENANT, &filter, sort, need, entries);
                        let probed = list::load_ids(&mut conn, &probe).await.expect("probe");
                        let expected = if entries >= 4_000 {
                            reference
                        } else {
                            &reference[..probed.len().min(reference.len())]
                        };
                        assert_eq!(
                            probed, expected,
                            "probe {entries}: {name}, {field} {order:?}"
                        );
                        probes += 1;
                        short_probes += usize::from(
                            entries < 4_000 && probed.len() < reference.len() && !probed.is_empty(),
                        );
                    }
                }
                for (page, size) in [(1, 10), (3, 100), (20, 100)] {
                    let paging = Paging { page, size };
                    let got = leads::list(
                        &mut conn,
                        &stats,
                        TenantId::new(TENANT),
                        &filter,
                        sort,
                        paging,
                    )
                    .await
                    .expect("list");
                    let ids: Vec<i64> = got.rows.iter().map(|r| r.id.get()).collect();
                    let start = (paging.offset() as usize).min(everything.len());
                    let end = (start + size as usize).min(everything.len());
                    assert_eq!(
                        ids,
                        everything[start..end],
                        "list: {name}, {field} {order:?}"
                    );
                    let matched = everything.len() as i64;
                    assert_eq!(got.total, matched.min(LIST_WINDOW), "{name}");
                    assert_eq!(got.exact, matched <= LIST_WINDOW, "{name}");
                }
            }
        }
    }
    // The merge was exercised (tag filters in order-time order, both directions).
    assert_eq!(
        branches_found, [true; 4],
        "prefix, mobile tail, mobile head, other masks"
    );
    assert!(merged_checks >= 40, "{merged_checks}");
    // Shops and statuses in order-time order (four filters, both directions, four depths).
    assert!(status_shop_checks >= 32, "{status_shop_checks}");
    // Time ranges with a start in creation and score order (three filters, both directions,
    // four depths).
    assert!(month_checks >= 48, "{month_checks}");
    // Time ranges and tags by last order (both directions, four depths).
    assert!(bounded_checks >= 64, "{bounded_checks}");
    // Probes that stopped short of the answer, with matches, were among them.
    assert!(
        probes > 0 && short_probes >= 20,
        "{probes} probes, {short_probes} short"
    );
    // The keyword's branches reach their partial indexes: the statements write the masks'
    // shape as the migration does (sequential scans off, as on a table this small they win).
    diesel::sql_query("SET enable_seqscan = off")
        .execute(&mut *conn)
        .await
        .expect("set");
    let keyword = LeadFilter {
        contact_keyword: Some("100".into()),
        ..LeadFilter::default()
    };
    let deep = Paging {
        page: 20,
        size: 100,
    };
    let plan = leads::explain(
        &mut conn,
        &stats,
        TenantId::new(TENANT),
        &keyword,
        ("orderTime", SortOrder::Desc),
        deep,
    )
    .await
    .expect("explain");
    for index in [
        "ix_lead_list_contact_prefix",
        "ix_lead_list_contact_tail",
        "ix_lead_list_contact_other",
    ] {
        assert!(plan.contains(index), "{index}: {plan}");
    }
}

/// The statistics the list chooses its statements by are read by a background task, not by a
/// request: a change that ANALYZE records reaches the list while the snapshot it holds is still
/// fresh, which only the task's read can explain.
#[tokio::test]
async fn the_list_statistics_are_read_again_in_the_background() {
    let app = spawn_app().await;
    seed_many(&app).await;
    let stats = std::sync::Arc::new(leads::ListStats::default());
    let stop = tokio_util::sync::CancellationToken::new();
    let refresher = tokio::spawn(std::sync::Arc::clone(&stats).keep_fresh(
        app.db.pool.clone(),
        std::time::Duration::from_millis(50),
        stop.clone(),
    ));
    let mut conn = app.conn().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while stats.age().is_none() {
        assert!(std::time::Instant::now() < deadline, "never read");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    async fn share(
        stats: &leads::ListStats,
        conn: &mut diesel_async::AsyncPgConnection,
        tenant: i64,
    ) -> f64 {
        stats
            .tenant_share(conn, TenantId::new(tenant))
            .await
            .expect("share")
    }
    assert!(share(&stats, &mut conn, TENANT).await >= list::DOMINANT_TENANT_SHARE);
    assert_eq!(share(&stats, &mut conn, 3).await, 0.0);
    diesel::sql_query("UPDATE t_order_lead SET tenant_id = 3 WHERE tenant_id = 1")
        .execute(&mut *app.conn().await)
        .await
        .expect("move the leads");
    diesel::sql_query("ANALYZE t_order_lead")
        .execute(&mut *app.conn().await)
        .await
        .expect("analyze");
    loop {
        if share(&stats, &mut conn, 3).await >= list::DOMINANT_TENANT_SHARE {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the new statistics never reached the list"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(stats.age().expect("read") < std::time::Duration::from_secs(10));
    stop.cancel();
    refresher.await.expect("the refresher stops");
}
