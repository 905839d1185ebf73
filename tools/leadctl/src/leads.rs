//! `leadctl leads rebuild` and `leadctl blind-index status|rotate`: operators' handles on the
//! buyer-leads that order-processor owns. Neither computes a lead itself: both hand raw orders
//! back to order-processor's pending sweep, which rebuilds every buyer from all of their orders
//! with the current model and blind-index key, keeping lead ids and sales decisions.
//! `leads rebuild --set-aside` hands back the raw orders order-processor set aside instead, once
//! their cause is mended (a data key restored to a replica's configuration, say).

use anyhow::Context as _;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_settings::{CryptoSettings, DatabaseSettings, ExposeSecret, Sources};
use serde::Deserialize;
use validator::Validate;

#[derive(Deserialize, Validate)]
struct DbOnly {
    #[validate(nested)]
    database: DatabaseSettings,
}

#[derive(Deserialize, Validate)]
struct CryptoOnly {
    crypto: CryptoSettings,
}

/// The blind-index key ids this configuration holds: the current one, then the previous ones.
fn configured_index_keys() -> anyhow::Result<(u8, Vec<u8>)> {
    let settings: CryptoOnly =
        leadgen_settings::load(&Sources::from_env()).context("loading configuration")?;
    let previous = settings
        .crypto
        .blind_index_previous_keys
        .iter()
        .filter_map(|k| k.expose_secret().split_once(':')?.0.parse().ok())
        .collect();
    Ok((settings.crypto.blind_index_key_id, previous))
}

pub(crate) async fn connect() -> anyhow::Result<AsyncPgConnection> {
    let settings: DbOnly =
        leadgen_settings::load(&Sources::from_env()).context("loading configuration")?;
    let url = settings.database.url.expose_secret();
    leadgen_db::connect(url)
        .await
        .map_err(|e| leadgen_db::connect_error(url, e).into())
}

/// Raw orders handed back per statement (each its own transaction).
const REQUEUE_BATCH: i64 = 5_000;

/// Hands every processed raw order (of one tenant, one shop, or all) back to the pending sweep,
/// in id order, [`REQUEUE_BATCH`] rows a transaction: one statement over millions of rows would
/// hold every row's lock (and sync-worker's writes to them) until its commit, and an
/// interrupted run would keep nothing. A run stopped midway is run again: it hands back what
/// is still processed, the rows it handed back already included once order-processor has
/// processed them again (a rebuild is idempotent). Returns how many.
async fn requeue(
    conn: &mut AsyncPgConnection,
    tenant: Option<i64>,
    platform: Option<i64>,
) -> anyhow::Result<usize> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let (mut after, mut handed) = (0_i64, 0_usize);
    loop {
        let batch: Vec<Row> = diesel::sql_query(
            "SELECT id FROM t_ecom_order_raw WHERE process_status = 'PROCESSED' AND id > $3 \
               AND ($1::int8 IS NULL OR tenant_id = $1) AND ($2::int8 IS NULL OR platform_id = $2) \
             ORDER BY id LIMIT $4",
        )
        .bind::<Nullable<BigInt>, _>(tenant)
        .bind::<Nullable<BigInt>, _>(platform)
        .bind::<BigInt, _>(after)
        .bind::<BigInt, _>(REQUEUE_BATCH)
        .load(conn)
        .await?;
        let Some(last) = batch.last().map(|r| r.id) else {
            return Ok(handed);
        };
        let ids: Vec<i64> = batch.iter().map(|r| r.id).collect();
        // Still processed when updated (order-processor may have taken one meanwhile).
        handed += diesel::sql_query(
            "UPDATE t_ecom_order_raw SET process_status = 'PENDING' \
             WHERE id = ANY($1) AND process_status = 'PROCESSED'",
        )
        .bind::<diesel::sql_types::Array<BigInt>, _>(ids)
        .execute(conn)
        .await?;
        after = last;
        if batch.len() < REQUEUE_BATCH as usize {
            return Ok(handed);
        }
        eprintln!("… {handed} handed back so far");
    }
}

/// Whether the shop `platform` exists (of `tenant`, when given) and is not an alias of another
/// (a renewed authorization's old id holds no orders).
async fn shop_exists(
    conn: &mut AsyncPgConnection,
    tenant: Option<i64>,
    platform: i64,
) -> anyhow::Result<bool> {
    #[derive(diesel::QueryableByName)]
    struct Found {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let found: Found = diesel::sql_query(
        "SELECT count(*) AS n FROM t_ecom_platform_auth \
         WHERE id = $1 AND ($2::int8 IS NULL OR tenant_id = $2) AND superseded_by IS NULL",
    )
    .bind::<BigInt, _>(platform)
    .bind::<Nullable<BigInt>, _>(tenant)
    .get_result(conn)
    .await?;
    Ok(found.n > 0)
}

/// Hands the raw orders order-processor set aside back to its pending sweep (of one tenant, one
/// shop, or all), without their reason. Returns how many.
///
/// Set aside, a row is `MALFORMED` and keeps its neutral form, with a reason order-processor
/// writes (`raw_orders::set_aside`): `无法处理：…` (its neutral form did not open or parse) or
/// `处理失败（…` (it failed alone sweep after sweep). sync-worker's `MALFORMED` rows (orders it
/// could not read) have no neutral form and are left alone; so is a reason sync-worker wrote
/// later, beside an unreadable version.
async fn requeue_set_aside(
    conn: &mut AsyncPgConnection,
    tenant: Option<i64>,
    platform: Option<i64>,
) -> anyhow::Result<usize> {
    Ok(diesel::sql_query(format!(
        "UPDATE t_ecom_order_raw SET process_status = 'PENDING', parse_error = NULL \
         WHERE {} \
           AND ($1::int8 IS NULL OR tenant_id = $1) AND ($2::int8 IS NULL OR platform_id = $2)",
        leadgen_db::set_aside::BY_PROCESSOR
    ))
    .bind::<Nullable<BigInt>, _>(tenant)
    .bind::<Nullable<BigInt>, _>(platform)
    .execute(conn)
    .await?)
}

/// `leadctl leads rebuild [--tenant T] [--platform P] [--set-aside]`: every processed raw order
/// of the scope, or with `set_aside` only those order-processor set aside.
pub async fn rebuild(
    tenant: Option<i64>,
    platform: Option<i64>,
    set_aside: bool,
) -> anyhow::Result<()> {
    let mut conn = connect().await?;
    if let Some(platform) = platform
        && !shop_exists(&mut conn, tenant, platform).await?
    {
        anyhow::bail!(
            "no shop {platform}{}: name a shop by the id GET /platforms lists (a renewed \
             authorization's old id is an alias of the new one)",
            tenant
                .map(|t| format!(" in tenant {t}"))
                .unwrap_or_default()
        );
    }
    let (n, which) = if set_aside {
        (
            requeue_set_aside(&mut conn, tenant, platform).await?,
            " set aside by order-processor",
        )
    } else {
        (requeue(&mut conn, tenant, platform).await?, "")
    };
    let waiting = pending(&mut conn, tenant, platform).await?;
    let earlier = waiting.saturating_sub(i64::try_from(n).unwrap_or(i64::MAX));
    println!(
        "{n} raw orders{which} handed back to order-processor{}; its pending sweep rebuilds their \
         buyers (orders synced within [processing] pending_after_secs wait that long first{})",
        if earlier > 0 {
            format!(", beside {earlier} already waiting (an earlier rebuild, or not processed yet)")
        } else {
            String::new()
        },
        if set_aside {
            "; one whose own order still does not read is set aside again, with its reason"
        } else {
            ""
        }
    );
    Ok(())
}

/// `leadctl leads rebuild --lead L [--tenant T]`: hands the processed raw orders of one
/// buyer-lead (a merged lead's: of the lead it was merged into) back to the pending sweep, which
/// rebuilds the buyer from all of them, as `rebuild` does a shop's.
pub async fn rebuild_lead(tenant: Option<i64>, lead: i64) -> anyhow::Result<()> {
    #[derive(diesel::QueryableByName)]
    struct Live {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let mut conn = connect().await?;
    let live: Vec<Live> = diesel::sql_query(
        "SELECT coalesce(merged_into, id) AS id FROM t_order_lead \
         WHERE id = $1 AND ($2::int8 IS NULL OR tenant_id = $2)",
    )
    .bind::<BigInt, _>(lead)
    .bind::<Nullable<BigInt>, _>(tenant)
    .load(&mut conn)
    .await?;
    let Some(live) = live.into_iter().next().map(|l| l.id) else {
        anyhow::bail!(
            "no lead {lead}{}",
            tenant
                .map(|t| format!(" in tenant {t}"))
                .unwrap_or_default()
        );
    };
    let n = diesel::sql_query(
        "UPDATE t_ecom_order_raw SET process_status = 'PENDING' \
         WHERE process_status = 'PROCESSED' \
           AND id IN (SELECT raw_order_id FROM t_ecom_order_processed WHERE user_id = $1)",
    )
    .bind::<BigInt, _>(live)
    .execute(&mut conn)
    .await?;
    println!(
        "{n} raw orders of lead {live}{} handed back to order-processor; its pending sweep \
         rebuilds the buyer (orders synced within [processing] pending_after_secs wait that long \
         first)",
        if live == lead {
            String::new()
        } else {
            format!(" (lead {lead} was merged into it)")
        }
    );
    Ok(())
}

/// Raw orders waiting for order-processor in the scope.
async fn pending(
    conn: &mut AsyncPgConnection,
    tenant: Option<i64>,
    platform: Option<i64>,
) -> anyhow::Result<i64> {
    #[derive(diesel::QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let waiting: Waiting = diesel::sql_query(
        "SELECT count(*) AS n FROM t_ecom_order_raw WHERE process_status = 'PENDING' \
           AND ($1::int8 IS NULL OR tenant_id = $1) AND ($2::int8 IS NULL OR platform_id = $2)",
    )
    .bind::<Nullable<BigInt>, _>(tenant)
    .bind::<Nullable<BigInt>, _>(platform)
    .get_result(conn)
    .await?;
    Ok(waiting.n)
}

#[derive(diesel::QueryableByName)]
struct KeyCount {
    #[diesel(sql_type = Text)]
    key_id: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// `leadctl blind-index status`: identities per blind-index key id, and orders still waiting.
pub async fn status() -> anyhow::Result<()> {
    let mut conn = connect().await?;
    print_status(&mut conn).await
}

async fn print_status(conn: &mut AsyncPgConnection) -> anyhow::Result<()> {
    let counts: Vec<KeyCount> = diesel::sql_query(
        "SELECT split_part(key_hash, '.', 1) AS key_id, count(*) AS n FROM t_lead_identity \
         GROUP BY 1 ORDER BY 1",
    )
    .load(conn)
    .await?;
    let (current, previous) = configured_index_keys()?;
    let note = |key_id: &str| match key_id.trim_start_matches('t').parse::<u8>() {
        Ok(id) if id == current => " (the current key)",
        Ok(id) if previous.contains(&id) => " (a previous key)",
        _ => " (NOT CONFIGURED: searches and merges no longer find these)",
    };
    for c in &counts {
        println!(
            "{}: {} identities{}",
            key_label(&c.key_id),
            c.n,
            note(&c.key_id)
        );
    }
    if counts.is_empty() {
        println!("no identities yet");
    }
    // Revealed phones keep the index of the key they were revealed under: their numbers are
    // never stored, so nothing can index them again.
    let revealed: Vec<KeyCount> = diesel::sql_query(
        "SELECT split_part(key_hash, '.', 1) AS key_id, count(*) AS n \
         FROM t_order_revealed_identity GROUP BY 1 ORDER BY 1",
    )
    .load(conn)
    .await?;
    for c in &revealed {
        println!(
            "{}: {} revealed phones (kept under this key: not re-indexed){}",
            key_label(&c.key_id),
            c.n,
            note(&c.key_id)
        );
    }
    // Since when the oldest has waited (`pending_since`): orders a rotation handed back wait
    // since it began, newly synced ones seconds. The rotation's sweep is done once none waits
    // since before the rotation's start.
    #[derive(diesel::QueryableByName)]
    struct Pending {
        #[diesel(sql_type = BigInt)]
        n: i64,
        #[diesel(sql_type = Nullable<diesel::sql_types::Timestamptz>)]
        oldest: Option<chrono::DateTime<chrono::Utc>>,
    }
    let pending: Pending = diesel::sql_query(
        "SELECT count(*) AS n, min(pending_since) AS oldest FROM t_ecom_order_raw \
         WHERE process_status = 'PENDING'",
    )
    .get_result(conn)
    .await?;
    match pending.oldest {
        Some(oldest) => println!(
            "{} raw orders waiting for order-processor, the oldest since {}",
            pending.n,
            oldest.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        ),
        None => println!("0 raw orders waiting for order-processor"),
    }
    Ok(())
}

/// How `status` names the key id part of an index: `t<id>` per tenant, `<id>` the first scheme's
/// index shared by every tenant (`rotate` rewrites those).
fn key_label(key_id: &str) -> String {
    match key_id.strip_prefix('t') {
        Some(id) => format!("key {id}"),
        None => format!("key {key_id}, shared by all tenants (first scheme)"),
    }
}

/// `leadctl blind-index rotate`: run after the new key is `blind_index_key` (with a new
/// `blind_index_key_id`) and the old one in `blind_index_previous_keys` in every running
/// order-processor and lead-api (which indexes revealed phones and searched numbers): rolled
/// out in two phases, the new key first among the previous keys only, so that no old pod
/// misses what a new one indexed (README; `k8s/README.md`, "Rotating a key"). Every
/// buyer is rebuilt: lookups find identities under the old key, the rebuild writes them under
/// the new one and deletes the old rows, except phones revealed before the rotation and known
/// nowhere else (their numbers are not kept): they stay under the old key, found while it is
/// configured. When `status` shows no raw order waiting since the rotation's start, the rebuild
/// is done (orders synced meanwhile wait seconds).
pub async fn rotate() -> anyhow::Result<()> {
    // The configuration first: a rotation run where the keys are missing, wrong or one key
    // under two ids would rebuild every buyer for nothing, and only say so afterwards.
    let settings: CryptoOnly =
        leadgen_settings::load(&Sources::from_env()).context("loading configuration")?;
    let crypto = &settings.crypto;
    let key = crypto.blind_index_key.as_ref().context(
        "[crypto] blind_index_key (LEADGEN__CRYPTO__BLIND_INDEX_KEY) is not set: a rotation \
         re-indexes buyers under it",
    )?;
    leadgen_crypto::BlindIndexer::new(
        crypto.blind_index_key_id,
        key,
        &crypto.blind_index_previous_keys,
    )
    .context("the blind-index keys")?;
    anyhow::ensure!(
        !leadgen_crypto::share_a_key(
            (key, &crypto.blind_index_previous_keys),
            (&crypto.data_key, &crypto.previous_keys),
        ),
        "a blind-index key is also a data key: each must be its own"
    );
    let mut conn = connect().await?;
    // The database's own clock before the first batch: the trigger writes each batch's `now()`
    // into its rows' `pending_since`, none earlier than this (not this host's clock).
    let started: chrono::DateTime<chrono::Utc> =
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Timestamptz>("now()"))
            .get_result(&mut conn)
            .await?;
    let n = requeue(&mut conn, None, None).await?;
    println!(
        "{n} raw orders handed back to order-processor at {} to re-index their buyers (orders \
         synced within [processing] pending_after_secs wait that long first); the rotation is \
         done once `status` shows no order waiting since then",
        started.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    );
    print_status(&mut conn).await
}
