#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

//! `schema.rs` is written by hand: this test migrates a fresh database and checks that every
//! table in `schema.rs` names exactly the columns the migrations create (and no table is
//! missing). Generated columns (t_order_lead's `tag_bits`, read only by the lead list's SQL) are
//! left out: nobody writes them. Nullability is not compared here: a wrong one fails to load rows, which the service
//! tests do. A second test checks that each status column's `CHECK` lists exactly the
//! spellings of the domain enum written into it.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::*;

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    is_nullable: String,
}

/// The columns diesel selects for `query` (`SELECT "t"."a", "t"."b" FROM …`).
fn diesel_columns<Q>(query: Q) -> Vec<String>
where
    Q: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
{
    let sql = diesel::debug_query::<diesel::pg::Pg, _>(&query).to_string();
    let list = sql
        .trim_start_matches("SELECT ")
        .split(" FROM ")
        .next()
        .expect("select list")
        .to_owned();
    list.split(", ")
        .map(|c| {
            c.rsplit('.')
                .next()
                .expect("column")
                .trim_matches('"')
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn schema_rs_matches_the_migrated_database() {
    let db = leadgen_test_support::TestDb::new().await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let tables: Vec<(&str, Vec<String>)> = vec![
        (
            "t_ecom_platform_auth",
            diesel_columns(t_ecom_platform_auth::table.select(t_ecom_platform_auth::all_columns)),
        ),
        (
            "t_ecom_sync_task",
            diesel_columns(t_ecom_sync_task::table.select(t_ecom_sync_task::all_columns)),
        ),
        (
            "t_ecom_order_raw",
            diesel_columns(t_ecom_order_raw::table.select(t_ecom_order_raw::all_columns)),
        ),
        (
            "t_ecom_order_processed",
            diesel_columns(
                t_ecom_order_processed::table.select(t_ecom_order_processed::all_columns),
            ),
        ),
        (
            "t_order_lead",
            diesel_columns(t_order_lead::table.select(t_order_lead::all_columns)),
        ),
        (
            "t_lead_identity",
            diesel_columns(t_lead_identity::table.select(t_lead_identity::all_columns)),
        ),
        (
            "t_lead_legacy_status",
            diesel_columns(t_lead_legacy_status::table.select(t_lead_legacy_status::all_columns)),
        ),
        (
            "t_lead_shop_stats",
            diesel_columns(t_lead_shop_stats::table.select(t_lead_shop_stats::all_columns)),
        ),
        (
            "t_lead_status_change",
            diesel_columns(t_lead_status_change::table.select(t_lead_status_change::all_columns)),
        ),
        (
            "t_contact_reveal",
            diesel_columns(t_contact_reveal::table.select(t_contact_reveal::all_columns)),
        ),
        (
            "t_contact_reveal_quota",
            diesel_columns(
                t_contact_reveal_quota::table.select(t_contact_reveal_quota::all_columns),
            ),
        ),
        (
            "t_contact_search_mask",
            diesel_columns(t_contact_search_mask::table.select(t_contact_search_mask::all_columns)),
        ),
        (
            "t_operation_log",
            diesel_columns(t_operation_log::table.select(t_operation_log::all_columns)),
        ),
        (
            "t_order_revealed_identity",
            diesel_columns(
                t_order_revealed_identity::table.select(t_order_revealed_identity::all_columns),
            ),
        ),
        (
            "t_outbox",
            diesel_columns(t_outbox::table.select(t_outbox::all_columns)),
        ),
        (
            "t_platform_call_hold",
            diesel_columns(t_platform_call_hold::table.select(t_platform_call_hold::all_columns)),
        ),
        (
            "t_platform_call_slot",
            diesel_columns(t_platform_call_slot::table.select(t_platform_call_slot::all_columns)),
        ),
        (
            "t_processed_message",
            diesel_columns(t_processed_message::table.select(t_processed_message::all_columns)),
        ),
    ];
    let all_tables: Vec<String> = diesel::sql_query(
        "SELECT table_name AS column_name, 'NO' AS is_nullable FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_name LIKE 't\\_%'",
    )
    .load::<Column>(&mut conn)
    .await
    .expect("tables")
    .into_iter()
    .map(|c| c.column_name)
    .collect();
    assert_eq!(
        all_tables.len(),
        tables.len(),
        "tables in the database: {all_tables:?}"
    );
    for (table, in_schema_rs) in tables {
        let columns: BTreeMap<String, bool> = diesel::sql_query(format!(
            "SELECT column_name::text, is_nullable::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = '{table}' AND is_generated = 'NEVER'"
        ))
        .load::<Column>(&mut conn)
        .await
        .expect("columns")
        .into_iter()
        .map(|c| (c.column_name, c.is_nullable == "YES"))
        .collect();
        let mut expected: Vec<&String> = columns.keys().collect();
        let mut declared: Vec<&String> = in_schema_rs.iter().collect();
        expected.sort();
        declared.sort();
        assert_eq!(
            declared, expected,
            "{table}: schema.rs and the migrations disagree"
        );
    }
}

#[derive(QueryableByName)]
struct Check {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    definition: String,
}

/// The quoted values of a `CHECK (column = ANY (ARRAY['A'::text, …]))` definition.
fn quoted_values(definition: &str) -> Vec<String> {
    definition
        .split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// Each status column's CHECK lists exactly the spellings of the domain enum the services write
/// into it: a new variant without a migration (or the reverse) fails here, not in production.
#[tokio::test]
async fn status_checks_match_the_domain_enums() {
    use leadgen_domain::{
        AuthStatus, LeadProcessStatus, PlatformType, RawOrderStatus, SyncStatus, SyncTrigger,
    };
    macro_rules! spellings {
        ($enum:ty) => {
            <$enum>::ALL
                .iter()
                .map(|v| v.as_str().to_owned())
                .collect::<Vec<_>>()
        };
    }
    let expected: Vec<(&str, &str, Vec<String>)> = vec![
        (
            "t_ecom_platform_auth",
            "platform_type",
            spellings!(PlatformType),
        ),
        ("t_ecom_platform_auth", "status", spellings!(AuthStatus)),
        ("t_ecom_sync_task", "trigger_type", spellings!(SyncTrigger)),
        ("t_ecom_sync_task", "status", spellings!(SyncStatus)),
        (
            "t_ecom_order_raw",
            "process_status",
            spellings!(RawOrderStatus),
        ),
        (
            "t_order_lead",
            "process_status",
            spellings!(LeadProcessStatus),
        ),
        (
            "t_lead_status_change",
            "from_status",
            spellings!(LeadProcessStatus),
        ),
        (
            "t_lead_status_change",
            "to_status",
            spellings!(LeadProcessStatus),
        ),
    ];
    let db = leadgen_test_support::TestDb::new().await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let checks: Vec<Check> = diesel::sql_query(
        "SELECT conrelid::regclass::text AS table_name, pg_get_constraintdef(oid) AS definition \
         FROM pg_constraint WHERE contype = 'c' AND conrelid <> 0",
    )
    .load(&mut conn)
    .await
    .expect("checks");
    for (table, column, values) in expected {
        let prefix = format!("CHECK (({column} = ANY (ARRAY[");
        let found: Vec<&Check> = checks
            .iter()
            .filter(|c| c.table_name == table && c.definition.starts_with(&prefix))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one CHECK on {table}.{column}: {}",
            found.len()
        );
        let mut listed = quoted_values(&found[0].definition);
        let mut values = values;
        listed.sort();
        values.sort();
        assert_eq!(listed, values, "{table}.{column}");
    }
}
