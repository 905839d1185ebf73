//! `leadctl syncs list` and `leadctl shops behind` against the real PostgreSQL, as an operator
//! paged by `LeadgenSyncsFailing` or `LeadgenShopSyncBehind` runs them: every tenant's failed
//! syncs with why, and the shops whose changes were read longest ago.

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

mod support;

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::{t_ecom_platform_auth as auth, t_ecom_sync_task as task};
use leadgen_test_support::TestDb;
use support::leadctl;

#[tokio::test]
async fn lists_every_tenants_failed_syncs_newest_first_with_why() {
    let db = TestDb::new().await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let jd = db.active_shop(1, "JD").await;
    let pdd = db.active_shop(2, "PDD").await;
    let mut tasks = Vec::new();
    for (tenant, shop, platform, status, ago, error) in [
        (
            1,
            jd,
            "JD",
            "FAILED",
            30,
            Some("电商平台限流\n（平台返回：7 limited）"),
        ),
        (
            2,
            pdd,
            "PDD",
            "FAILED",
            10,
            Some("平台会话已失效，请重新授权"),
        ),
        (2, pdd, "PDD", "COMPLETED", 5, None),
    ] {
        let at = Utc::now() - chrono::Duration::minutes(ago);
        let id: i64 = diesel::insert_into(task::table)
            .values((
                task::tenant_id.eq(tenant),
                task::platform_id.eq(shop),
                task::platform_type.eq(platform),
                task::trigger_type.eq("SCHEDULED"),
                task::status.eq(status),
                task::window_start.eq(at - chrono::Duration::hours(1)),
                task::window_end.eq(at),
                task::sync_time.eq(at),
                task::finished_at.eq(Some(at)),
                task::error_message.eq(error),
            ))
            .returning(task::id)
            .get_result(&mut conn)
            .await
            .expect("task");
        tasks.push(id);
    }

    let (ok, out) = leadctl(&db, &["syncs", "list"]).await;
    assert!(ok, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.len(),
        3,
        "a header and the two failed, newest first: {out}"
    );
    assert!(
        lines[1].starts_with(&format!("2\t{}\t{pdd}\tPDD\tSCHEDULED\tFAILED\t", tasks[1])),
        "{out}"
    );
    assert!(lines[1].contains("平台会话已失效"), "{out}");
    assert!(
        lines[2].starts_with(&format!("1\t{}\t{jd}\tJD\t", tasks[0])),
        "{out}"
    );
    assert!(
        lines[2].contains("电商平台限流 （平台返回"),
        "one line: {out}"
    );

    let (ok, out) = leadctl(
        &db,
        &[
            "syncs",
            "list",
            "--status",
            "COMPLETED,FAILED",
            "--shop",
            &pdd.to_string(),
        ],
    )
    .await;
    assert!(ok, "{out}");
    assert_eq!(out.lines().count(), 3, "both of the shop's: {out}");
    let (ok, out) = leadctl(
        &db,
        &["syncs", "list", "--tenant", "1", "--platform", "PDD"],
    )
    .await;
    assert!(ok, "{out}");
    assert_eq!(out.lines().count(), 1, "the header alone: {out}");
    let (ok, _) = leadctl(&db, &["syncs", "list", "--status", "LOST"]).await;
    assert!(!ok, "an unknown status is refused");
}

#[tokio::test]
async fn lists_the_active_shops_whose_changes_were_read_longest_ago_first() {
    let db = TestDb::new().await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let current = db.active_shop(1, "JD").await;
    let stale = db.active_shop(2, "JD").await;
    let paused = db.active_shop(3, "JD").await;
    for (shop, hours, status) in [
        (current, 1, "ACTIVE"),
        (stale, 30, "ACTIVE"),
        (paused, 90, "DISABLED"),
    ] {
        diesel::update(auth::table.find(shop))
            .set((
                auth::modified_watermark.eq(Some(Utc::now() - chrono::Duration::hours(hours))),
                auth::status.eq(status),
            ))
            .execute(&mut conn)
            .await
            .expect("watermark");
    }
    let (ok, out) = leadctl(&db, &["shops", "behind"]).await;
    assert!(ok, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "a header and the two ACTIVE shops: {out}");
    assert!(lines[1].starts_with(&format!("2\t{stale}\tJD\t")), "{out}");
    assert!(lines[1].contains("\t30.0\t"), "hours behind: {out}");
    assert!(
        lines[2].starts_with(&format!("1\t{current}\tJD\t")),
        "{out}"
    );
    let (ok, out) = leadctl(&db, &["shops", "behind", "--limit", "1"]).await;
    assert!(ok && out.lines().count() == 2, "{out}");
    let (ok, _) = leadctl(&db, &["shops", "behind", "--platform", "ALIEXPRESS"]).await;
    assert!(!ok, "an unknown platform is refused");
}
