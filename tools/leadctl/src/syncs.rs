//! `leadctl syncs list`: every tenant's sync records, for an operator paged by
//! `LeadgenSyncsFailing` (the API shows each tenant its own, to a token of that tenant): which
//! shops' syncs failed, and why, newest first.

use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamptz};
use diesel_async::RunQueryDsl;

#[derive(diesel::QueryableByName)]
struct Task {
    #[diesel(sql_type = BigInt)]
    tenant_id: i64,
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    platform_id: i64,
    #[diesel(sql_type = Text)]
    platform_type: String,
    #[diesel(sql_type = Text)]
    trigger_type: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Timestamptz)]
    sync_time: chrono::DateTime<chrono::Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    finished_at: Option<chrono::DateTime<chrono::Utc>>,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Text)]
    listing: String,
    #[diesel(sql_type = Timestamptz)]
    window_start: chrono::DateTime<chrono::Utc>,
    #[diesel(sql_type = Timestamptz)]
    window_end: chrono::DateTime<chrono::Utc>,
    #[diesel(sql_type = Integer)]
    windows_done: i32,
    #[diesel(sql_type = Nullable<Integer>)]
    windows_total: Option<i32>,
    #[diesel(sql_type = Integer)]
    new_count: i32,
    #[diesel(sql_type = Integer)]
    updated_count: i32,
    #[diesel(sql_type = Integer)]
    unchanged_count: i32,
    #[diesel(sql_type = Integer)]
    failure_count: i32,
    #[diesel(sql_type = BigInt)]
    set_aside: i64,
    #[diesel(sql_type = Nullable<Text>)]
    error_message: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    warning: Option<String>,
}

/// Which records to list.
pub struct Filter<'a> {
    pub statuses: &'a [String],
    pub tenant: Option<i64>,
    pub shop: Option<i64>,
    pub platform: Option<&'a str>,
    pub limit: i64,
}

/// Prints the sync records `filter` selects, newest first: one tab-separated line each
/// (tenant, task, shop, platform, trigger, status, requested, finished, attempts, listing,
/// window, windows done/total, new, updated, unchanged, failed, set aside, error, warning), the
/// free texts on one line. `failed` counts the orders sync-worker could not read; `set_aside`,
/// of the orders this sync was the last to store, those order-processor set aside
/// (`leadctl orders set-aside` says why).
pub async fn list(filter: Filter<'_>) -> anyhow::Result<()> {
    let mut conn = crate::leads::connect().await?;
    let tasks: Vec<Task> = diesel::sql_query(format!(
        "SELECT tenant_id, id, platform_id, platform_type, trigger_type, status, sync_time, \
                finished_at, attempts, listing, window_start, window_end, windows_done, \
                windows_total, new_count, updated_count, unchanged_count, failure_count, \
                (SELECT count(*) FROM t_ecom_order_raw r \
                 WHERE r.sync_task_id = t.id AND {}) AS set_aside, \
                error_message, warning \
         FROM t_ecom_sync_task t \
         WHERE status = ANY($1) AND ($2::int8 IS NULL OR tenant_id = $2) \
           AND ($3::int8 IS NULL OR platform_id = $3) AND ($4::text IS NULL OR platform_type = $4) \
         ORDER BY sync_time DESC, id DESC LIMIT $5",
        leadgen_db::set_aside::BY_PROCESSOR
    ))
    .bind::<Array<Text>, _>(filter.statuses)
    .bind::<Nullable<BigInt>, _>(filter.tenant)
    .bind::<Nullable<BigInt>, _>(filter.shop)
    .bind::<Nullable<Text>, _>(filter.platform)
    .bind::<BigInt, _>(filter.limit)
    .load(&mut conn)
    .await?;
    let time =
        |t: &chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let one_line = |t: &Option<String>| t.as_deref().unwrap_or("").replace(['\t', '\n'], " ");
    println!(
        "tenant\ttask\tshop\tplatform\ttrigger\tstatus\trequested\tfinished\tattempts\t\
         listing\twindow\twindows\tnew\tupdated\tunchanged\tfailed\tset_aside\terror\twarning"
    );
    for t in &tasks {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}/{}\t{}/{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            t.tenant_id,
            t.id,
            t.platform_id,
            t.platform_type,
            t.trigger_type,
            t.status,
            time(&t.sync_time),
            t.finished_at.as_ref().map(time).unwrap_or_default(),
            t.attempts,
            t.listing,
            time(&t.window_start),
            time(&t.window_end),
            t.windows_done,
            t.windows_total.map(|n| n.to_string()).unwrap_or_default(),
            t.new_count,
            t.updated_count,
            t.unchanged_count,
            t.failure_count,
            t.set_aside,
            one_line(&t.error_message),
            one_line(&t.warning),
        );
    }
    eprintln!("{} sync record(s)", tasks.len());
    Ok(())
}
