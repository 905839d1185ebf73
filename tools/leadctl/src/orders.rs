//! `leadctl orders show` and `leadctl orders set-aside`: support's answers to a merchant's "my
//! order is not among my leads". `show` follows one shop's order ids from the raw order
//! sync-worker stored to the buyer-lead order-processor filed it under (after merges), or says
//! why it stopped on the way; `set-aside` lists the orders that stopped, with why, before
//! `leads rebuild --set-aside` hands them back (and clears their reasons).

use diesel::sql_types::{Array, BigInt, Bool, Nullable, SmallInt, Text, Timestamptz};
use diesel::{OptionalExtension as _, QueryableByName};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

type Time = chrono::DateTime<chrono::Utc>;

fn time(t: &Time) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A free text on one line.
fn one_line(t: &str) -> String {
    t.replace(['\t', '\n', '\r'], " ")
}

/// Who set a raw order aside, as an SQL column `by`.
fn by_column() -> String {
    format!(
        "CASE WHEN {} THEN 'order-processor' ELSE 'sync-worker' END AS set_aside_by",
        leadgen_db::set_aside::BY_PROCESSOR
    )
}

#[derive(QueryableByName)]
struct Traced {
    #[diesel(sql_type = Text)]
    order_id: String,
    #[diesel(sql_type = BigInt)]
    tenant_id: i64,
    #[diesel(sql_type = Text)]
    platform_type: String,
    #[diesel(sql_type = BigInt)]
    raw_id: i64,
    #[diesel(sql_type = Text)]
    raw_status: String,
    #[diesel(sql_type = BigInt)]
    sync_task_id: i64,
    #[diesel(sql_type = Timestamptz)]
    sync_time: Time,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    order_modified_at: Option<Time>,
    #[diesel(sql_type = Nullable<Text>)]
    parse_error: Option<String>,
    #[diesel(sql_type = Text)]
    set_aside_by: String,
    #[diesel(sql_type = Bool)]
    unreadable_kept: bool,
    #[diesel(sql_type = Nullable<Text>)]
    order_status: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    paid_at: Option<Time>,
    #[diesel(sql_type = Nullable<Bool>)]
    refunded: Option<bool>,
    #[diesel(sql_type = Nullable<BigInt>)]
    filed_under: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    lead_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    lead_status: Option<String>,
    #[diesel(sql_type = Nullable<SmallInt>)]
    score: Option<i16>,
    #[diesel(sql_type = Nullable<BigInt>)]
    lead_orders: Option<i64>,
}

/// The live id of shop `shop` (a renewed authorization's old id names its successor), with its
/// tenant and purge time, or none.
async fn live_shop(
    conn: &mut AsyncPgConnection,
    shop: i64,
) -> anyhow::Result<Option<(i64, i64, Option<Time>)>> {
    #[derive(QueryableByName)]
    struct Shop {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = BigInt)]
        tenant_id: i64,
        #[diesel(sql_type = Nullable<Timestamptz>)]
        purged_at: Option<Time>,
    }
    let found: Option<Shop> = diesel::sql_query(
        "SELECT s.id, s.tenant_id, s.purged_at FROM t_ecom_platform_auth a \
         JOIN t_ecom_platform_auth s ON s.id = coalesce(a.superseded_by, a.id) WHERE a.id = $1",
    )
    .bind::<BigInt, _>(shop)
    .get_result(conn)
    .await
    .optional()?;
    Ok(found.map(|s| (s.id, s.tenant_id, s.purged_at)))
}

/// `leadctl orders show --shop S ORDER_ID…`: for each order id of the shop, the raw order
/// stored (by which sync, when), what order-processor made of it (or why it set it aside), and
/// the buyer-lead it is filed under now (a merged lead's survivor), with that lead's status,
/// score and order count. An id never stored is said so.
pub async fn show(shop: i64, order_ids: &[String]) -> anyhow::Result<()> {
    let mut conn = crate::leads::connect().await?;
    let Some((live, tenant, purged_at)) = live_shop(&mut conn, shop).await? else {
        anyhow::bail!("no shop {shop}: name a shop by the id GET /platforms lists");
    };
    let traced: Vec<Traced> = diesel::sql_query(format!(
        "SELECT r.order_id, r.tenant_id, r.platform_type, r.id AS raw_id, \
                r.process_status AS raw_status, r.sync_task_id, r.sync_time, r.order_modified_at, \
                r.parse_error, r.set_aside_by, r.unreadable_kept, \
                p.status AS order_status, p.paid_at, p.refunded, p.user_id AS filed_under, \
                l.id AS lead_id, l.process_status AS lead_status, l.score, \
                l.order_count::int8 AS lead_orders \
         FROM (SELECT id, tenant_id, platform_type, order_id, process_status, sync_task_id, \
                      sync_time, order_modified_at, parse_error, \
                      unreadable_raw_data IS NOT NULL AS unreadable_kept, {} \
               FROM t_ecom_order_raw \
               WHERE platform_id = $1 AND order_id = ANY($2)) r \
         LEFT JOIN t_ecom_order_processed p ON p.raw_order_id = r.id \
         LEFT JOIN t_order_lead f ON f.id = p.user_id \
         LEFT JOIN t_order_lead l ON l.id = coalesce(f.merged_into, f.id)",
        by_column()
    ))
    .bind::<BigInt, _>(live)
    .bind::<Array<Text>, _>(order_ids)
    .load(&mut conn)
    .await?;
    for id in order_ids {
        let Some(t) = traced.iter().find(|t| &t.order_id == id) else {
            println!(
                "order {id} (shop {live}, tenant {tenant}): not stored{}",
                match purged_at {
                    Some(at) => format!(
                        "; the shop's history was purged at {} (disconnected or lapsed)",
                        time(&at)
                    ),
                    None => "; not synced yet (is it within a synced range? `leadctl syncs \
                             list --shop` shows the shop's syncs), or it belongs to another shop"
                        .to_owned(),
                }
            );
            continue;
        };
        print_traced(live, t);
    }
    Ok(())
}

fn print_traced(shop: i64, t: &Traced) {
    println!(
        "order {} (shop {shop}, {}, tenant {})",
        t.order_id, t.platform_type, t.tenant_id
    );
    println!(
        "  stored     raw order {}, last by sync {} at {}{}",
        t.raw_id,
        t.sync_task_id,
        time(&t.sync_time),
        t.order_modified_at
            .map(|m| format!(", modified on the platform {}", time(&m)))
            .unwrap_or_default()
    );
    let reason = t.parse_error.as_deref().unwrap_or("");
    if t.unreadable_kept {
        println!(
            "  unreadable a later version could not be read ({}): it is kept beside this one, \
             which stays in use",
            one_line(reason)
        );
    }
    match t.raw_status.as_str() {
        "MALFORMED" => println!(
            "  set aside  by {}: {} (`leadctl leads rebuild --set-aside --platform {shop}` \
             hands order-processor's back once mended)",
            t.set_aside_by,
            one_line(reason)
        ),
        "PENDING" => println!("  processing waiting for order-processor"),
        status => println!("  processing {status}"),
    }
    if let Some(status) = &t.order_status {
        println!(
            "  order      {status}{}{}",
            t.paid_at
                .map(|p| format!(", paid {}", time(&p)))
                .unwrap_or_default(),
            if t.refunded == Some(true) {
                ", refunded"
            } else {
                ""
            }
        );
    }
    match (t.lead_id, t.filed_under) {
        (Some(lead), Some(filed)) => println!(
            "  lead       {lead}{}: {}, score {}, {} order(s)",
            if filed == lead {
                String::new()
            } else {
                format!(" (filed under {filed}, merged into it)")
            },
            t.lead_status.as_deref().unwrap_or(""),
            t.score.unwrap_or_default(),
            t.lead_orders.unwrap_or_default()
        ),
        _ if t.order_status.is_some() => {
            println!("  lead       none (the buyer's lead was purged)")
        }
        _ => println!("  lead       none yet"),
    }
}

#[derive(QueryableByName)]
struct SetAside {
    #[diesel(sql_type = BigInt)]
    tenant_id: i64,
    #[diesel(sql_type = BigInt)]
    platform_id: i64,
    #[diesel(sql_type = Text)]
    platform_type: String,
    #[diesel(sql_type = Text)]
    order_id: String,
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    process_status: String,
    #[diesel(sql_type = Timestamptz)]
    sync_time: Time,
    #[diesel(sql_type = BigInt)]
    sync_task_id: i64,
    #[diesel(sql_type = Text)]
    set_aside_by: String,
    #[diesel(sql_type = Nullable<Text>)]
    parse_error: Option<String>,
}

/// Which orders `set_aside` lists.
pub struct Filter {
    pub tenant: Option<i64>,
    pub shop: Option<i64>,
    pub limit: i64,
}

/// `leadctl orders set-aside`: the raw orders that did not become part of a lead (`MALFORMED`:
/// sync-worker could not read them, or order-processor could not process them), and the ones
/// whose later version could not be read (the earlier one stays in use), newest first: tenant,
/// shop, platform, order id, raw order, status, stored, sync, by, reason. Without `--tenant` or
/// `--shop` it reads the whole table.
pub async fn set_aside(filter: Filter) -> anyhow::Result<()> {
    let mut conn = crate::leads::connect().await?;
    let rows: Vec<SetAside> = diesel::sql_query(format!(
        "SELECT tenant_id, platform_id, platform_type, order_id, id, process_status, sync_time, \
                sync_task_id, {}, parse_error \
         FROM t_ecom_order_raw \
         WHERE (process_status = 'MALFORMED' OR unreadable_raw_data IS NOT NULL) \
           AND ($1::int8 IS NULL OR tenant_id = $1) AND ($2::int8 IS NULL OR platform_id = $2) \
         ORDER BY sync_time DESC, id DESC LIMIT $3",
        by_column()
    ))
    .bind::<Nullable<BigInt>, _>(filter.tenant)
    .bind::<Nullable<BigInt>, _>(filter.shop)
    .bind::<BigInt, _>(filter.limit)
    .load(&mut conn)
    .await?;
    println!("tenant\tshop\tplatform\torder\traw\tstatus\tstored\tsync\tby\treason");
    for r in &rows {
        let reason = r.parse_error.as_deref().unwrap_or("");
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            r.tenant_id,
            r.platform_id,
            r.platform_type,
            one_line(&r.order_id),
            r.id,
            r.process_status,
            time(&r.sync_time),
            r.sync_task_id,
            r.set_aside_by,
            one_line(reason),
        );
    }
    eprintln!("{} order(s)", rows.len());
    Ok(())
}
