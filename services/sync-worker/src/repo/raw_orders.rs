//! `t_ecom_order_raw` (owned by sync-worker). One row per platform order per authorization.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_ecom_order_raw as raw;
use leadgen_domain::RawOrderStatus;

#[derive(Debug, Insertable)]
#[diesel(table_name = raw)]
pub struct RawInsert {
    pub tenant_id: i64,
    pub platform_id: i64,
    pub platform_type: String,
    pub order_id: String,
    pub raw_data: String,
    pub normalized: Option<String>,
    pub parse_error: Option<String>,
    pub content_hash: String,
    pub order_created_at: Option<DateTime<Utc>>,
    pub order_modified_at: Option<DateTime<Utc>>,
    pub sync_task_id: i64,
    pub process_status: String,
}

/// What [`upsert_changed`] wrote.
#[derive(Debug, Default)]
pub struct Written {
    /// The ids and statuses of the rows written (new or changed).
    pub rows: Vec<(i64, RawOrderStatus)>,
    /// Platform order ids stored for the first time.
    pub new: HashSet<String>,
    /// Platform order ids whose content changed since they were stored.
    pub updated: HashSet<String>,
}

/// Inserts new orders and updates changed ones (a different content hash). Unchanged orders are
/// left alone. The caller holds the platform's only running sync, so nothing else writes these
/// rows meanwhile.
pub async fn upsert_changed(
    conn: &mut AsyncPgConnection,
    rows: &[RawInsert],
) -> QueryResult<Written> {
    let Some(first) = rows.first() else {
        return Ok(Written::default());
    };
    let ids: Vec<&str> = rows.iter().map(|r| r.order_id.as_str()).collect();
    let existing: HashMap<String, String> = raw::table
        .filter(raw::platform_id.eq(first.platform_id))
        .filter(raw::order_id.eq_any(&ids))
        .select((raw::order_id, raw::content_hash))
        .load::<(String, String)>(conn)
        .await?
        .into_iter()
        .collect();
    let changed: Vec<&RawInsert> = rows
        .iter()
        .filter(|r| existing.get(&r.order_id) != Some(&r.content_hash))
        .collect();
    let mut written = Written::default();
    for r in &changed {
        if existing.contains_key(&r.order_id) {
            written.updated.insert(r.order_id.clone());
        } else {
            written.new.insert(r.order_id.clone());
        }
    }
    if changed.is_empty() {
        return Ok(written);
    }
    written.rows = diesel::insert_into(raw::table)
        .values(changed)
        .on_conflict((raw::platform_id, raw::order_id))
        .do_update()
        .set((
            raw::raw_data.eq(excluded(raw::raw_data)),
            raw::normalized.eq(excluded(raw::normalized)),
            raw::parse_error.eq(excluded(raw::parse_error)),
            raw::content_hash.eq(excluded(raw::content_hash)),
            raw::order_created_at.eq(excluded(raw::order_created_at)),
            raw::order_modified_at.eq(excluded(raw::order_modified_at)),
            raw::sync_task_id.eq(excluded(raw::sync_task_id)),
            raw::sync_time.eq(diesel::dsl::now),
            raw::process_status.eq(excluded(raw::process_status)),
        ))
        .returning((raw::id, raw::process_status))
        .get_results::<(i64, String)>(conn)
        .await?
        .into_iter()
        .map(|(id, status)| {
            let status = status
                .parse::<RawOrderStatus>()
                .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))?;
            Ok((id, status))
        })
        .collect::<QueryResult<_>>()?;
    Ok(written)
}
