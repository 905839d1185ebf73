//! Which shops the refresher renews ahead of expiry: those whose token expires within its
//! look-ahead, and a short-lived token only past half its life, not on every pass; and those
//! whose refresh token lapses before its access token, while it still works. Against the
//! real PostgreSQL. A paused shop's grant is kept alive the same way while its access token
//! lives, and a paused shop whose refresh is refused stays paused. A shop whose credentials do
//! not open fails alone.

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::t_ecom_platform_auth as auth;
use leadgen_test_support::TestDb;

/// The shops the refresher would renew now, looking half an hour ahead; by id.
async fn due_within_half_an_hour(
    conn: &mut diesel_async::AsyncPgConnection,
    now: chrono::DateTime<Utc>,
) -> Vec<i64> {
    let mut due: Vec<i64> =
        leadgen_shop_session::expiring(conn, now + Duration::minutes(30), 100, &[])
            .await
            .expect("expiring")
            .into_iter()
            .map(|row| row.id.get())
            .collect();
    due.sort_unstable();
    due
}

#[tokio::test]
async fn a_short_lived_token_is_refreshed_past_half_its_life_not_on_every_pass() {
    let db = TestDb::new().await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let now = Utc::now();
    // (stored, expires, refresh expires): a day's token with ten minutes left; a ten-minute
    // token stored a minute ago; the same stored seven minutes ago; a day's token with hours
    // left; an expired token whose record changed since. Then tokens of 90 days whose refresh
    // token lapses first: in ten minutes (refreshed now, or the grant ends with the access
    // token), in two days (not yet), and five minutes ago (too late: nothing to refresh with).
    let days = |d: i64| now + Duration::days(d);
    let cases = [
        (
            now - Duration::hours(24),
            now + Duration::minutes(10),
            None,
            true,
        ),
        (
            now - Duration::minutes(1),
            now + Duration::minutes(9),
            None,
            false,
        ),
        (
            now - Duration::minutes(7),
            now + Duration::minutes(3),
            None,
            true,
        ),
        (
            now - Duration::hours(1),
            now + Duration::hours(23),
            None,
            false,
        ),
        (
            now - Duration::minutes(1),
            now - Duration::minutes(5),
            None,
            true,
        ),
        (days(-30), days(60), Some(now + Duration::minutes(10)), true),
        (days(-30), days(60), Some(days(2)), false),
        (days(-30), days(60), Some(now - Duration::minutes(5)), false),
    ];
    let mut expected = Vec::new();
    for (stored, expires, refresh_expires, due) in cases {
        let shop = db.active_shop(1, "PDD").await;
        diesel::update(auth::table.find(shop))
            .set((
                auth::refresh_token.eq(Some("sealed-refresh")),
                auth::expiry_time.eq(Some(expires)),
                auth::refresh_expiry_time.eq(refresh_expires),
                auth::update_time.eq(stored),
            ))
            .execute(&mut conn)
            .await
            .expect("token");
        if due {
            expected.push(shop);
        }
    }
    assert_eq!(due_within_half_an_hour(&mut conn, now).await, expected);
}

/// A shop paused by the merchant keeps its grant: its tokens are refreshed as an ACTIVE shop's
/// are, so that resuming needs no new consent, while its access token is alive. Shops without a
/// grant to keep (expired, invalid, disconnected, never authorized, or paused with an access
/// token already ended) are not.
#[tokio::test]
async fn a_paused_shop_is_refreshed_and_shops_without_a_grant_are_not() {
    let db = TestDb::new().await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let now = Utc::now();
    let soon = now + Duration::minutes(10);
    let ended = now - Duration::minutes(10);
    let mut expected = Vec::new();
    for (status, expires, due) in [
        ("ACTIVE", soon, true),
        ("ACTIVE", ended, true),
        ("DISABLED", soon, true),
        ("DISABLED", ended, false),
        ("EXPIRED", soon, false),
        ("INVALID", soon, false),
        ("REVOKED", soon, false),
        ("PENDING_AUTH", soon, false),
    ] {
        let shop = db.active_shop(1, "DOUYIN").await;
        diesel::update(auth::table.find(shop))
            .set((
                auth::status.eq(status),
                auth::refresh_token.eq(Some("sealed-refresh")),
                auth::expiry_time.eq(Some(expires)),
                auth::update_time.eq(now - Duration::days(7)),
            ))
            .execute(&mut conn)
            .await
            .expect("token");
        if due {
            expected.push(shop);
        }
    }
    assert_eq!(due_within_half_an_hour(&mut conn, now).await, expected);
}

/// The refresher as configured by default (30 minutes ahead, giving up 24 hours on), with
/// quick retries, over `platforms`.
fn refresher(
    db: &TestDb,
    sealer: std::sync::Arc<leadgen_crypto::Sealer>,
    platforms: leadgen_platforms::Registry,
) -> sync_worker::refresher::Refresher {
    sync_worker::refresher::Refresher {
        pool: db.pool.clone(),
        sealer,
        platforms,
        policy: sync_worker::sync::policy(
            0,
            std::time::Duration::from_millis(10),
            std::time::Duration::from_millis(40),
        ),
        ahead: Duration::minutes(30),
        interval: std::time::Duration::from_secs(60),
        give_up: Duration::hours(24),
        failed: Default::default(),
    }
}

/// A refused refresh ends an ACTIVE shop's grant, announced; it leaves a paused shop paused
/// (the merchant's decision) and announces nothing.
#[tokio::test]
async fn a_refused_refresh_expires_an_active_shop_and_leaves_a_paused_one_paused() {
    use leadgen_db::schema::t_outbox as outbox;
    let db = TestDb::new().await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let active = db.active_shop(1, "DOUYIN").await;
    let paused = db.active_shop(1, "DOUYIN").await;
    diesel::update(auth::table.find(paused))
        .set(auth::status.eq("DISABLED"))
        .execute(&mut conn)
        .await
        .expect("status");
    let reason = "dop.token-generate-failed:token-expired 生成token失败，token已过期";
    let mut changed = Vec::new();
    for shop in [active, paused] {
        let id = leadgen_domain::PlatformId::new(shop);
        changed.push(
            leadgen_shop_session::mark_expired(&mut conn, id, None, reason, "sync-worker")
                .await
                .expect("mark"),
        );
    }
    assert_eq!(changed, [1, 0]);
    let statuses: Vec<String> = auth::table
        .filter(auth::id.eq_any([active, paused]))
        .order(auth::id)
        .select(auth::status)
        .load(&mut conn)
        .await
        .expect("statuses");
    assert_eq!(statuses, ["EXPIRED", "DISABLED"]);
    let announced: Vec<String> = outbox::table
        .filter(outbox::routing_key.eq("platform.changed.v1"))
        .select(outbox::payload)
        .load(&mut conn)
        .await
        .expect("outbox");
    assert_eq!(announced.len(), 1, "{announced:?}");
    let event: serde_json::Value = serde_json::from_str(&announced[0]).expect("json");
    assert_eq!(event["data"]["platformId"], active, "{event}");
    assert_eq!(event["data"]["previousStatus"], "ACTIVE", "{event}");
}

/// A shop whose credentials do not open (another data key, damaged) fails its own refresh and
/// rests; the pass goes on to the other shops instead of stopping at the first, which, soonest
/// to expire, would come first in every pass.
#[tokio::test]
async fn credentials_that_do_not_open_fail_their_shop_not_the_pass() {
    use sync_worker::refresher::Refreshed;
    let db = TestDb::new().await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let now = Utc::now();
    for minutes in [1, 2] {
        let shop = db.active_shop(1, "PDD").await;
        diesel::update(auth::table.find(shop))
            .set((
                auth::refresh_token.eq(Some("not-sealed")),
                auth::expiry_time.eq(Some(now + Duration::minutes(minutes))),
                auth::update_time.eq(now - Duration::days(1)),
            ))
            .execute(&mut conn)
            .await
            .expect("token");
    }
    let refresher = refresher(
        &db,
        leadgen_runtime::sealer(&leadgen_test_support::crypto_settings()).expect("sealer"),
        leadgen_runtime::platform_registry(
            &leadgen_test_support::unreachable_platforms(),
            &db.pool,
        )
        .expect("registry"),
    );
    let done = refresher.refresh_once().await.expect("the pass goes on");
    assert_eq!(
        done,
        Refreshed {
            refreshed: 0,
            expired: 0,
            failed: 2
        }
    );
    // Both rest: the next pass leaves them out.
    assert_eq!(
        refresher.refresh_once().await.expect("pass"),
        Refreshed::default()
    );
}

/// A platform whose token endpoint answers every refresh with a code nobody documented (PDD's
/// 20002 to a dead refresh token), or, when `down`, does not answer at all.
struct RefusingRefresh {
    down: bool,
}

#[async_trait::async_trait]
impl leadgen_platforms::PlatformClient for RefusingRefresh {
    fn platform(&self) -> leadgen_domain::PlatformType {
        leadgen_domain::PlatformType::Pdd
    }
    fn authorize_url(&self, _: &leadgen_platforms::AppCredentials, _: &str, _: &str) -> String {
        String::new()
    }
    async fn exchange_code(
        &self,
        _: &leadgen_platforms::AppCredentials,
        _: &str,
        _: &str,
    ) -> Result<leadgen_platforms::TokenSet, leadgen_platforms::PlatformError> {
        Err(leadgen_platforms::PlatformError::InvalidRequest(
            "not in this test".into(),
        ))
    }
    async fn refresh(
        &self,
        _: &leadgen_platforms::AppCredentials,
        _: &str,
    ) -> Result<leadgen_platforms::TokenSet, leadgen_platforms::PlatformError> {
        Err(if self.down {
            leadgen_platforms::PlatformError::Unavailable("connection refused".into())
        } else {
            leadgen_platforms::PlatformError::Unknown {
                code: "20002".into(),
                message: "refresh_token无效".into(),
            }
        })
    }
    fn windows(
        &self,
        range: leadgen_platforms::TimeWindow,
        _: chrono::DateTime<Utc>,
        _: leadgen_platforms::Listing,
    ) -> Vec<leadgen_platforms::TimeWindow> {
        vec![range]
    }
    async fn list_orders(
        &self,
        _: &leadgen_platforms::AppCredentials,
        _: &str,
        _: &leadgen_platforms::TimeWindow,
        _: leadgen_platforms::Listing,
        _: Option<&leadgen_platforms::PageCursor>,
    ) -> Result<leadgen_platforms::OrderPage, leadgen_platforms::PlatformError> {
        Err(leadgen_platforms::PlatformError::InvalidRequest(
            "not in this test".into(),
        ))
    }
    fn reveal_purposes(&self) -> &'static [leadgen_platforms::reveal::RevealPurpose] {
        &[]
    }
    async fn decrypt_contact(
        &self,
        _: &leadgen_platforms::AppCredentials,
        _: &str,
        _: &leadgen_platforms::reveal::DecryptRequest,
    ) -> Result<leadgen_platforms::reveal::RevealedContact, leadgen_platforms::PlatformError> {
        Err(leadgen_platforms::PlatformError::InvalidRequest(
            "not in this test".into(),
        ))
    }
}

/// A shop whose platform said its access token expired and has answered its refreshes without
/// tokens since (PDD, JD and Kuaishou document no refusal) is ended once that has lasted the
/// give-up time and the platform answers so again, though its token's expiry is a year away;
/// one refused for less is tried again and stays ACTIVE, and so does one whose platform does
/// not answer at all (an outage is not a refusal).
#[tokio::test]
async fn a_shop_whose_refreshes_stay_refused_past_the_give_up_time_is_ended() {
    use leadgen_db::sealed;
    use sync_worker::refresher::Refreshed;
    for down in [false, true] {
        let db = TestDb::new().await;
        let sealer =
            leadgen_runtime::sealer(&leadgen_test_support::crypto_settings()).expect("sealer");
        let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
        let now = Utc::now();
        let mut shops = Vec::new();
        for refused_hours_ago in [30, 2] {
            let shop = db.active_shop(1, "PDD").await;
            let id = leadgen_domain::PlatformId::new(shop);
            let seal = |column, value| {
                sealer
                    .seal(&sealed::platform_auth(column, id), value)
                    .expect("seal")
            };
            diesel::update(auth::table.find(shop))
                .set((
                    auth::auth_info.eq(seal("auth_info", "{\"appSecret\":\"s\"}")),
                    auth::access_token.eq(Some(seal("access_token", "AT"))),
                    auth::refresh_token.eq(Some(seal("refresh_token", "RT"))),
                    auth::expiry_time.eq(Some(now + Duration::days(365))),
                    auth::refresh_refused_since.eq(Some(now - Duration::hours(refused_hours_ago))),
                ))
                .execute(&mut conn)
                .await
                .expect("shop");
            shops.push(shop);
        }
        let refresher = refresher(
            &db,
            sealer,
            leadgen_platforms::registry::Registry::default()
                .with_client(std::sync::Arc::new(RefusingRefresh { down })),
        );
        let done = refresher.refresh_once().await.expect("pass");
        let expired = usize::from(!down);
        assert_eq!(
            done,
            Refreshed {
                refreshed: 0,
                expired,
                failed: 2 - expired
            },
            "down: {down}"
        );
        let rows: Vec<(String, Option<String>)> = auth::table
            .filter(auth::id.eq_any(&shops))
            .order(auth::id)
            .select((auth::status, auth::status_reason))
            .load(&mut conn)
            .await
            .expect("statuses");
        if down {
            assert_eq!(rows[0], ("ACTIVE".to_owned(), None), "{rows:?}");
        } else {
            assert_eq!(rows[0].0, "INVALID", "{rows:?}");
            let reason = rows[0].1.as_deref().unwrap_or_default();
            assert!(
                reason.contains("20002") && reason.contains("重新授权"),
                "{reason}"
            );
        }
        assert_eq!(rows[1], ("ACTIVE".to_owned(), None), "{rows:?}");
    }
}
