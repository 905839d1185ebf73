//! `leadctl shops list`: every tenant's shops in a status, for an operator (the API shows each
//! tenant its own): the shops `LeadgenShopsExpired` speaks of, with why and since when, so that
//! their merchants can be told to authorize again.

use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use diesel_async::RunQueryDsl;

#[derive(diesel::QueryableByName)]
struct Shop {
    #[diesel(sql_type = BigInt)]
    tenant_id: i64,
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    platform_type: String,
    #[diesel(sql_type = Nullable<Text>)]
    shop_name: Option<String>,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Timestamptz)]
    update_time: chrono::DateTime<chrono::Utc>,
    #[diesel(sql_type = Nullable<Text>)]
    status_reason: Option<String>,
}

/// Prints the shops in one of `statuses` (of `platform`, when given), longest in it first: one
/// tab-separated line each (tenant, shop id, platform, name, status, since, reason). Renewed
/// shops' alias records, and consents that never connected a shop (`INVALID` without ever
/// holding a token), are left out, as in the `leadgen_shops` gauge the alert reads.
pub async fn list(statuses: &[String], platform: Option<&str>) -> anyhow::Result<()> {
    let mut conn = crate::leads::connect().await?;
    let shops: Vec<Shop> = diesel::sql_query(
        "SELECT tenant_id, id, platform_type, shop_name, status, update_time, status_reason \
         FROM t_ecom_platform_auth \
         WHERE status = ANY($1) AND ($2::text IS NULL OR platform_type = $2) \
           AND superseded_by IS NULL AND (access_token IS NOT NULL OR status <> 'INVALID') \
         ORDER BY update_time, id",
    )
    .bind::<diesel::sql_types::Array<Text>, _>(statuses)
    .bind::<Nullable<Text>, _>(platform)
    .load(&mut conn)
    .await?;
    println!("tenant\tshop\tplatform\tname\tstatus\tsince\treason");
    for s in &shops {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            s.tenant_id,
            s.id,
            s.platform_type,
            s.shop_name.as_deref().unwrap_or(""),
            s.status,
            s.update_time
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            s.status_reason
                .as_deref()
                .unwrap_or("")
                .replace(['\t', '\n'], " "),
        );
    }
    eprintln!("{} shop(s)", shops.len());
    Ok(())
}
