//! `leadctl shops list`: every tenant's shops in a status, for an operator (the API shows each
//! tenant its own): the shops `LeadgenShopsExpired` speaks of, with why and since when, so that
//! their merchants can be told to authorize again. `leadctl shops behind`: the ACTIVE shops
//! whose changes were read longest ago, the ones `LeadgenShopSyncBehind` speaks of.

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use diesel_async::RunQueryDsl;

/// Which shop a line is about: its first four columns in both listings.
#[derive(QueryableByName)]
struct Named {
    #[diesel(sql_type = BigInt)]
    tenant_id: i64,
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    platform_type: String,
    #[diesel(sql_type = Nullable<Text>)]
    shop_name: Option<String>,
}

impl Named {
    /// Tenant, shop id, platform and name, tab-separated (a tab or newline in the name as a
    /// space).
    fn columns(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}",
            self.tenant_id,
            self.id,
            self.platform_type,
            self.shop_name
                .as_deref()
                .unwrap_or("")
                .replace(['\t', '\n'], " ")
        )
    }
}

#[derive(QueryableByName)]
struct Shop {
    #[diesel(embed)]
    shop: Named,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Timestamptz)]
    update_time: chrono::DateTime<chrono::Utc>,
    #[diesel(sql_type = Nullable<Text>)]
    status_reason: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    purge_after: Option<chrono::DateTime<chrono::Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    purged_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Prints the shops in one of `statuses` (of `platform`, when given), longest in it first: one
/// tab-separated line each (tenant, shop id, platform, name, status, since, reason, purge at:
/// when the shop's order history is due to be purged, purged: when it was). Renewed
/// shops' alias records, and consents that never connected a shop (`INVALID` without ever
/// holding a token), are left out, as in the `leadgen_shops` gauge the alert reads.
pub async fn list(statuses: &[String], platform: Option<&str>) -> anyhow::Result<()> {
    let mut conn = crate::leads::connect().await?;
    let shops: Vec<Shop> = diesel::sql_query(
        "SELECT tenant_id, id, platform_type, shop_name, status, update_time, status_reason, \
                purge_after, purged_at \
         FROM t_ecom_platform_auth \
         WHERE status = ANY($1) AND ($2::text IS NULL OR platform_type = $2) \
           AND superseded_by IS NULL AND (access_token IS NOT NULL OR status <> 'INVALID') \
         ORDER BY update_time, id",
    )
    .bind::<diesel::sql_types::Array<Text>, _>(statuses)
    .bind::<Nullable<Text>, _>(platform)
    .load(&mut conn)
    .await?;
    println!("tenant\tshop\tplatform\tname\tstatus\tsince\treason\tpurge_at\tpurged");
    for s in &shops {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            s.shop.columns(),
            s.status,
            s.update_time
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            s.status_reason
                .as_deref()
                .unwrap_or("")
                .replace(['\t', '\n'], " "),
            time(&s.purge_after),
            time(&s.purged_at),
        );
    }
    eprintln!("{} shop(s)", shops.len());
    Ok(())
}

/// A time in the listings (empty when none).
fn time(t: &Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

#[derive(QueryableByName)]
struct Behind {
    #[diesel(embed)]
    shop: Named,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    modified_watermark: Option<chrono::DateTime<chrono::Utc>>,
    #[diesel(sql_type = diesel::sql_types::Double)]
    lag_hours: f64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last_sync_time: Option<chrono::DateTime<chrono::Utc>>,
}

/// Prints the ACTIVE shops (of `platform`, when given) whose changes were read longest ago, most
/// behind first, `limit` of them: tenant, shop id, platform, name, watermark (every change up to
/// it is stored; none yet: since it was connected), hours behind, last sync. The lag is the
/// `leadgen_sync_watermark_lag_seconds` gauge's, per shop.
pub async fn behind(platform: Option<&str>, limit: i64) -> anyhow::Result<()> {
    let mut conn = crate::leads::connect().await?;
    let shops: Vec<Behind> = diesel::sql_query(
        "SELECT tenant_id, id, platform_type, shop_name, modified_watermark, \
                extract(epoch FROM now() - coalesce(modified_watermark, create_time))::float8 / 3600 \
                    AS lag_hours, \
                last_sync_time \
         FROM t_ecom_platform_auth \
         WHERE status = 'ACTIVE' AND superseded_by IS NULL \
           AND ($1::text IS NULL OR platform_type = $1) \
         ORDER BY coalesce(modified_watermark, create_time), id LIMIT $2",
    )
    .bind::<Nullable<Text>, _>(platform)
    .bind::<BigInt, _>(limit)
    .load(&mut conn)
    .await?;
    println!("tenant\tshop\tplatform\tname\twatermark\thours_behind\tlast_sync");
    for s in &shops {
        println!(
            "{}\t{}\t{:.1}\t{}",
            s.shop.columns(),
            time(&s.modified_watermark),
            s.lag_hours,
            time(&s.last_sync_time),
        );
    }
    eprintln!("{} shop(s)", shops.len());
    Ok(())
}
