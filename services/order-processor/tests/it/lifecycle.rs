//! Changes reach leads; events carry no clear contact; per-order leads of the old schema become
//! buyer-leads with their sales decisions.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::{t_ecom_order_processed, t_lead_status_change, t_order_lead, t_outbox};
use leadgen_domain::NeutralStatus;

use crate::support::{Run, Spec, order};

async fn outbox(run: &Run) -> Vec<(String, serde_json::Value)> {
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    t_outbox::table
        .order(t_outbox::id.asc())
        .select((t_outbox::routing_key, t_outbox::payload))
        .load::<(String, String)>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|(key, payload)| (key, serde_json::from_str(&payload).unwrap()))
        .collect()
}

/// The lead's contact verdict and kind.
async fn contact_of(run: &Run, lead: i64) -> (String, String) {
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    t_order_lead::table
        .find(lead)
        .select((t_order_lead::contact_validity, t_order_lead::contact_kind))
        .first::<(String, String)>(&mut conn)
        .await
        .unwrap()
}

/// A platform ciphertext of a phone, with the platform's mask.
fn encrypted(value: &str, masked: &str) -> leadgen_domain::ContactField {
    leadgen_domain::ContactField {
        kind: leadgen_domain::ContactKind::PlatformEncrypted,
        value: value.into(),
        masked: Some(masked.into()),
        expires_at: None,
        decryptable: false,
    }
}

/// An order placed and left unpaid that the platform later closes unpaid: the buyer no longer
/// awaits payment, and the lead says so and announces it.
#[tokio::test]
async fn an_unpaid_order_that_later_closes_updates_the_lead_and_is_announced() {
    let run = Run::new().await;
    let buyer = |id: &str, status: NeutralStatus| Spec {
        shop: 0,
        order: order(id, 30, status, 9_900, Some("buyer"), Some("13800000002")),
    };
    let ids = run
        .store(
            &[
                buyer("c1", NeutralStatus::Completed),
                buyer("c2", NeutralStatus::Unpaid),
            ],
            "PENDING",
        )
        .await;
    let lead = run.process(&ids).await.new_leads[0];
    async fn facts(run: &Run, lead: i64) -> (Vec<String>, i32) {
        let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
        t_order_lead::table
            .find(lead)
            .select((t_order_lead::intention_tags, t_order_lead::version))
            .first(&mut conn)
            .await
            .unwrap()
    }
    let (tags, version) = facts(&run, lead).await;
    assert!(tags.contains(&"未支付".to_owned()), "{tags:?}");

    let ids = run
        .store(&[buyer("c2", NeutralStatus::Closed)], "PENDING")
        .await;
    assert_eq!(run.process(&ids).await.updated_leads, vec![lead]);
    let (tags, after) = facts(&run, lead).await;
    assert!(!tags.contains(&"未支付".to_owned()), "{tags:?}");
    assert!(after > version, "the change moves the lead's version");
    let events = outbox(&run).await;
    let (key, updated) = events.last().unwrap();
    assert_eq!(key, "lead.updated.v1");
    assert_eq!(updated["data"]["lead"]["leadId"], lead);
    assert_eq!(updated["data"]["lead"]["unpaidCount"], 0, "{updated}");
    assert_eq!(updated["data"]["lead"]["orderCount"], 2, "{updated}");
    let changes = updated["data"]["changes"].as_array().unwrap();
    assert!(changes.contains(&serde_json::json!("TAGS")), "{changes:?}");
}

#[tokio::test]
async fn a_later_refund_updates_the_lead_and_is_announced() {
    let run = Run::new().await;
    let first = [
        Spec {
            shop: 0,
            order: order(
                "a1",
                10,
                NeutralStatus::Completed,
                20_000,
                Some("buyer"),
                Some("13800000001"),
            ),
        },
        Spec {
            shop: 0,
            order: order(
                "a2",
                40,
                NeutralStatus::Completed,
                30_000,
                Some("buyer"),
                Some("13800000001"),
            ),
        },
    ];
    let ids = run.store(&first, "PENDING").await;
    let summary = run.process(&ids).await;
    assert_eq!(summary.new_leads.len(), 1);
    let lead = summary.new_leads[0];
    let events = outbox(&run).await;
    let keys: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, vec!["lead.identified.v2", "lead.identified.v1"]);
    let text = serde_json::to_string(&events).unwrap();
    assert!(
        !text.contains("13800000001"),
        "a clear phone in an event: {text}"
    );
    assert_eq!(events[0].1["data"]["lead"]["orderCount"], 2);
    assert_eq!(
        events[0].1["data"]["lead"]["modelVersion"],
        leadgen_domain::scoring::MODEL_VERSION
    );

    // The second order is refunded after the fact: the platform sends it again, changed.
    let mut refunded = order(
        "a2",
        40,
        NeutralStatus::Closed,
        30_000,
        Some("buyer"),
        Some("13800000001"),
    );
    refunded.refunded = true;
    refunded.paid_at = Some(refunded.created_at);
    let ids = run
        .store(
            &[Spec {
                shop: 0,
                order: refunded,
            }],
            "PENDING",
        )
        .await;
    let summary = run.process(&ids).await;
    assert_eq!(summary.updated_leads, vec![lead]);
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    let (tags, paid_total, version): (Vec<String>, i64, i32) = t_order_lead::table
        .find(lead)
        .select((
            t_order_lead::intention_tags,
            t_order_lead::paid_total_fen,
            t_order_lead::version,
        ))
        .first(&mut conn)
        .await
        .unwrap();
    assert!(tags.contains(&"退款售后".to_owned()), "{tags:?}");
    assert_eq!(paid_total, 20_000, "the refunded order is no longer spend");
    assert_eq!(version, 2);
    let events = outbox(&run).await;
    let (key, updated) = events.last().unwrap();
    assert_eq!(key, "lead.updated.v1");
    assert_eq!(updated["data"]["lead"]["leadId"], lead);
    assert_eq!(updated["data"]["lead"]["afterSaleCount"], 1);
    let changes = updated["data"]["changes"].as_array().unwrap();
    assert!(changes.contains(&serde_json::json!("TAGS")), "{changes:?}");
    // Its paid total moved: the snapshot's order figures are new, and the event says so.
    assert_eq!(updated["data"]["ordersChanged"], true, "{updated}");
    assert_eq!(updated["data"]["lead"]["paidTotal"], "200.00", "{updated}");

    // The same content again changes nothing that is announced.
    let before = outbox(&run).await.len();
    // The first order again, as stored or with a new status; the lead's version after it.
    let again = |status: NeutralStatus| {
        let run = &run;
        async move {
            let a1 = order("a1", 10, status, 20_000, Some("buyer"), Some("13800000001"));
            let ids = run.store(&[Spec { shop: 0, order: a1 }], "PENDING").await;
            run.process(&ids).await;
            let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
            t_order_lead::table
                .find(lead)
                .select(t_order_lead::version)
                .first::<i32>(&mut conn)
                .await
                .unwrap()
        }
    };
    let version = again(NeutralStatus::Completed).await;
    assert_eq!(outbox(&run).await.len(), before);
    // Nor anything a user sees: a salesperson's If-Match (version 2) stays good.
    assert_eq!(
        version, 2,
        "a rebuild that changed nothing bumped the version"
    );

    // An order's new status that moves no lead field still changes what the lead's detail
    // shows: its version (the detail's ETag) moves, and nothing is announced.
    let version = again(NeutralStatus::Shipped).await;
    assert_eq!(outbox(&run).await.len(), before, "nothing announced");
    assert_eq!(version, 3, "the detail changed, its version did not");
}

#[tokio::test]
async fn a_partial_refund_takes_only_the_refunded_lines_off_the_buyers_spend() {
    let run = Run::new().await;
    let placed = |id: &str, day, fen| Spec {
        shop: 0,
        order: order(
            id,
            day,
            NeutralStatus::Completed,
            fen,
            Some("buyer"),
            Some("13800000002"),
        ),
    };
    let ids = run
        .store(
            &[placed("p1", 10, 20_000), placed("p2", 40, 30_000)],
            "PENDING",
        )
        .await;
    let lead = run.process(&ids).await.new_leads[0];

    // One line of the second order (¥80 of ¥300) is refunded; the order itself completes.
    let mut partly = placed("p2", 40, 30_000);
    partly.order.refunded = true;
    partly.order.partial_refund = Some(leadgen_domain::Money(8_000));
    let ids = run.store(&[partly], "PENDING").await;
    assert_eq!(run.process(&ids).await.updated_leads, vec![lead]);
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    let (paid_total, tags): (i64, Vec<String>) = t_order_lead::table
        .find(lead)
        .select((t_order_lead::paid_total_fen, t_order_lead::intention_tags))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        paid_total, 42_000,
        "only the refunded line leaves the spend"
    );
    assert!(tags.contains(&"退款售后".to_owned()), "{tags:?}");
    let stored: Option<i64> = t_ecom_order_processed::table
        .filter(t_ecom_order_processed::order_id.eq("p2"))
        .select(t_ecom_order_processed::partial_refund_fen)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(stored, Some(8_000));
    let events = outbox(&run).await;
    let (key, updated) = events.last().unwrap();
    assert_eq!(key, "lead.updated.v1");
    assert_eq!(updated["data"]["lead"]["paidTotal"], "420.00", "{updated}");
    assert_eq!(updated["data"]["lead"]["afterSaleCount"], 1, "{updated}");
}

#[tokio::test]
async fn a_months_old_privacy_number_gives_way_to_the_buyers_newer_real_number() {
    let run = Run::new().await;
    // Sent in clear without an expiry (as Kuaishou and Douyin lists do), 80 days ago.
    let old = order(
        "v1",
        10,
        NeutralStatus::Completed,
        9_900,
        Some("ks-buyer"),
        Some("17012349030-7841"),
    );
    // The same buyer's recent order carries the platform's ciphertext of the real mobile.
    let mut recent = order("v2", 85, NeutralStatus::Paid, 9_900, Some("ks-buyer"), None);
    recent.receiver.phone = Some(encrypted("ZW5jcnlwdGVkLW1vYmlsZQ==", "186****5569"));
    let ids = run
        .store(
            &[Spec {
                shop: 0,
                order: old,
            }],
            "PENDING",
        )
        .await;
    let lead = run.process(&ids).await.new_leads[0];
    assert_eq!(
        contact_of(&run, lead).await,
        ("EXPIRED".to_owned(), "VIRTUAL".to_owned()),
        "a privacy number 80 days old has lapsed"
    );
    let ids = run
        .store(
            &[Spec {
                shop: 0,
                order: recent,
            }],
            "PENDING",
        )
        .await;
    run.process(&ids).await;
    assert_eq!(
        contact_of(&run, lead).await,
        ("NEEDS_DECRYPT".to_owned(), "PLATFORM_ENCRYPTED".to_owned()),
        "the buyer's real number, through the platform's decrypt API"
    );
}

#[tokio::test]
async fn when_the_chosen_privacy_number_lapses_the_buyer_is_rebuilt_from_all_orders() {
    let run = Run::new().await;
    // The newest order's privacy number forwards for a few more seconds (the platform said
    // so: long enough for the first processing, however slow the machine); an older order
    // carries the platform's ciphertext of the real mobile.
    let lapses_at = chrono::Utc::now() + chrono::Duration::seconds(6);
    let mut recent = order("w2", 80, NeutralStatus::Paid, 9_900, Some("dy-buyer"), None);
    recent.receiver.phone = Some(leadgen_domain::ContactField {
        expires_at: Some(lapses_at),
        ..leadgen_domain::ContactField::phone("18400913965-7576").unwrap()
    });
    let mut older = order(
        "w1",
        20,
        NeutralStatus::Completed,
        9_900,
        Some("dy-buyer"),
        None,
    );
    older.receiver.phone = Some(encrypted("$Kg1E$AbZ1$1$$", "1*********8"));
    let specs = [
        Spec {
            shop: 0,
            order: older,
        },
        Spec {
            shop: 0,
            order: recent,
        },
    ];
    let ids = run.store(&specs, "PENDING").await;
    let lead = run.process(&ids).await.new_leads[0];
    assert_eq!(
        contact_of(&run, lead).await,
        ("VALID".to_owned(), "VIRTUAL".to_owned())
    );

    // Past the lapse, however long the processing took.
    let until_lapsed = lapses_at - chrono::Utc::now() + chrono::Duration::milliseconds(300);
    tokio::time::sleep(until_lapsed.to_std().unwrap_or_default()).await;
    run.rescore_all().await;
    // The rescore saw the lapse and handed the buyer back; the sweep rebuilds it.
    let sweep = order_processor::sweep::Sweep {
        pool: run.db.pool.clone(),
        processor: std::sync::Arc::clone(&run.processor),
        pending_after: std::time::Duration::ZERO,
        interval: std::time::Duration::from_millis(10),
        batch_size: 10,
        failures: Default::default(),
        last_tenant: Default::default(),
    };
    assert!(
        sweep.sweep_once().await.unwrap() > 0,
        "the buyer was handed back"
    );
    assert_eq!(
        contact_of(&run, lead).await,
        ("NEEDS_DECRYPT".to_owned(), "PLATFORM_ENCRYPTED".to_owned())
    );
}

#[tokio::test]
async fn two_leads_that_turn_out_to_be_one_buyer_merge_and_keep_the_sales_decision() {
    let run = Run::new().await;
    // Shop 0 knows the buyer by open id only; shop 1 by another open id only: two leads.
    let a = run
        .store(
            &[Spec {
                shop: 0,
                order: order("m1", 5, NeutralStatus::Completed, 5_000, Some("x"), None),
            }],
            "PENDING",
        )
        .await;
    let lead_a = run.process(&a).await.new_leads[0];
    let b = run
        .store(
            &[Spec {
                shop: 1,
                order: order("m2", 6, NeutralStatus::Completed, 6_000, Some("y"), None),
            }],
            "PENDING",
        )
        .await;
    let lead_b = run.process(&b).await.new_leads[0];
    assert_ne!(lead_a, lead_b);
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    diesel::update(t_order_lead::table.find(lead_b))
        .set(t_order_lead::process_status.eq("PROCESSED"))
        .execute(&mut conn)
        .await
        .unwrap();
    // Then orders with a real phone show up under both open ids.
    let c = run
        .store(
            &[
                Spec {
                    shop: 0,
                    order: order(
                        "m3",
                        20,
                        NeutralStatus::Paid,
                        7_000,
                        Some("x"),
                        Some("13700000007"),
                    ),
                },
                Spec {
                    shop: 1,
                    order: order(
                        "m4",
                        21,
                        NeutralStatus::Paid,
                        8_000,
                        Some("y"),
                        Some("+86 137 0000 0007"),
                    ),
                },
            ],
            "PENDING",
        )
        .await;
    let summary = run.process(&c).await;
    assert_eq!(summary.merged_leads, vec![lead_b.max(lead_a)]);
    let survivor = lead_a.min(lead_b);
    let (status, count): (String, i32) = t_order_lead::table
        .find(survivor)
        .select((t_order_lead::process_status, t_order_lead::order_count))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!((status.as_str(), count), ("PROCESSED", 4));
    // The merge set the survivor's status: a change read at an older version is refused.
    let (version, status_version): (i32, i32) = t_order_lead::table
        .find(survivor)
        .select((t_order_lead::version, t_order_lead::status_version))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(status_version, version, "the merge's decision is versioned");
    // And its history says where the decision came from, the system as operator.
    let history: Vec<(String, String, Option<String>, i64)> = t_lead_status_change::table
        .filter(t_lead_status_change::lead_id.eq(survivor))
        .select((
            t_lead_status_change::from_status,
            t_lead_status_change::to_status,
            t_lead_status_change::note,
            t_lead_status_change::operator_id,
        ))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(survivor, lead_a, "the older lead survives");
    assert_eq!(history.len(), 1, "{history:?}");
    let (from, to, note, operator) = &history[0];
    assert_eq!(
        (from.as_str(), to.as_str(), *operator),
        ("PENDING", "PROCESSED", 0)
    );
    assert_eq!(
        note.as_deref(),
        Some(format!("已合并同一买家的线索 {lead_b}，沿用其处理状态").as_str())
    );
    let merged_into: Option<i64> = t_order_lead::table
        .find(lead_a.max(lead_b))
        .select(t_order_lead::merged_into)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(merged_into, Some(survivor));
    // The operation log says which lead each merged one now is.
    let detail: Option<serde_json::Value> = leadgen_db::schema::t_operation_log::table
        .filter(leadgen_db::schema::t_operation_log::action.eq("LEAD_MERGE"))
        .select(leadgen_db::schema::t_operation_log::detail)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        detail,
        Some(serde_json::json!({"into": {lead_a.max(lead_b).to_string(): survivor}}))
    );
    let events = outbox(&run).await;
    let (key, last) = events.last().unwrap();
    assert_eq!(key, "lead.updated.v1");
    assert_eq!(
        last["data"]["mergedLeadIds"],
        serde_json::json!([lead_a.max(lead_b)])
    );
}

/// The lead shows the buyer's best contact, which need not be on the latest order, and keeps the
/// raw order it came from: the order a reveal decrypts.
#[tokio::test]
async fn the_lead_keeps_the_order_its_contact_came_from() {
    let run = Run::new().await;
    let specs = [
        Spec {
            shop: 0,
            order: order(
                "c1",
                10,
                NeutralStatus::Completed,
                20_000,
                Some("buyer-c"),
                Some("13800000002"),
            ),
        },
        Spec {
            shop: 0,
            order: order(
                "c2",
                40,
                NeutralStatus::Completed,
                30_000,
                Some("buyer-c"),
                Some("*******0002"),
            ),
        },
    ];
    let ids = run.store(&specs, "PENDING").await;
    run.process(&ids).await;
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    let (latest, contact_source, masked): (i64, Option<i64>, String) = t_order_lead::table
        .select((
            t_order_lead::raw_order_id,
            t_order_lead::contact_raw_order_id,
            t_order_lead::contact_masked,
        ))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(latest, ids[1], "the latest order is the second");
    assert_eq!(
        masked, "138****0002",
        "the plain number beats the masked one"
    );
    assert_eq!(contact_source, Some(ids[0]));

    // The buyer's newer order now carries a number of its own: it is the one shown and kept.
    let newer = [Spec {
        shop: 0,
        order: order(
            "c2",
            40,
            NeutralStatus::Completed,
            30_000,
            Some("buyer-c"),
            Some("13900000003"),
        ),
    }];
    let changed = run.store(&newer, "PENDING").await;
    run.process(&changed).await;
    let (masked, contact_source): (String, Option<i64>) = t_order_lead::table
        .select((
            t_order_lead::contact_masked,
            t_order_lead::contact_raw_order_id,
        ))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(masked, "139****0003");
    assert_eq!(contact_source, Some(ids[1]));
}

/// Design 7: the log of identified leads names the platform. A batch that identifies buyers of
/// two shops writes one `LEAD_IDENTIFY` entry per shop, the shop beside its leads.
#[tokio::test]
async fn identified_leads_are_logged_per_shop_with_the_shop_named() {
    use leadgen_db::schema::t_operation_log as log;
    let run = Run::new().await;
    let buyer = |shop: usize, id: &str, phone: &str| Spec {
        shop,
        order: order(
            id,
            20,
            NeutralStatus::Completed,
            5_000,
            Some(id),
            Some(phone),
        ),
    };
    let ids = run
        .store(
            &[
                buyer(0, "s0-a", "13800000011"),
                buyer(0, "s0-b", "13800000012"),
                buyer(2, "s2-a", "13800000013"),
            ],
            "PENDING",
        )
        .await;
    let summary = run.process(&ids).await;
    assert_eq!(summary.new_leads.len(), 3);
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    let mut entries: Vec<Vec<String>> = log::table
        .filter(log::action.eq("LEAD_IDENTIFY"))
        .select(log::target_ids)
        .load(&mut conn)
        .await
        .unwrap();
    entries.sort_by_key(|targets| targets.len());
    let shop_of = |targets: &[String]| targets.last().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(shop_of(&entries[0]), format!("platform:{}", run.shops[2]));
    assert_eq!(shop_of(&entries[1]), format!("platform:{}", run.shops[0]));
    let mut named: Vec<i64> = entries
        .iter()
        .flat_map(|targets| &targets[..targets.len() - 1])
        .map(|id| id.parse().unwrap())
        .collect();
    named.sort_unstable();
    let mut new = summary.new_leads.clone();
    new.sort_unstable();
    assert_eq!(named, new, "every new lead named once, beside its shop");
}
