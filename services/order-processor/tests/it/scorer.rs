//! The external `predictIntention` seam: a real HTTP scorer that answers scores the leads whose
//! buyer changed, and one that fails leaves them to the built-in model, marked so.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};

use actix_web::{App, HttpResponse, HttpServer, web};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::t_order_lead;
use leadgen_domain::NeutralStatus;
use leadgen_scorer::{Scorer, ScorerSettings};

use crate::support::{Run, Spec, order};

/// The switch's value for a scorer that answers 200 with intention 35 of model `ext-gbm-8`.
const NEXT_MODEL: u16 = 299;

/// Starts a scorer on 127.0.0.1 that answers `status` (200 with intention 91, or a failure);
/// its URL and a count of the requests it got.
fn start_scorer(status: u16) -> (String, Arc<AtomicUsize>) {
    let (url, hits, _) = start_switchable_scorer(status);
    (url, hits)
}

/// A scorer answering with the status the switch holds (200: an intention).
fn start_switchable_scorer(status: u16) -> (String, Arc<AtomicUsize>, Arc<AtomicU16>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let switch = Arc::new(AtomicU16::new(status));
    let answering = Arc::clone(&switch);
    let server = HttpServer::new(move || {
        let counter = Arc::clone(&counter);
        let answering = Arc::clone(&answering);
        App::new().route(
            "/predict",
            web::post().to(move |body: web::Json<serde_json::Value>| {
                let counter = Arc::clone(&counter);
                let status = AtomicU16::load(&answering, Ordering::SeqCst);
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    assert!(body["modelInput"]["aggregate"]["orderCount"].is_u64());
                    if status == 200 {
                        HttpResponse::Ok().json(serde_json::json!({
                            "intention": 91,
                            "reasons": [{"code": "EXT_LOYAL", "text": "外部模型：忠诚客户"}],
                            "modelVersion": "ext-gbm-7"
                        }))
                    } else if status == NEXT_MODEL {
                        HttpResponse::Ok().json(serde_json::json!({
                            "intention": 35,
                            "reasons": [{"code": "EXT_COOLING", "text": "外部模型：购买意愿减弱"}],
                            "modelVersion": "ext-gbm-8"
                        }))
                    } else {
                        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                            .finish()
                    }
                }
            }),
        )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    (format!("http://127.0.0.1:{port}/predict"), hits, switch)
}

async fn run_with(url: &str) -> Run {
    let mut run = Run::new().await;
    let settings = ScorerSettings {
        url: Some(url.to_owned()),
        timeout_ms: 500,
        retries: 1,
        ..ScorerSettings::default()
    };
    let mut processor = (*run.processor).clone();
    processor.scorer = Scorer::new(&settings).unwrap().map(Arc::new);
    run.processor = Arc::new(processor);
    run
}

async fn scored(run: &Run) -> Vec<(String, String, i16, bool)> {
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    t_order_lead::table
        .order(t_order_lead::id.asc())
        .select((
            t_order_lead::scored_by,
            t_order_lead::model_version,
            t_order_lead::intention,
            t_order_lead::external_pending,
        ))
        .load(&mut conn)
        .await
        .unwrap()
}

fn two_buyers() -> Vec<Spec> {
    vec![
        Spec {
            shop: 0,
            order: order("s1", 10, NeutralStatus::Completed, 9_000, Some("p"), None),
        },
        Spec {
            shop: 0,
            order: order("s2", 30, NeutralStatus::Completed, 9_000, Some("q"), None),
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answering_scorer_scores_changed_leads_outside_the_batch() {
    let (url, hits) = start_scorer(200);
    let run = run_with(&url).await;
    let ids = run.store(&two_buyers(), "PENDING").await;
    run.process(&ids).await;
    assert_eq!(
        AtomicUsize::load(&hits, Ordering::SeqCst),
        0,
        "never called inside the batch transaction"
    );
    assert!(
        scored(&run)
            .await
            .iter()
            .all(|(by, _, _, pending)| by == "BUILTIN" && *pending)
    );
    run.rescore_all().await;
    assert_eq!(AtomicUsize::load(&hits, Ordering::SeqCst), 2);
    for (by, model, intention, pending) in scored(&run).await {
        assert_eq!(
            (by.as_str(), model.as_str(), intention, pending),
            ("EXTERNAL", "ext-gbm-7", 91, false)
        );
    }
    // Nothing changed: the next rescore does not call again.
    run.rescore_all().await;
    assert_eq!(AtomicUsize::load(&hits, Ordering::SeqCst), 2);
}

/// A rebuild of a buyer who did not change (their orders delivered again, a revealed number, a
/// lapsed number's rebuild) keeps the standing external intention: no new version, no event,
/// no new call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_that_changes_nothing_keeps_the_external_intention() {
    let (url, hits) = start_scorer(200);
    let run = run_with(&url).await;
    let ids = run.store(&two_buyers(), "PENDING").await;
    run.process(&ids).await;
    run.rescore_all().await;
    let versions_and_events = || async {
        let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
        let versions: Vec<i32> = t_order_lead::table
            .order(t_order_lead::id.asc())
            .select(t_order_lead::version)
            .load(&mut conn)
            .await
            .unwrap();
        let events: i64 = leadgen_db::schema::t_outbox::table
            .count()
            .get_result(&mut conn)
            .await
            .unwrap();
        (versions, events)
    };
    let before = versions_and_events().await;

    run.process(&ids).await;
    for (by, model, intention, pending) in scored(&run).await {
        assert_eq!(
            (by.as_str(), model.as_str(), intention, pending),
            ("EXTERNAL", "ext-gbm-7", 91, false)
        );
    }
    assert_eq!(versions_and_events().await, before);
    run.rescore_all().await;
    assert_eq!(
        AtomicUsize::load(&hits, Ordering::SeqCst),
        2,
        "not asked again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_scorer_leaves_the_builtin_score_and_asks_again_later() {
    let (url, hits, switch) = start_switchable_scorer(503);
    let run = run_with(&url).await;
    let ids = run.store(&two_buyers(), "PENDING").await;
    run.process(&ids).await;
    run.rescore_all().await;
    assert_eq!(
        AtomicUsize::load(&hits, Ordering::SeqCst),
        4,
        "two leads, one retry each"
    );
    for (by, model, _, pending) in scored(&run).await {
        assert_eq!(
            (by.as_str(), model.as_str(), pending),
            ("BUILTIN", leadgen_domain::scoring::MODEL_VERSION, true)
        );
    }
    // The shop is due again, in 15 minutes as the scorer answered none: not at the next
    // day's rescore, nor every minute while it is down.
    let due = || async {
        let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
        diesel::sql_query(
            "SELECT dirty_seq > rescored_seq AS dirty, \
                    coalesce(lease_until > now() + interval '14 minutes', false) AS held \
             FROM t_lead_shop_stats",
        )
        .get_result::<Due>(&mut conn)
        .await
        .unwrap()
    };
    assert_eq!(
        due().await,
        Due {
            dirty: true,
            held: true
        }
    );
    run.rescore_all().await;
    assert_eq!(AtomicUsize::load(&hits, Ordering::SeqCst), 4, "not before");

    // The wait passes; the scorer has recovered.
    AtomicU16::store(&switch, 200, Ordering::SeqCst);
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    diesel::sql_query("UPDATE t_lead_shop_stats SET lease_until = now() - interval '1 second'")
        .execute(&mut conn)
        .await
        .unwrap();
    run.rescore_all().await;
    assert_eq!(AtomicUsize::load(&hits, Ordering::SeqCst), 6);
    for (by, model, intention, pending) in scored(&run).await {
        assert_eq!(
            (by.as_str(), model.as_str(), intention, pending),
            ("EXTERNAL", "ext-gbm-7", 91, false)
        );
    }
    assert!(!due().await.dirty, "nothing left to ask");
}

/// An external intention is a prediction as of the day it was asked for: once it has stood the
/// scorer's `stands_days`, the lead is asked again, the standing answer kept while the scorer is
/// down (no flip to the built-in model and back), the new one taken when it comes; the same
/// answer again moves no version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_answer_is_asked_again_once_it_has_stood_its_days() {
    let (url, hits, switch) = start_switchable_scorer(200);
    let run = run_with(&url).await;
    let ids = run.store(&two_buyers(), "PENDING").await;
    run.process(&ids).await;
    run.rescore_all().await;
    assert_eq!(AtomicUsize::load(&hits, Ordering::SeqCst), 2);
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    let asked = |conn: &mut diesel_async::AsyncPgConnection| {
        t_order_lead::table
            .order(t_order_lead::id.asc())
            .select((t_order_lead::external_as_of, t_order_lead::version))
            .load::<(Option<chrono::DateTime<chrono::Utc>>, i32)>(conn)
    };
    let first = asked(&mut conn).await.unwrap();
    assert!(first.iter().all(|(at, _)| at.is_some()), "{first:?}");
    // Days pass: the daily rescore comes, the answers have stood their seven days.
    let age = || async {
        let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
        for sql in [
            "UPDATE t_order_lead SET external_as_of = external_as_of - interval '7 days'",
            "UPDATE t_lead_shop_stats SET as_of = as_of - interval '1 day', \
             lease_until = now() - interval '1 second'",
        ] {
            diesel::sql_query(sql).execute(&mut conn).await.unwrap();
        }
    };
    age().await;
    AtomicU16::store(&switch, 503, Ordering::SeqCst);
    run.rescore_all().await;
    assert_eq!(
        AtomicUsize::load(&hits, Ordering::SeqCst),
        6,
        "asked again: two leads, one retry each"
    );
    for (by, model, intention, pending) in scored(&run).await {
        assert_eq!(
            (by.as_str(), model.as_str(), intention, pending),
            ("EXTERNAL", "ext-gbm-7", 91, false),
            "the standing answer stands while the scorer is down"
        );
    }
    assert_eq!(
        asked(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|(_, v)| *v)
            .collect::<Vec<_>>(),
        first.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
        "nothing changed"
    );

    // The scorer is back, with a new model, at the shop's next rescore.
    AtomicU16::store(&switch, NEXT_MODEL, Ordering::SeqCst);
    diesel::sql_query("UPDATE t_lead_shop_stats SET lease_until = now() - interval '1 second'")
        .execute(&mut conn)
        .await
        .unwrap();
    run.rescore_all().await;
    assert_eq!(AtomicUsize::load(&hits, Ordering::SeqCst), 8);
    for (by, model, intention, pending) in scored(&run).await {
        assert_eq!(
            (by.as_str(), model.as_str(), intention, pending),
            ("EXTERNAL", "ext-gbm-8", 35, false)
        );
    }
    // Asked as of the rescore's day again (the tests' processor scores as of a fixed day).
    let second = asked(&mut conn).await.unwrap();
    for ((day, v_before), (at, v)) in first.iter().zip(&second) {
        assert!(at == day && v > v_before, "{first:?} → {second:?}");
    }
    run.rescore_all().await;
    assert_eq!(
        AtomicUsize::load(&hits, Ordering::SeqCst),
        8,
        "not due again"
    );

    // Asked again later, the same answer: the lead is as it was, its version too.
    age().await;
    run.rescore_all().await;
    assert_eq!(AtomicUsize::load(&hits, Ordering::SeqCst), 10);
    let third = asked(&mut conn).await.unwrap();
    assert_eq!(third, second, "asked as of the same day, the same version");
}

#[derive(Debug, PartialEq, diesel::QueryableByName)]
struct Due {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    dirty: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    held: bool,
}

/// An external intention stands until the buyer changes, but the lead is still judged again:
/// when its privacy number lapses, the rescore marks it EXPIRED, lowers the reachability part of
/// its score and announces it, keeping the external intention, reasons and model version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_externally_scored_lead_is_still_judged_again_when_its_number_lapses() {
    let (url, hits) = start_scorer(200);
    let run = run_with(&url).await;
    // The privacy number forwards for a few more seconds: long enough for the first
    // processing and rescore, however slow the machine.
    let lapses_at = chrono::Utc::now() + chrono::Duration::seconds(6);
    let mut only = order("v1", 10, NeutralStatus::Completed, 9_000, Some("p"), None);
    only.receiver.phone = Some(leadgen_domain::ContactField {
        expires_at: Some(lapses_at),
        ..leadgen_domain::ContactField::phone("18400913965-7576").unwrap()
    });
    let ids = run
        .store(
            &[Spec {
                shop: 0,
                order: only,
            }],
            "PENDING",
        )
        .await;
    run.process(&ids).await;
    run.rescore_all().await;
    assert_eq!(AtomicUsize::load(&hits, Ordering::SeqCst), 1);
    let judged = || async {
        let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
        t_order_lead::table
            .select((
                t_order_lead::contact_validity,
                t_order_lead::score,
                t_order_lead::intention,
                t_order_lead::scored_by,
                t_order_lead::model_version,
                t_order_lead::score_reasons,
            ))
            .first::<(String, i16, i16, String, String, serde_json::Value)>(&mut conn)
            .await
            .unwrap()
    };
    let before = judged().await;
    assert_eq!(
        (before.0.as_str(), before.2, before.3.as_str()),
        ("VALID", 91, "EXTERNAL")
    );

    // Past the lapse, however long the processing took.
    let until_lapsed = lapses_at - chrono::Utc::now() + chrono::Duration::milliseconds(300);
    tokio::time::sleep(until_lapsed.to_std().unwrap_or_default()).await;
    // The shop was last rescored the day before: today's daily rescore is due.
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    diesel::sql_query("UPDATE t_lead_shop_stats SET as_of = as_of - interval '1 day'")
        .execute(&mut conn)
        .await
        .unwrap();
    run.rescore_all().await;
    let after = judged().await;
    assert_eq!(
        AtomicUsize::load(&hits, Ordering::SeqCst),
        1,
        "not asked again"
    );
    assert_eq!(after.0, "EXPIRED");
    assert!(
        after.1 < before.1,
        "reachability lowers the score: {before:?} → {after:?}"
    );
    assert_eq!(
        (after.2, after.3.as_str(), after.4.as_str()),
        (91, "EXTERNAL", "ext-gbm-7")
    );
    let codes: Vec<&str> = after
        .5
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["code"].as_str())
        .collect();
    assert_eq!(
        codes.len(),
        2,
        "the external reason and the contact's: {codes:?}"
    );
    assert_eq!(codes[0], "EXT_LOYAL", "{codes:?}");
    assert_ne!(
        codes[1],
        before.5[1]["code"].as_str().unwrap(),
        "the contact reason is new"
    );
}
