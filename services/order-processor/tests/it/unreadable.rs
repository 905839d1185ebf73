//! A stored value that no longer reads (sealed under a key that is gone, damaged, written by a
//! newer build) holds back no other lead, buyer or shop: the rescore leaves that lead as it is
//! and rescores the rest, a buyer's rebuild reads around that order, a purge goes through, and
//! a shop whose rescore fails all the same waits while the shops behind it are rescored.

use chrono::Duration;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::{
    t_ecom_order_processed, t_ecom_order_raw, t_lead_shop_stats, t_order_lead,
};
use leadgen_domain::NeutralStatus::Completed;
use leadgen_domain::scoring::MODEL_VERSION;
use order_processor::retention::Step;

use crate::support::{Run, Spec, fault, order};

/// What a key that is gone leaves: a sealed value no configured key opens.
const SEALED_UNDER_A_KEY_GONE: &str = "v1.9.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
/// A damaged sealed value: under the configured key, but it does not open.
const DAMAGED: &str = "v1.1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn spec(shop: usize, id: &str, day: i64, buyer: &str, phone: Option<&str>) -> Spec {
    Spec {
        shop,
        order: order(id, day, Completed, 2_000 + day * 100, Some(buyer), phone),
    }
}

/// The lead's model version and its order ids, sorted.
async fn lead_state(run: &Run, lead: i64) -> (String, Vec<String>) {
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    let (model, aggregate): (String, serde_json::Value) = t_order_lead::table
        .find(lead)
        .select((t_order_lead::model_version, t_order_lead::aggregate))
        .first(&mut conn)
        .await
        .unwrap();
    let mut orders: Vec<String> = serde_json::from_value(aggregate["orderIds"].clone()).unwrap();
    orders.sort();
    (model, orders)
}

#[tokio::test]
async fn a_lead_that_does_not_read_is_left_as_it_is_and_every_other_is_rescored() {
    let run = Run::new().await;
    let ids = run
        .store(
            &[
                spec(0, "a1", 10, "A", Some("13800000001")),
                spec(0, "b1", 20, "B", None),
                spec(0, "c1", 30, "C", None),
                spec(0, "c2", 50, "C", None),
                spec(1, "d1", 40, "D", None),
            ],
            "PENDING",
        )
        .await;
    run.process(&ids).await;
    run.rescore_all().await;
    let [a, b, c, d] = [
        run.lead_of("a1").await,
        run.lead_of("b1").await,
        run.lead_of("c1").await,
        run.lead_of("d1").await,
    ];
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    // A's contact was sealed under a key that is gone; B's aggregate was damaged.
    diesel::update(t_order_lead::table.find(a))
        .set(t_order_lead::contact_info.eq(SEALED_UNDER_A_KEY_GONE))
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::sql_query(
        "UPDATE t_order_lead SET aggregate = jsonb_set(aggregate, '{lastPaidTime}', '\"昨天\"') \
         WHERE id = $1",
    )
    .bind::<diesel::sql_types::Int8, _>(b)
    .execute(&mut conn)
    .await
    .unwrap();
    // Every lead is due for a new score (as after a model change), every shop changed.
    diesel::update(t_order_lead::table)
        .set(t_order_lead::model_version.eq("stale"))
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::sql_query("UPDATE t_lead_shop_stats SET dirty_seq = dirty_seq + 1, dirty_at = now()")
        .execute(&mut conn)
        .await
        .unwrap();

    run.rescore_all().await;
    for (lead, model) in [
        (a, "stale"),
        (b, "stale"),
        (c, MODEL_VERSION),
        (d, MODEL_VERSION),
    ] {
        assert_eq!(lead_state(&run, lead).await.0, model, "lead {lead}");
    }
    let unfinished: i64 = t_lead_shop_stats::table
        .filter(t_lead_shop_stats::rescored_seq.lt(t_lead_shop_stats::dirty_seq))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(unfinished, 0, "both shops are rescored");
}

#[tokio::test]
async fn a_shop_whose_rescore_fails_waits_while_the_shops_behind_it_are_rescored() {
    let run = Run::new().await;
    let ids = run
        .store(
            &[spec(0, "e1", 10, "E", None), spec(1, "f1", 20, "F", None)],
            "PENDING",
        )
        .await;
    // Both shops changed at the same instant: the first shop is claimed first.
    run.process(&ids).await;
    let failing = run.shops[0];
    fault(
        &run,
        "t_lead_shop_stats",
        Some(&format!(
            "NEW.platform_id = {failing} AND NEW.as_of IS NOT NULL"
        )),
    )
    .await;
    let rescore = run.rescore(3);
    assert!(rescore.rescore_once().await.is_err());
    let next = rescore.rescore_once().await.unwrap();
    assert_eq!(next.map(|done| done.platform_id), Some(run.shops[1]));
    assert_eq!(rescore.rescore_once().await.unwrap(), None, "it waits");

    // Still due, and it waits longer after each failure in a row (30 s, then 60 s).
    #[derive(QueryableByName, Debug, PartialEq)]
    struct Shop {
        #[diesel(sql_type = diesel::sql_types::Int8)]
        id: i64,
    }
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    let mut waiting_over = async |seconds: i64| -> Vec<Shop> {
        diesel::sql_query(
            "SELECT platform_id AS id FROM t_lead_shop_stats \
             WHERE rescored_seq < dirty_seq AND lease_until > now() + make_interval(secs => $1::float8)",
        )
        .bind::<diesel::sql_types::Int8, _>(seconds)
        .load(&mut conn)
        .await
        .unwrap()
    };
    assert_eq!(waiting_over(20).await, [Shop { id: failing }]);
    assert_eq!(waiting_over(50).await, []);
    let mut conn2 = leadgen_db::conn(&run.db.pool).await.unwrap();
    diesel::sql_query("UPDATE t_lead_shop_stats SET lease_until = now() - interval '1 second'")
        .execute(&mut conn2)
        .await
        .unwrap();
    assert!(rescore.rescore_once().await.is_err());
    assert_eq!(waiting_over(50).await, [Shop { id: failing }]);
}

#[tokio::test]
async fn a_stored_order_that_does_not_read_holds_back_no_later_order_of_its_buyer() {
    let run = Run::new().await;
    let first = run
        .store(
            &[
                spec(0, "g0", 5, "G", None),
                spec(0, "g1", 10, "G", Some("13800001111")),
            ],
            "PENDING",
        )
        .await;
    run.process(&first).await;
    // g1's stored contact is damaged; g0's status is one this build does not know.
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    for (order_id, column, value) in [
        ("g1", "contact_info", DAMAGED),
        ("g0", "status", "AWAITING_PICKUP"),
    ] {
        diesel::sql_query(format!(
            "UPDATE t_ecom_order_processed SET {column} = $1 WHERE order_id = $2"
        ))
        .bind::<diesel::sql_types::Text, _>(value)
        .bind::<diesel::sql_types::Text, _>(order_id)
        .execute(&mut conn)
        .await
        .unwrap();
    }

    let next = run
        .store(&[spec(0, "g2", 20, "G", Some("13900002222"))], "PENDING")
        .await;
    let summary = run.process(&next).await;
    let lead = run.lead_of("g2").await;
    assert_eq!(summary.updated_leads, [lead]);
    assert_eq!(
        lead_state(&run, lead).await.1,
        ["g1", "g2"],
        "the order that does not read is left out; the one whose contact does not is kept"
    );
    let masked: String = t_order_lead::table
        .find(lead)
        .select(t_order_lead::contact_masked)
        .first(&mut conn)
        .await
        .unwrap();
    assert!(masked.ends_with("2222"), "{masked}");
}

#[tokio::test]
async fn a_purge_goes_through_a_stored_order_that_does_not_read() {
    let run = Run::new().await;
    let ids = run
        .store(
            &[
                spec(0, "h1", 10, "H", Some("13800003333")),
                spec(1, "h2", 20, "H2", Some("138 0000 3333")),
                spec(1, "h3", 30, "H2", None),
            ],
            "PENDING",
        )
        .await;
    run.process(&ids).await;
    let lead = run.lead_of("h1").await;
    assert_eq!(run.lead_of("h3").await, lead, "one buyer across both shops");
    // Damaged: h2's raw order and its processed contact.
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    diesel::update(t_ecom_order_raw::table.find(ids[1]))
        .set(t_ecom_order_raw::normalized.eq(Some(DAMAGED)))
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::update(t_ecom_order_processed::table.filter(t_ecom_order_processed::order_id.eq("h2")))
        .set(t_ecom_order_processed::contact_info.eq(Some(DAMAGED)))
        .execute(&mut conn)
        .await
        .unwrap();

    run.revoke(0, -Duration::minutes(1)).await;
    let mut steps = Vec::new();
    while let Some(step) = run.retention(10).purge_step().await.unwrap() {
        steps.push(step);
        assert!(steps.len() < 5, "the purge does not end: {steps:?}");
    }
    assert_eq!(
        steps,
        [
            Step::Chunk {
                shop: run.shops[0],
                removed: Vec::new(),
                rebuilt: vec![lead],
                orders: 1,
            },
            Step::Finished {
                shop: run.shops[0],
                raw_orders: 0,
                sync_tasks: 1,
            },
        ]
    );
    assert_eq!(lead_state(&run, lead).await.1, ["h2", "h3"]);
}

/// A stored contact sealed under a data key this process does not hold is its configuration to
/// mend (a replica started without a key still in use), not data gone: the buyer's rebuild
/// fails, to be retried, rather than rewrite the lead without a contact other replicas read.
#[tokio::test]
async fn a_contact_under_a_key_this_process_lacks_fails_the_rebuild() {
    use diesel_async::AsyncConnection as _;
    use leadgen_db::ScopedFutureExt as _;
    let run = Run::new().await;
    let first = run
        .store(&[spec(0, "k1", 10, "K", Some("13800004444"))], "PENDING")
        .await;
    run.process(&first).await;
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    diesel::update(t_ecom_order_processed::table.filter(t_ecom_order_processed::order_id.eq("k1")))
        .set(t_ecom_order_processed::contact_info.eq(Some(SEALED_UNDER_A_KEY_GONE)))
        .execute(&mut conn)
        .await
        .unwrap();
    let next = run.store(&[spec(0, "k2", 20, "K", None)], "PENDING").await;
    let processor = std::sync::Arc::clone(&run.processor);
    let failed = conn
        .transaction::<_, anyhow::Error, _>(|conn| {
            async move {
                let tenant = leadgen_domain::TenantId::new(1);
                let rows =
                    order_processor::repo::raw_orders::find_many(conn, tenant, &next).await?;
                order_processor::handler::run_batch(conn, &processor, tenant, &rows).await
            }
            .scope_boxed()
        })
        .await
        .expect_err("the rebuild fails");
    assert!(format!("{failed:#}").contains("data key 9"), "{failed:#}");
}
