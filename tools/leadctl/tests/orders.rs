//! `leadctl orders show`, `orders set-aside`, `leads rebuild --lead` and the set-aside column of
//! `syncs list` against the real PostgreSQL, as support answers a merchant's "my order is not
//! among my leads": where the order stands, why it stopped, and one buyer rebuilt.

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

mod support;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable};
use diesel_async::RunQueryDsl;
use leadgen_db::schema::t_ecom_order_raw as raw;
use leadgen_test_support::TestDb;
use support::leadctl;

/// A raw order of `shop` stored by `task`; its id.
async fn stored(
    db: &TestDb,
    (shop, task): (i64, i64),
    order_id: &str,
    status: &str,
    normalized: bool,
    parse_error: Option<&str>,
) -> i64 {
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    diesel::insert_into(raw::table)
        .values((
            raw::tenant_id.eq(1),
            raw::platform_id.eq(shop),
            raw::platform_type.eq("JD"),
            raw::order_id.eq(order_id),
            raw::raw_data.eq("sealed-raw"),
            raw::normalized.eq(normalized.then_some("sealed-normalized")),
            raw::parse_error.eq(parse_error),
            raw::content_hash.eq(order_id),
            raw::sync_task_id.eq(task),
            raw::process_status.eq(status),
        ))
        .returning(raw::id)
        .get_result(&mut conn)
        .await
        .expect("insert raw order")
}

#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// The processed order of raw order `raw_id`, filed under `lead` (none yet: `None`); its id.
async fn processed(db: &TestDb, shop: i64, raw_id: i64, lead: Option<i64>) -> i64 {
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let row: Id = diesel::sql_query(
        "INSERT INTO t_ecom_order_processed (tenant_id, platform_id, platform_type, raw_order_id, \
             order_id, user_id, status, platform_status, amount_fen, order_time, product_info, \
             paid_at) \
         SELECT 1, $1, 'JD', id, order_id, $3, 'PAID', 'WAIT_SELLER_STOCK_OUT', 9900, now(), \
                '保温杯', now() FROM t_ecom_order_raw WHERE id = $2 RETURNING id",
    )
    .bind::<BigInt, _>(shop)
    .bind::<BigInt, _>(raw_id)
    .bind::<Nullable<BigInt>, _>(lead)
    .get_result(&mut conn)
    .await
    .expect("insert processed order");
    row.id
}

/// A buyer-lead shown by raw order `raw_id`, with `order_count` orders, merged into `merged_into`
/// when given; its id.
async fn lead(db: &TestDb, shop: i64, raw_id: i64, orders: i32, merged_into: Option<i64>) -> i64 {
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let processed_id = processed(db, shop, raw_id, None).await;
    let row: Id = diesel::sql_query(
        "INSERT INTO t_order_lead (tenant_id, platform_id, platform_type, order_id, raw_order_id, \
             processed_order_id, contact_info, contact_masked, contact_kind, product_info, \
             amount_fen, order_time, intention_tags, score, process_status, order_count, \
             merged_into, paid_order_count, paid_total_fen, last_order_time, aggregate, \
             intention, score_reasons, model_version, scored_by, contact_validity, \
             contact_validity_reason) \
         SELECT 1, $1, 'JD', order_id, id, $3, '', '138****5678', 'PHONE', '保温杯', 9900, now(), \
                '{}', 72, 'PROCESSED', $4, $5, $4, 9900, now(), '{}', 2, '[]', 'test', \
                'BUILTIN', 'VALID', '[]' \
         FROM t_ecom_order_raw WHERE id = $2 RETURNING id",
    )
    .bind::<BigInt, _>(shop)
    .bind::<BigInt, _>(raw_id)
    .bind::<BigInt, _>(processed_id)
    .bind::<diesel::sql_types::Integer, _>(orders)
    .bind::<Nullable<BigInt>, _>(merged_into)
    .get_result(&mut conn)
    .await
    .expect("insert lead");
    diesel::sql_query("UPDATE t_ecom_order_processed SET user_id = $1 WHERE id = $2")
        .bind::<BigInt, _>(merged_into.unwrap_or(row.id))
        .bind::<BigInt, _>(processed_id)
        .execute(&mut conn)
        .await
        .expect("file the lead's own order");
    row.id
}

async fn raw_status(db: &TestDb, id: i64) -> String {
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    raw::table
        .find(id)
        .select(raw::process_status)
        .first(&mut conn)
        .await
        .expect("raw order")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_follows_an_order_to_its_lead_or_to_why_it_stopped() {
    let db = TestDb::new().await;
    let shop = db.active_shop(1, "JD").await;
    let task = db.sync_task(1, shop, "JD", "COMPLETED").await;
    let ours = (shop, task);
    // Two buyers merged into one (the same phone): lead `merged` lives on in `survivor`, and
    // both buyers' orders are filed under the survivor.
    let survivor_raw = stored(&db, ours, "A-1", "PROCESSED", true, None).await;
    let survivor = lead(&db, shop, survivor_raw, 2, None).await;
    let merged_raw = stored(&db, ours, "A-2", "PROCESSED", true, None).await;
    let merged = lead(&db, shop, merged_raw, 1, Some(survivor)).await;
    let unopened =
        "无法处理：normalized form unreadable: sealed value does not open: unknown key 9";
    let set_aside = stored(&db, ours, "B-1", "MALFORMED", true, Some(unopened)).await;
    let unread = stored(&db, ours, "C-1", "MALFORMED", false, Some("缺少订单号")).await;
    let later_unreadable = stored(
        &db,
        ours,
        "D-1",
        "PROCESSED",
        true,
        Some("订单无法解析：金额\t不是数字"),
    )
    .await;
    processed(&db, shop, later_unreadable, Some(survivor)).await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    diesel::update(raw::table.find(later_unreadable))
        .set(raw::unreadable_raw_data.eq(Some("sealed-unreadable")))
        .execute(&mut conn)
        .await
        .expect("an unreadable later version");

    let (ok, out) = leadctl(
        &db,
        &[
            "orders",
            "show",
            "--shop",
            &shop.to_string(),
            "A-2",
            "B-1",
            "C-1",
            "D-1",
            "Z-9",
        ],
    )
    .await;
    assert!(ok, "{out}");
    // A block per order: its first line starts with "order ", the others are indented.
    let mut blocks: Vec<String> = Vec::new();
    for line in out.lines() {
        match line.strip_prefix("order ") {
            Some(first) => blocks.push(format!("{first}\n")),
            None => blocks
                .last_mut()
                .expect("a block's first line comes first")
                .push_str(&format!("{line}\n")),
        }
    }
    assert_eq!(
        blocks.len(),
        5,
        "one block per id, in the order asked: {out}"
    );
    assert!(blocks[0].starts_with(&format!("A-2 (shop {shop}, JD, tenant 1)")));
    assert!(
        blocks[0].contains(&format!("raw order {merged_raw}, last by sync {task}")),
        "{out}"
    );
    assert!(blocks[0].contains("processing PROCESSED"), "{out}");
    assert!(
        blocks[0].contains(&format!(
            "lead       {survivor}: PROCESSED, score 72, 2 order(s)"
        )),
        "the merged buyer's order is filed under the survivor: {out}"
    );
    assert!(
        blocks[1].contains(&format!("set aside  by order-processor: {unopened}")),
        "{out}"
    );
    assert!(blocks[1].contains("lead       none yet"), "{out}");
    assert!(
        blocks[2].contains("set aside  by sync-worker: 缺少订单号"),
        "{out}"
    );
    assert!(
        blocks[3]
            .contains("unreadable a later version could not be read (订单无法解析：金额 不是数字)"),
        "the reason on one line: {out}"
    );
    assert!(
        blocks[3].contains(&format!("lead       {survivor}:")),
        "{out}"
    );
    assert!(blocks[4].starts_with("Z-9 (shop"), "{out}");
    assert!(blocks[4].contains("not stored; not synced yet"), "{out}");

    let (ok, out) = leadctl(&db, &["orders", "set-aside", "--tenant", "1"]).await;
    assert!(ok, "{out}");
    let mut lines: Vec<&str> = out.lines().skip(1).collect();
    lines.sort_unstable();
    assert_eq!(
        lines.len(),
        3,
        "the two MALFORMED and the unreadable later version: {out}"
    );
    for (line, (order, raw_id, status, by)) in lines.iter().zip([
        ("B-1", set_aside, "MALFORMED", "order-processor"),
        ("C-1", unread, "MALFORMED", "sync-worker"),
        ("D-1", later_unreadable, "PROCESSED", "sync-worker"),
    ]) {
        let columns: Vec<&str> = line.split('\t').collect();
        assert_eq!(columns.len(), 10, "{line}");
        assert_eq!(
            (columns[3], columns[4], columns[5], columns[8]),
            (order, raw_id.to_string().as_str(), status, by),
            "{line}"
        );
    }
    let (ok, out) = leadctl(&db, &["orders", "set-aside", "--tenant", "2"]).await;
    assert!(ok && out.lines().count() == 1, "the header alone: {out}");

    // The sync that stored them counts the one order-processor set aside.
    let (ok, out) = leadctl(&db, &["syncs", "list", "--status", "COMPLETED"]).await;
    assert!(ok, "{out}");
    let header: Vec<&str> = out.lines().next().expect("header").split('\t').collect();
    let line: Vec<&str> = out.lines().nth(1).expect("the sync").split('\t').collect();
    let column = header
        .iter()
        .position(|h| *h == "set_aside")
        .expect("a set_aside column");
    assert_eq!(line[column], "1", "{out}");

    // One buyer rebuilt, named by the merged lead's id: every order filed under the survivor.
    let (ok, out) = leadctl(&db, &["leads", "rebuild", "--lead", &merged.to_string()]).await;
    assert!(ok, "{out}");
    assert!(
        out.starts_with(&format!(
            "3 raw orders of lead {survivor} (lead {merged} was merged into it) handed back"
        )),
        "{out}"
    );
    for id in [survivor_raw, merged_raw, later_unreadable] {
        assert_eq!(raw_status(&db, id).await, "PENDING");
    }
    assert_eq!(raw_status(&db, set_aside).await, "MALFORMED");
    let (ok, _) = leadctl(
        &db,
        &[
            "leads",
            "rebuild",
            "--lead",
            &survivor.to_string(),
            "--tenant",
            "2",
        ],
    )
    .await;
    assert!(!ok, "another tenant's lead is not found");
    let (ok, _) = leadctl(&db, &["orders", "show", "--shop", "999999", "A-1"]).await;
    assert!(!ok, "an unknown shop is refused");
}
