//! The raw orders order-processor set aside, as every reader says it: order-processor marks
//! such a row `MALFORMED`, keeps its neutral form, and writes its reason starting with
//! `无法处理：` (the neutral form did not open or parse) or `处理失败（` (it failed alone sweep
//! after sweep) (`services/order-processor/src/repo/raw_orders.rs`, `set_aside`). sync-worker's
//! `MALFORMED` rows (orders it could not read) have no neutral form, and a reason sync-worker
//! wrote later, beside an unreadable version, starts otherwise. Read by auth-api (a sync
//! record's `setAsideCount`) and `leadctl` (`orders`, `syncs list`, `leads rebuild
//! --set-aside`).

use diesel::sql_types::{Array, BigInt};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// The condition on a `t_ecom_order_raw` row (its columns unqualified) that order-processor set
/// it aside.
pub const BY_PROCESSOR: &str = "(process_status = 'MALFORMED' \
     AND normalized IS NOT NULL \
     AND (parse_error LIKE '无法处理：%' OR parse_error LIKE '处理失败（%'))";

/// Of the raw orders each of `tasks` (of `tenant`) was the last sync to store, how many
/// order-processor set aside: `(task id, count)` for the tasks that have any.
pub async fn count_by_task(
    conn: &mut AsyncPgConnection,
    tenant: i64,
    tasks: &[i64],
) -> diesel::QueryResult<Vec<(i64, i64)>> {
    #[derive(diesel::QueryableByName)]
    struct Counted {
        #[diesel(sql_type = BigInt)]
        sync_task_id: i64,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    if tasks.is_empty() {
        return Ok(Vec::new());
    }
    let counted: Vec<Counted> = diesel::sql_query(format!(
        "SELECT sync_task_id, count(*) AS n FROM t_ecom_order_raw \
         WHERE sync_task_id = ANY($2) AND tenant_id = $1 AND {BY_PROCESSOR} \
         GROUP BY sync_task_id"
    ))
    .bind::<BigInt, _>(tenant)
    .bind::<Array<BigInt>, _>(tasks)
    .load(conn)
    .await?;
    Ok(counted.into_iter().map(|c| (c.sync_task_id, c.n)).collect())
}
