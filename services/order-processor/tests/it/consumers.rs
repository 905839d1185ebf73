//! Two order-processor replicas consuming the same queue through RabbitMQ end with the same leads
//! as one batch processed alone.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::{t_ecom_order_raw, t_lead_shop_stats};
use leadgen_events::routing;
use leadgen_messaging::{Broker, OutgoingMessage};
use leadgen_test_support::{
    TestBroker, crypto_settings, database_settings, http_settings, outbox_settings,
    telemetry_settings,
};
use order_processor::config::ProcessingSettings;
use order_processor::{Application, Settings};
use tokio_util::sync::CancellationToken;

use crate::support::{Run, as_of, scenario, shuffle, split};

fn settings(run: &Run, broker: &TestBroker) -> Settings {
    Settings {
        http: http_settings(),
        database: database_settings(&run.db.url),
        amqp: broker.settings(),
        telemetry: telemetry_settings(),
        crypto: crypto_settings(),
        outbox: outbox_settings(),
        processing: ProcessingSettings {
            score_as_of: Some(as_of()),
            rescore_interval_ms: 50,
            rescore_settle_ms: 300,
            rescore_max_wait_secs: 60,
            ..ProcessingSettings::default()
        },
        scorer: leadgen_scorer::ScorerSettings::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consumers_on_one_queue_give_the_same_leads_as_one_batch() {
    let expected = {
        let run = Run::new().await;
        let ids = run.store(&scenario(), "PENDING").await;
        run.process(&ids).await;
        run.rescore_all().await;
        run.leads().await
    };

    let run = Run::new().await;
    let broker = TestBroker::new(vec![order_processor::startup::queue()]);
    let token = CancellationToken::new();
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let app = Application::build(settings(&run, &broker)).await.unwrap();
        replicas.push(tokio::spawn(app.run_until_stopped(token.clone())));
    }
    let mut specs = scenario();
    shuffle(&mut specs, 5);
    let ids = run.store(&specs, "PENDING").await;
    let publisher = Broker::connect(&broker.settings(), Vec::new())
        .await
        .unwrap();
    for batch in split(&ids, 5, 5) {
        let event = run.fetched(batch);
        publisher
            .publish(&OutgoingMessage {
                routing_key: routing::ORDERS_FETCHED_V1.to_owned(),
                message_id: event.id.to_string(),
                payload: serde_json::to_vec(&event).unwrap(),
                headers: HashMap::new(),
            })
            .await
            .unwrap();
    }

    // Wait until every order is processed and every shop rescored by the replicas themselves.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    loop {
        let pending: i64 = t_ecom_order_raw::table
            .filter(t_ecom_order_raw::process_status.eq("PENDING"))
            .count()
            .get_result(&mut conn)
            .await
            .unwrap();
        let dirty: i64 = t_lead_shop_stats::table
            .filter(t_lead_shop_stats::dirty_seq.gt(t_lead_shop_stats::rescored_seq))
            .count()
            .get_result(&mut conn)
            .await
            .unwrap();
        if pending == 0 && dirty == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} pending orders, {dirty} shops to rescore"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(run.leads().await, expected);
    token.cancel();
    for r in replicas {
        r.await.unwrap().unwrap();
    }
    publisher.close().await;
}
