//! Planner statistics where PostgreSQL's autovacuum does not keep them.
//!
//! The list's statements (`services/lead-api/src/repo/list`) and the sweep's are planned from
//! each table's statistics. A server whose autovacuum is off (some CI and managed set-ups; the
//! machine this is developed on), or a table with `autovacuum_enabled = false`, never refreshes
//! them: a shop's first backfill leaves `t_order_lead` planned as the empty table it was at
//! migration, and the list's tag filter scans the tenant's whole time index once per tag
//! combination (2,000 leads: about 500 ms, against 3 ms once analyzed).
//!
//! Every [`ANALYZE_EVERY`] this task applies autovacuum's own rule to the tables of its schema
//! that autovacuum does not look after and that its role may analyze: a table whose rows
//! changed since its last `ANALYZE` more than `autovacuum_analyze_threshold` +
//! `autovacuum_analyze_scale_factor` × its rows (the table's own settings first) is analyzed
//! (`SKIP_LOCKED`: replicas, or an `ANALYZE` already running, do not wait for each other). Where
//! autovacuum runs it finds nothing to do. Each table analyzed counts in
//! `leadgen_tables_analyzed_total{table}`.

use std::time::Duration;

use diesel::QueryableByName;
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::DbPool;
use tokio_util::sync::CancellationToken;

/// How often the tables' changes are compared with the threshold (autovacuum's own naptime).
pub const ANALYZE_EVERY: Duration = Duration::from_secs(60);

/// Refreshes the statistics autovacuum leaves stale, every [`ANALYZE_EVERY`].
pub struct Statistics {
    pub pool: DbPool,
}

impl Statistics {
    /// A pass now and then every [`ANALYZE_EVERY`] until `shutdown`; a failed pass is logged
    /// and the next one tries again.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            match pass(&self.pool).await {
                Ok(tables) if !tables.is_empty() => {
                    let names: Vec<&str> = tables.iter().map(DueTable::name).collect();
                    tracing::info!(tables = ?names, "Analyzed tables autovacuum does not look after");
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "Could not refresh planner statistics; will try again");
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(ANALYZE_EVERY) => {}
            }
        }
    }
}

/// Analyzes every due table autovacuum does not look after ([`due`]); the tables analyzed. A
/// table that fails is reported and the others are still analyzed.
pub async fn pass(pool: &DbPool) -> anyhow::Result<Vec<DueTable>> {
    let mut conn = leadgen_db::conn(pool).await?;
    let tables = due(&mut conn, false).await?;
    let mut analyzed = Vec::with_capacity(tables.len());
    for table in tables {
        match analyze(&mut conn, &table).await {
            Ok(()) => analyzed.push(table),
            Err(e) => {
                tracing::warn!(table = table.name(), error = %e, "Could not analyze a table");
            }
        }
    }
    Ok(analyzed)
}

/// A table [`due`] found: its schema-qualified name, quoted by the database.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct DueTable {
    #[diesel(sql_type = Text)]
    name: String,
}

impl DueTable {
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The tables of the current schema that this role may analyze (its own, or its roles') whose
/// rows changed since their last `ANALYZE` more than autovacuum's analyze threshold (the
/// table's own, where it sets one), among those autovacuum does not look after, or among all
/// of them with `everywhere`.
pub async fn due(
    conn: &mut AsyncPgConnection,
    everywhere: bool,
) -> diesel::QueryResult<Vec<DueTable>> {
    diesel::sql_query(
        "SELECT format('%I.%I', s.schemaname, s.relname) AS name \
         FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
         CROSS JOIN LATERAL (SELECT \
             (SELECT split_part(o, '=', 2) FROM unnest(c.reloptions) o \
              WHERE split_part(o, '=', 1) = 'autovacuum_enabled') AS enabled, \
             (SELECT split_part(o, '=', 2)::float8 FROM unnest(c.reloptions) o \
              WHERE split_part(o, '=', 1) = 'autovacuum_analyze_threshold') AS threshold, \
             (SELECT split_part(o, '=', 2)::float8 FROM unnest(c.reloptions) o \
              WHERE split_part(o, '=', 1) = 'autovacuum_analyze_scale_factor') AS scale) AS t \
         WHERE s.schemaname = current_schema() \
           AND pg_has_role(c.relowner, 'USAGE') \
           AND ($1 OR current_setting('autovacuum') = 'off' \
                OR lower(t.enabled) IN ('false', 'off', 'no', '0', 'f', 'n')) \
           AND s.n_mod_since_analyze > \
               coalesce(t.threshold, current_setting('autovacuum_analyze_threshold')::float8) \
               + coalesce(t.scale, current_setting('autovacuum_analyze_scale_factor')::float8) \
                 * greatest(c.reltuples, 0) \
         ORDER BY s.n_mod_since_analyze DESC",
    )
    .bind::<Bool, _>(everywhere)
    .load(conn)
    .await
}

/// `ANALYZE (SKIP_LOCKED)` of `table`.
pub async fn analyze(conn: &mut AsyncPgConnection, table: &DueTable) -> diesel::QueryResult<()> {
    diesel::sql_query(format!("ANALYZE (SKIP_LOCKED) {}", table.name))
        .execute(conn)
        .await?;
    metrics::counter!("leadgen_tables_analyzed_total", "table" => table.name.clone()).increment(1);
    Ok(())
}
