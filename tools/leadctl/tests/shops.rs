//! `leadctl shops list` against the real PostgreSQL, as an operator paged by
//! `LeadgenShopsExpired` runs it: every tenant's shops in the statuses asked for, with why.

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

mod support;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::t_ecom_platform_auth as auth;
use leadgen_test_support::TestDb;

/// `leadctl shops list <args>` on `db`: whether it succeeded, and its standard output.
async fn list(db: &TestDb, args: &[&str]) -> (bool, String) {
    let args: Vec<&str> = ["shops", "list"].iter().chain(args).copied().collect();
    support::leadctl(db, &args).await
}

#[tokio::test]
async fn lists_every_tenants_expired_and_invalid_shops_with_why() {
    let db = TestDb::new().await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let mut shops = Vec::new();
    for (tenant, platform, status, reason) in [
        (1, "JD", "EXPIRED", Some("刷新令牌已过期")),
        (2, "PDD", "INVALID", Some("20002 refresh_token无效")),
        (2, "PDD", "ACTIVE", None),
    ] {
        let shop = db.active_shop(tenant, platform).await;
        diesel::update(auth::table.find(shop))
            // Connected once: it holds tokens (sealed).
            .set((
                auth::status.eq(status),
                auth::status_reason.eq(reason),
                auth::access_token.eq(Some("sealed-token")),
            ))
            .execute(&mut conn)
            .await
            .expect("status");
        shops.push(shop);
    }

    // A consent that never connected a shop is none of them.
    let abandoned = db.active_shop(3, "JD").await;
    diesel::update(auth::table.find(abandoned))
        .set((
            auth::status.eq("INVALID"),
            auth::access_token.eq(None::<String>),
        ))
        .execute(&mut conn)
        .await
        .expect("abandoned");

    let (ok, out) = list(&db, &[]).await;
    assert!(ok, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "a header and two shops: {out}");
    assert!(
        lines[1].starts_with(&format!("1\t{}\tJD\t", shops[0])),
        "{out}"
    );
    assert!(
        lines[1].contains("EXPIRED") && lines[1].contains("刷新令牌已过期"),
        "{out}"
    );
    assert!(
        lines[2].starts_with(&format!("2\t{}\tPDD\t", shops[1])),
        "{out}"
    );
    assert!(lines[2].contains("INVALID"), "{out}");

    let (ok, out) = list(&db, &["--status", "INVALID", "--platform", "JD"]).await;
    assert!(ok, "{out}");
    assert_eq!(out.lines().count(), 1, "the header alone: {out}");

    let (ok, _) = list(&db, &["--status", "GONE"]).await;
    assert!(!ok, "an unknown status is refused");
}
