//! Fixtures: a database per test, shops, raw orders sealed as sync-worker stores them, and a
//! canonical view of the leads to compare runs.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection as _, RunQueryDsl};
use leadgen_db::ScopedFutureExt as _;
use leadgen_db::schema::{
    t_ecom_order_processed, t_ecom_order_raw, t_ecom_platform_auth, t_ecom_sync_task, t_order_lead,
};
use leadgen_domain::{
    BuyerRef, ContactField, Money, NeutralStatus, OrderItem, PlatformType, RawOrder, Receiver,
};
use leadgen_test_support::{TestDb, crypto_settings};
use order_processor::handler::run_batch;
use order_processor::processor::Processor;
use order_processor::repo::raw_orders;
use order_processor::rescore::Rescore;

/// Scores in these tests are computed as of this instant.
pub fn as_of() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 30, 16, 0, 0).unwrap()
}

pub fn processor() -> Arc<Processor> {
    let crypto = crypto_settings();
    Arc::new(Processor {
        sealer: leadgen_runtime::sealer(&crypto).unwrap(),
        indexer: leadgen_runtime::blind_indexer(&crypto).unwrap(),
        as_of: Some(as_of()),
        scorer: None,
    })
}

/// One generated order: which shop (index into the run's shops) and what the platform sent.
#[derive(Debug, Clone)]
pub struct Spec {
    pub shop: usize,
    pub order: RawOrder,
}

pub fn order(
    id: &str,
    day: i64,
    status: NeutralStatus,
    fen: i64,
    open_id: Option<&str>,
    phone: Option<&str>,
) -> RawOrder {
    let created = as_of() - Duration::days(90) + Duration::days(day) + Duration::minutes(day * 7);
    RawOrder {
        order_id: id.to_owned(),
        status,
        platform_status: status.as_str().to_owned(),
        created_at: created,
        paid_at: (status.was_paid() || status == NeutralStatus::Closed && id.ends_with('r'))
            .then_some(created + Duration::minutes(2)),
        modified_at: None,
        amount: Money(fen),
        refunded: id.ends_with('r'),
        partial_refund: None,
        buyer: BuyerRef {
            open_id: open_id.map(str::to_owned),
            nick: Some("t**1".into()),
        },
        receiver: Receiver {
            phone: phone.and_then(ContactField::phone).map(|mut p| {
                // A PDD ciphertext comes with the platform's mask of the number.
                if p.kind == leadgen_domain::ContactKind::PlatformEncrypted {
                    p.masked = Some("138****5678".into());
                }
                p
            }),
            region: "浙江省杭州市西湖区".into(),
            ..Receiver::default()
        },
        items: vec![OrderItem {
            sku_id: None,
            title: format!("商品{}", fen % 7),
            quantity: 1,
            price: Money(fen),
        }],
    }
}

/// A varied shop set: two JD shops and a PDD shop; repeat buyers, refunds, unpaid and closed
/// orders, a buyer with a real phone on both JD shops (merged), PDD buyers known by their
/// phone's search index, and an order with no identity at all.
pub fn scenario() -> Vec<Spec> {
    use NeutralStatus::{Closed, Completed, Paid, Shipped, Unpaid};
    let mut specs = Vec::new();
    let statuses = [
        Completed, Completed, Paid, Shipped, Unpaid, Completed, Closed,
    ];
    for b in 0..12 {
        let n = [1, 1, 1, 2, 3, 1, 5, 1, 2, 8, 1, 4][b];
        for k in 0..n {
            let day = (b as i64 * 7 + k as i64 * 11) % 88;
            let status = statuses[(b + k) % statuses.len()];
            let id = if b == 4 && k == 1 {
                format!("jd-{b}-{k}-r")
            } else {
                format!("jd-{b}-{k}")
            };
            let phone = if b == 6 {
                Some("13912345678")
            } else {
                Some("*******5678")
            };
            specs.push(Spec {
                shop: 0,
                order: order(
                    &id,
                    day,
                    if id.ends_with('r') { Closed } else { status },
                    1_000 + (b * 997 + k * 313) as i64 % 40_000,
                    Some(&format!("oid-{b}")),
                    phone,
                ),
            });
        }
    }
    // The same person (real phone) buys on the second JD shop under another open id.
    specs.push(Spec {
        shop: 1,
        order: order(
            "jd2-1",
            40,
            Completed,
            8_800,
            Some("other-oid"),
            Some("139 1234 5678"),
        ),
    });
    specs.push(Spec {
        shop: 1,
        order: order("jd2-2", 60, Paid, 2_300, Some("oid-x"), None),
    });
    for b in 0..6 {
        for k in 0..(b % 3 + 1) {
            let cipher = format!("$IDX{b}$AgAAAAF{b}{k}$0$$");
            specs.push(Spec {
                shop: 2,
                order: order(
                    &format!("pdd-{b}-{k}"),
                    (b * 13 + k * 17) as i64 % 88,
                    Completed,
                    3_000 + (b * 211) as i64,
                    None,
                    Some(&cipher),
                ),
            });
        }
    }
    specs.push(Spec {
        shop: 2,
        order: order("pdd-anon", 70, Unpaid, 999, None, None),
    });
    specs
}

pub struct Run {
    pub db: TestDb,
    pub shops: Vec<i64>,
    /// One completed sync task per shop, which stored its raw orders.
    pub tasks: Vec<i64>,
    pub processor: Arc<Processor>,
}

impl Run {
    pub async fn new() -> Run {
        let db = TestDb::new().await;
        let mut conn = leadgen_db::conn(&db.pool).await.unwrap();
        let mut shops = Vec::new();
        for platform in ["JD", "JD", "PDD"] {
            let id: i64 = diesel::insert_into(t_ecom_platform_auth::table)
                .values((
                    t_ecom_platform_auth::tenant_id.eq(1),
                    t_ecom_platform_auth::platform_type.eq(platform),
                    t_ecom_platform_auth::app_key.eq("k"),
                    t_ecom_platform_auth::auth_info.eq("sealed"),
                    t_ecom_platform_auth::status.eq("ACTIVE"),
                    t_ecom_platform_auth::callback_url.eq("http://cb"),
                    t_ecom_platform_auth::created_by.eq(7),
                ))
                .returning(t_ecom_platform_auth::id)
                .get_result(&mut conn)
                .await
                .unwrap();
            shops.push(id);
        }
        let mut tasks = Vec::new();
        for (shop, platform) in shops.iter().zip(["JD", "JD", "PDD"]) {
            let task: i64 = diesel::insert_into(t_ecom_sync_task::table)
                .values((
                    t_ecom_sync_task::tenant_id.eq(1),
                    t_ecom_sync_task::platform_id.eq(shop),
                    t_ecom_sync_task::platform_type.eq(platform),
                    t_ecom_sync_task::trigger_type.eq("MANUAL"),
                    t_ecom_sync_task::status.eq("COMPLETED"),
                    t_ecom_sync_task::window_start.eq(as_of() - Duration::days(90)),
                    t_ecom_sync_task::window_end.eq(as_of()),
                ))
                .returning(t_ecom_sync_task::id)
                .get_result(&mut conn)
                .await
                .unwrap();
            tasks.push(task);
        }
        Run {
            db,
            shops,
            tasks,
            processor: processor(),
        }
    }

    fn platform_type(&self, shop: usize) -> PlatformType {
        if shop == 2 {
            PlatformType::Pdd
        } else {
            PlatformType::Jd
        }
    }

    /// Stores (or replaces) raw orders as sync-worker does; their raw ids, in `specs` order.
    pub async fn store(&self, specs: &[Spec], status: &str) -> Vec<i64> {
        use diesel::upsert::excluded;
        let mut conn = leadgen_db::conn(&self.db.pool).await.unwrap();
        let mut ids = Vec::new();
        for s in specs {
            let platform_id = self.shops[s.shop];
            let json = serde_json::to_string(&s.order).unwrap();
            let sealed = self
                .processor
                .sealer
                .seal(
                    &leadgen_db::sealed::raw_order(
                        "normalized",
                        leadgen_domain::PlatformId::new(platform_id),
                        &s.order.order_id,
                    ),
                    &json,
                )
                .unwrap();
            let id: i64 = diesel::insert_into(t_ecom_order_raw::table)
                .values((
                    t_ecom_order_raw::tenant_id.eq(1),
                    t_ecom_order_raw::platform_id.eq(platform_id),
                    t_ecom_order_raw::platform_type.eq(self.platform_type(s.shop).as_str()),
                    t_ecom_order_raw::order_id.eq(&s.order.order_id),
                    t_ecom_order_raw::raw_data.eq("sealed-raw"),
                    t_ecom_order_raw::normalized.eq(Some(sealed)),
                    t_ecom_order_raw::content_hash.eq(format!("{:x}", json.len())),
                    t_ecom_order_raw::order_created_at.eq(Some(s.order.created_at)),
                    t_ecom_order_raw::sync_task_id.eq(self.tasks[s.shop]),
                    t_ecom_order_raw::process_status.eq(status),
                ))
                .on_conflict((t_ecom_order_raw::platform_id, t_ecom_order_raw::order_id))
                .do_update()
                .set((
                    t_ecom_order_raw::normalized.eq(excluded(t_ecom_order_raw::normalized)),
                    t_ecom_order_raw::process_status.eq(excluded(t_ecom_order_raw::process_status)),
                ))
                .returning(t_ecom_order_raw::id)
                .get_result(&mut conn)
                .await
                .unwrap();
            ids.push(id);
        }
        ids
    }

    /// Processes `raw_ids` as one batch in one transaction, as the consumer does.
    pub async fn process(&self, raw_ids: &[i64]) -> order_processor::batch::Summary {
        let mut conn = leadgen_db::conn(&self.db.pool).await.unwrap();
        let processor = Arc::clone(&self.processor);
        let ids = raw_ids.to_vec();
        conn.transaction::<_, anyhow::Error, _>(|conn| {
            async move {
                let rows =
                    raw_orders::find_many(conn, leadgen_domain::TenantId::new(1), &ids).await?;
                run_batch(conn, &processor, leadgen_domain::TenantId::new(1), &rows).await
            }
            .scope_boxed()
        })
        .await
        .unwrap()
    }

    /// Rescores every due shop at once (no settling wait), in chunks of 3 leads so that every
    /// shop spans several chunks.
    pub async fn rescore_all(&self) {
        self.rescore_all_in(3).await;
    }

    /// Rescores every due shop at once, `chunk` leads at a time.
    pub async fn rescore_all_in(&self, chunk: i64) {
        let rescore = self.rescore(chunk);
        while rescore.rescore_once().await.unwrap().is_some() {}
    }

    /// A rescore of due shops without settling wait, `chunk` leads at a time.
    pub fn rescore(&self, chunk: i64) -> Rescore {
        Rescore {
            pool: self.db.pool.clone(),
            processor: Arc::clone(&self.processor),
            interval: std::time::Duration::from_millis(10),
            settle: std::time::Duration::ZERO,
            max_wait: std::time::Duration::ZERO,
            lease: std::time::Duration::from_secs(60),
            chunk,
            failures: Default::default(),
            stop: Default::default(),
        }
    }

    /// A `RawOrdersFetched` of the first shop's sync naming `raw_order_ids`.
    pub fn fetched(
        &self,
        raw_order_ids: Vec<i64>,
    ) -> leadgen_events::CloudEvent<leadgen_events::RawOrdersFetchedV1> {
        leadgen_events::CloudEvent::new(
            "sync-worker",
            leadgen_domain::TenantId::new(1),
            leadgen_events::RawOrdersFetchedV1 {
                sync_task_id: leadgen_domain::SyncTaskId::new(self.tasks[0]),
                platform_id: leadgen_domain::PlatformId::new(self.shops[0]),
                platform_type: PlatformType::Jd,
                raw_order_ids,
                malformed_count: 0,
            },
        )
    }

    /// The processed orders not linked to a live lead that lists them (`user_id` missing, or a
    /// lead whose `orderIds` do not hold the order).
    pub async fn orders_not_linked_to_their_lead(&self) -> Vec<String> {
        let mut conn = leadgen_db::conn(&self.db.pool).await.unwrap();
        let orders: Vec<(String, Option<i64>)> = t_ecom_order_processed::table
            .select((
                t_ecom_order_processed::order_id,
                t_ecom_order_processed::user_id,
            ))
            .load(&mut conn)
            .await
            .unwrap();
        let leads: HashMap<i64, serde_json::Value> = t_order_lead::table
            .filter(t_order_lead::merged_into.is_null())
            .select((t_order_lead::id, t_order_lead::aggregate))
            .load::<(i64, serde_json::Value)>(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .collect();
        orders
            .into_iter()
            .filter(|(order, lead)| {
                let listed = lead.and_then(|l| leads.get(&l)).is_some_and(|aggregate| {
                    aggregate["orderIds"]
                        .as_array()
                        .is_some_and(|ids| ids.iter().any(|id| id == order.as_str()))
                });
                !listed
            })
            .map(|(order, _)| order)
            .collect()
    }

    /// Every live lead, keyed by its sorted order ids (ids differ between databases).
    pub async fn leads(&self) -> BTreeMap<Vec<String>, LeadView> {
        let mut conn = leadgen_db::conn(&self.db.pool).await.unwrap();
        let rows: Vec<LeadView> = t_order_lead::table
            .filter(t_order_lead::merged_into.is_null())
            .select((
                t_order_lead::aggregate,
                t_order_lead::score,
                t_order_lead::intention,
                t_order_lead::intention_tags,
                t_order_lead::score_reasons,
                t_order_lead::contact_validity,
                t_order_lead::contact_masked,
                t_order_lead::process_status,
                t_order_lead::order_count,
                t_order_lead::platform_id,
            ))
            .load(&mut conn)
            .await
            .unwrap();
        let mut out = BTreeMap::new();
        for view in rows {
            let mut orders: Vec<String> =
                serde_json::from_value(view.aggregate["orderIds"].clone()).unwrap();
            orders.sort();
            assert!(
                out.insert(orders, view).is_none(),
                "two leads with the same orders"
            );
        }
        out
    }
}

/// What must be identical between runs.
#[derive(Debug, Clone, PartialEq, Queryable)]
pub struct LeadView {
    pub aggregate: serde_json::Value,
    pub score: i16,
    pub intention: i16,
    pub tags: Vec<String>,
    pub reasons: serde_json::Value,
    pub validity: String,
    pub masked: String,
    pub status: String,
    pub count: i32,
    /// Every run creates its shops in the same order on a fresh database: the same ids.
    pub platform_id: i64,
}

/// A reproducible shuffle (xorshift), so a failing case can be replayed from its seed.
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed | 1;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = usize::try_from(state % (i as u64 + 1)).unwrap();
        items.swap(i, j);
    }
}

/// Splits `items` into batches at reproducible random cut points.
pub fn split<T: Clone>(items: &[T], seed: u64, max: usize) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut rest = items;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let n = usize::try_from(state % max as u64).unwrap() + 1;
        let (head, tail) = rest.split_at(n.min(rest.len()));
        out.push(head.to_vec());
        rest = tail;
    }
    out
}

/// Makes every write of a `table` row matching `when` (an SQL condition on `NEW`) fail, as a
/// fault that stays would (no stored value this build reads fails that way any more); `None`
/// lifts it. Each test has a database of its own.
pub async fn fault(run: &Run, table: &str, when: Option<&str>) {
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    diesel::sql_query(
        "CREATE OR REPLACE FUNCTION test_fault() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query(format!("DROP TRIGGER IF EXISTS test_fault ON {table}"))
        .execute(&mut conn)
        .await
        .unwrap();
    if let Some(when) = when {
        diesel::sql_query(format!(
            "CREATE TRIGGER test_fault BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW \
             WHEN ({when}) EXECUTE FUNCTION test_fault()"
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    }
}
