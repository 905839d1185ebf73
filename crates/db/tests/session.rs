//! Every pooled connection carries the session settings of `leadgen_db::configure_session`.

use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;

#[derive(diesel::QueryableByName)]
struct Setting {
    #[diesel(sql_type = Text)]
    value: String,
}

#[tokio::test]
async fn pooled_connections_run_without_jit_or_parallel_workers_and_with_a_timeout() {
    let db = leadgen_test_support::TestDb::new().await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let mut setting = async |name: &str| -> String {
        diesel::sql_query("SELECT current_setting($1) AS value")
            .bind::<Text, _>(name)
            .get_result::<Setting>(&mut conn)
            .await
            .expect("setting")
            .value
    };
    assert_eq!(setting("jit").await, "off");
    assert_eq!(setting("max_parallel_workers_per_gather").await, "0");
    assert_eq!(setting("statement_timeout").await, "30s");
    assert_eq!(setting("application_name").await, "test");
}

/// `[database] plan_cache_mode` reaches every connection.
#[tokio::test]
async fn the_plan_cache_mode_is_the_configured_one() {
    let db = leadgen_test_support::TestDb::new().await;
    for (mode, shown) in [
        (leadgen_settings::PlanCacheMode::Auto, "auto"),
        (
            leadgen_settings::PlanCacheMode::ForceCustomPlan,
            "force_custom_plan",
        ),
    ] {
        let settings = leadgen_settings::DatabaseSettings {
            plan_cache_mode: mode,
            ..leadgen_test_support::database_settings(&db.url)
        };
        let pool = leadgen_db::build_pool(&settings, "plans").expect("pool");
        let mut conn = leadgen_db::conn(&pool).await.expect("conn");
        let value = diesel::sql_query("SELECT current_setting('plan_cache_mode') AS value")
            .get_result::<Setting>(&mut conn)
            .await
            .expect("setting")
            .value;
        assert_eq!(value, shown);
    }
}
