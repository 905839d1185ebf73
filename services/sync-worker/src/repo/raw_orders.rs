//! `t_ecom_order_raw` (owned by sync-worker). One row per platform order per authorization.
//! Beside it, the one write to lead-api's `t_order_revealed_identity`: a revealed phone forgotten
//! when its order's receiver changes ([`forget_revealed_phones`]).

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

impl RawInsert {
    /// Whether the adapter could read this version (it has a neutral form).
    fn readable(&self) -> bool {
        self.normalized.is_some()
    }
}

/// Forgets the phone a salesperson revealed for each of `changed` (order id, the hash of the
/// version just stored) of shop `platform_id`: that version's receiver is another one
/// (`Receiver::keeps_revealed_phone_of`), so the revealed number is no longer the buyer's. Only
/// where the stored row is that version (an older one, skipped, changes nothing). The row is
/// `PENDING` again, and order-processor drops the phone from the buyer's identities. The one
/// write of sync-worker to lead-api's `t_order_revealed_identity` (docs/architecture.md).
pub async fn forget_revealed_phones(
    conn: &mut AsyncPgConnection,
    platform_id: i64,
    changed: &[(String, String)],
) -> QueryResult<usize> {
    if changed.is_empty() {
        return Ok(0);
    }
    let (ids, hashes): (Vec<&str>, Vec<&str>) = changed
        .iter()
        .map(|(id, hash)| (id.as_str(), hash.as_str()))
        .unzip();
    diesel::sql_query(
        "DELETE FROM t_order_revealed_identity r USING t_ecom_order_raw o \
         WHERE r.raw_order_id = o.id AND o.platform_id = $1 \
           AND (o.order_id, o.content_hash) IN \
               (SELECT * FROM unnest($2::text[], $3::text[]))",
    )
    .bind::<diesel::sql_types::BigInt, _>(platform_id)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(ids)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(hashes)
    .execute(conn)
    .await
}

/// The sealed neutral form stored for each of `order_ids` of the shop, by order id (orders
/// never stored, or stored unreadable, are absent).
pub async fn stored_normalized(
    conn: &mut AsyncPgConnection,
    platform_id: i64,
    order_ids: &[&str],
) -> QueryResult<HashMap<String, String>> {
    if order_ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(raw::table
        .filter(raw::platform_id.eq(platform_id))
        .filter(raw::order_id.eq_any(order_ids))
        .filter(raw::normalized.is_not_null())
        .select((raw::order_id, raw::normalized))
        .load::<(String, Option<String>)>(conn)
        .await?
        .into_iter()
        .filter_map(|(id, sealed)| Some((id, sealed?)))
        .collect())
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
    /// Orders whose new version could not be read, kept beside their readable stored version
    /// (`unreadable_raw_data`, the reason in `parse_error`), which they do not replace.
    pub kept_beside: usize,
}

/// What is stored of an order before a page is written.
struct Stored {
    hash: String,
    modified: Option<DateTime<Utc>>,
    readable: bool,
}

/// Inserts new orders and updates changed ones (a different content hash). Unchanged orders are
/// left alone, and so is a version older than the one stored (its modification time earlier:
/// a page read before a change, or a platform's lagging replica); within `rows` the latest
/// version of an order counts (pages of one walk can overlap). A version the adapter could not
/// read never replaces a readable one: it is kept beside it ([`Written::kept_beside`]), so the
/// order keeps its last readable data (and its lead the number that reached the buyer). An
/// order stored unreadable is replaced by the same content once it reads (a release whose
/// adapter knows the status it did not). The caller holds the platform's only running sync, so
/// no other sync writes these rows meanwhile; order-processor does (their processing state),
/// locking them in id order, and so are the rows this page rewrites locked here before any is
/// written ([`lock_stored`]): taken in page order, a page and a batch holding the same orders
/// could each wait for the other. Rows the page leaves as they are stay unlocked (what this
/// compares, the content, only a sync writes).
pub async fn upsert_changed(
    conn: &mut AsyncPgConnection,
    rows: &[RawInsert],
) -> QueryResult<Written> {
    let Some(first) = rows.first() else {
        return Ok(Written::default());
    };
    let ids: Vec<&str> = rows.iter().map(|r| r.order_id.as_str()).collect();
    let existing: HashMap<String, Stored> = raw::table
        .filter(raw::platform_id.eq(first.platform_id))
        .filter(raw::order_id.eq_any(&ids))
        .select((
            raw::order_id,
            raw::content_hash,
            raw::order_modified_at,
            raw::normalized.is_not_null(),
        ))
        .load::<(String, String, Option<DateTime<Utc>>, bool)>(conn)
        .await?
        .into_iter()
        .map(|(id, hash, modified, readable)| {
            let stored = Stored {
                hash,
                modified,
                readable,
            };
            (id, stored)
        })
        .collect();
    let mut changed: Vec<&RawInsert> = Vec::new();
    let mut beside: Vec<&RawInsert> = Vec::new();
    for r in latest_versions(rows) {
        match existing.get(&r.order_id) {
            None => changed.push(r),
            // The same content read now (an adapter that learned a new status): it replaces
            // the unreadable row it is, or nothing would ever read it again.
            Some(s) if s.hash == r.content_hash && (s.readable || !r.readable()) => {}
            Some(s) if s.hash != r.content_hash && older(r.order_modified_at, s.modified) => {}
            Some(s) if s.readable && !r.readable() => beside.push(r),
            Some(_) => changed.push(r),
        }
    }
    lock_stored(conn, first.platform_id, &changed, &beside, &existing).await?;
    let mut written = Written::default();
    for r in &beside {
        keep_beside(conn, r).await?;
    }
    written.kept_beside = beside.len();
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
            raw::unreadable_raw_data.eq(None::<String>),
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

/// Locks, in id order, the stored rows of `platform_id` that `changed` and `beside` are about
/// to rewrite (new orders have none yet).
async fn lock_stored(
    conn: &mut AsyncPgConnection,
    platform_id: i64,
    changed: &[&RawInsert],
    beside: &[&RawInsert],
    existing: &HashMap<String, Stored>,
) -> QueryResult<()> {
    let ids: Vec<&str> = changed
        .iter()
        .chain(beside)
        .map(|r| r.order_id.as_str())
        .filter(|id| existing.contains_key(*id))
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    raw::table
        .filter(raw::platform_id.eq(platform_id))
        .filter(raw::order_id.eq_any(&ids))
        .order(raw::id.asc())
        .select(raw::id)
        .for_update()
        .load::<i64>(conn)
        .await?;
    Ok(())
}

/// Keeps an unreadable version of an order beside its readable stored one: its sealed raw text
/// and reason, by the task that read it (its sync record's warning names it). A stored order
/// order-processor set aside keeps order-processor's reason: it still says why the order is
/// not part of a lead, and who hands it back (`leadgen_db::set_aside`); the unreadable
/// version's reason is in the sync record's warning.
async fn keep_beside(conn: &mut AsyncPgConnection, r: &RawInsert) -> QueryResult<usize> {
    let reason =
        diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Text>>(&format!(
            "CASE WHEN {} THEN parse_error ELSE ",
            leadgen_db::set_aside::BY_PROCESSOR
        ))
        .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(&r.parse_error)
        .sql(" END");
    diesel::update(
        raw::table
            .filter(raw::platform_id.eq(r.platform_id))
            .filter(raw::order_id.eq(&r.order_id)),
    )
    .set((
        raw::unreadable_raw_data.eq(&r.raw_data),
        raw::parse_error.eq(reason),
        raw::sync_task_id.eq(r.sync_task_id),
        raw::sync_time.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await
}

/// Whether a version modified at `incoming` is older than the stored one (unknown times never
/// are: the platform did not say).
fn older(incoming: Option<DateTime<Utc>>, stored: Option<DateTime<Utc>>) -> bool {
    matches!((incoming, stored), (Some(incoming), Some(stored)) if incoming < stored)
}

/// One version per order id: a readable one before an unreadable one, then the latest by
/// modification time, the later in `rows` on a tie (the page read last).
fn latest_versions(rows: &[RawInsert]) -> Vec<&RawInsert> {
    let mut latest: HashMap<&str, &RawInsert> = HashMap::new();
    let mut order = Vec::new();
    for r in rows {
        match latest.get(r.order_id.as_str()) {
            Some(kept) if kept.readable() && !r.readable() => {}
            Some(kept)
                if kept.readable() == r.readable()
                    && older(r.order_modified_at, kept.order_modified_at) => {}
            Some(_) => {
                latest.insert(&r.order_id, r);
            }
            None => {
                order.push(r.order_id.as_str());
                latest.insert(&r.order_id, r);
            }
        }
    }
    order
        .iter()
        .filter_map(|id| latest.get(id).copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn version(order_id: &str, hash: &str, modified: Option<i64>) -> RawInsert {
        RawInsert {
            tenant_id: 1,
            platform_id: 1,
            platform_type: "DOUYIN".into(),
            order_id: order_id.into(),
            raw_data: String::new(),
            normalized: None,
            parse_error: None,
            content_hash: hash.into(),
            order_created_at: None,
            order_modified_at: modified
                .map(|s| Utc.timestamp_opt(s, 0).single().unwrap_or_default()),
            sync_task_id: 1,
            process_status: "PENDING".into(),
        }
    }

    #[test]
    fn the_latest_version_of_an_order_counts_whatever_page_brought_it() {
        let rows = [
            version("a", "new", Some(2_000)),
            version("b", "b1", None),
            version("a", "old", Some(1_000)),
            version("b", "b2", None),
            version("c", "c", Some(5)),
        ];
        let kept: Vec<(&str, &str)> = latest_versions(&rows)
            .iter()
            .map(|r| (r.order_id.as_str(), r.content_hash.as_str()))
            .collect();
        assert_eq!(kept, [("a", "new"), ("b", "b2"), ("c", "c")]);
        let at = |s| Some(Utc.timestamp_opt(s, 0).single().unwrap_or_default());
        assert!(older(at(1), at(2)));
        assert!(!older(at(2), at(2)) && !older(None, at(2)) && !older(at(1), None));
    }
}
