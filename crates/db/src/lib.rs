//! The module's PostgreSQL database: one migration set (embedded), the diesel [`schema`], and an
//! async connection pool.
//!
//! One migration set for the module's one database: the tables reference each other (a lead names
//! its raw order, a raw order its authorization) and one `leadctl migrate` (a Kubernetes Job in
//! the cluster) brings the schema forward before the services roll. Which service writes which
//! table is in `docs/architecture.md`.
//!
//! Access is diesel-async over tokio-postgres with a deadpool pool, encrypted as the URL's
//! `sslmode` asks ([`tls`]): queries never block the
//! runtime's threads. The only synchronous diesel API we need, the migration harness, runs on a
//! blocking thread through `AsyncConnectionWrapper`.
//!
//! Beside them, the few statements more than one service runs on a shared table, written once:
//! the operation log ([`oplog`]), a lead's status history ([`status_history`]), one order as a
//! lead's detail shows it ([`shown`]), the sealing contexts of every sealed column ([`sealed`]),
//! the raw orders order-processor set aside ([`set_aside`]) and a session-level advisory lock
//! held across a platform call ([`held_lock`]).

pub mod held_lock;
pub mod oplog;
pub mod schema;
pub mod sealed;
pub mod set_aside;
pub mod shown;
pub mod status_history;
pub mod tls;

pub use tls::connect;

use std::time::Duration;

use diesel::ConnectionError;
use diesel_async::pooled_connection::deadpool::{Hook, HookError, Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, PoolError, RecyclingMethod,
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

pub use diesel_async::AsyncPgConnection as PgConn;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use secrecy::ExposeSecret;

use leadgen_settings::{DatabaseSettings, PlanCacheMode};

pub use diesel_async::scoped_futures::ScopedFutureExt;

/// The module's migrations, embedded in every binary that runs them.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// A pool of async PostgreSQL connections.
pub type DbPool = Pool<AsyncPgConnection>;
/// A connection checked out of the pool.
pub type PooledConn = Object<AsyncPgConnection>;

/// Why the database could not be reached or migrated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    #[error("cannot build the connection pool: {0}")]
    Pool(String),
    #[error("cannot get a database connection: {0}")]
    Checkout(String),
    #[error("cannot connect to the database at {at}")]
    Connect {
        /// Host, port and database of the URL, never its credentials.
        at: String,
        source: ConnectionError,
    },
    #[error("migration failed: {0}")]
    Migration(String),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

impl DbError {
    /// Whether the same work may succeed if tried again: no connection to be had now, or a
    /// statement that failed for a passing reason ([`worth_retrying`]).
    pub fn worth_retrying(&self) -> bool {
        match self {
            DbError::Checkout(_) => true,
            DbError::Query(e) => worth_retrying(e),
            _ => false,
        }
    }
}

/// Whether a failed statement or transaction may succeed if tried again as it was, on a
/// connection checked out anew: the connection lost (a database restarting or failing over), a
/// connection to a primary demoted by a failover (read-only), a deadlock or a serialization
/// failure, a statement cancelled (a timeout, an operator). The driver names only a few
/// SQLSTATEs, so an error of an unnamed kind counts too (callers try a bounded number of times:
/// a fault that would fail every time costs only the tries). The constraints the driver names
/// (unique, foreign key, not null, check) never will succeed, and are not tried again.
pub fn worth_retrying(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind as Kind, Error};
    match e {
        Error::DatabaseError(kind, _) => matches!(
            kind,
            Kind::SerializationFailure
                | Kind::ReadOnlyTransaction
                | Kind::ClosedConnection
                | Kind::UnableToSendCommand
                | Kind::Unknown
        ),
        // A connection that failed mid-transaction: its transaction state is lost with it.
        Error::BrokenTransactionManager => true,
        _ => false,
    }
}

/// Whether the first database failure in an error's chain (its causes, past any context) is
/// [`worth_retrying`]; an error holding none (a value that does not seal) is not.
pub fn chain_worth_retrying(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(e) = cause {
        if let Some(e) = e.downcast_ref::<diesel::result::Error>() {
            return worth_retrying(e);
        }
        if let Some(e) = e.downcast_ref::<DbError>() {
            return e.worth_retrying();
        }
        cause = e.source();
    }
    false
}

/// `text` matched literally by `LIKE` (its `\`, `%` and `_` escaped; PostgreSQL's default
/// escape character is `\`).
pub fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Builds the pool. Each new connection gets the configured `statement_timeout` and an
/// `application_name` naming the service, so slow queries and their owners show in PostgreSQL.
///
/// At checkout, a connection is handed out if it is open and not left mid-transaction (the
/// server closing it, e.g. on a restart, ends its socket and is seen at once). Only one unused
/// for `verify_idle_ms` is first verified with a round trip (`SELECT 1`): diesel-async's
/// default verifies every checkout, a round trip of 0.1–0.3 ms on this machine added to every
/// request, of which the lead list's one-buyer search takes about 1 ms.
pub fn build_pool(settings: &DatabaseSettings, service: &'static str) -> Result<DbPool, DbError> {
    let statement_timeout_ms = settings.statement_timeout_ms;
    let plan_cache_mode = settings.plan_cache_mode;
    let verify_idle = Duration::from_millis(settings.verify_idle_ms);
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    config.custom_setup = Box::new(move |url| {
        let url = with_network_timeouts(url);
        Box::pin(async move {
            let mut conn = tls::connect(&url).await?;
            configure_session(&mut conn, statement_timeout_ms, plan_cache_mode, service)
                .await
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        })
    });
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
        settings.url.expose_secret(),
        config,
    );
    Pool::builder(manager)
        .pre_recycle(Hook::<AsyncPgConnection>::async_fn(move |conn, metrics| {
            Box::pin(async move {
                if metrics.last_used() < verify_idle {
                    return Ok(());
                }
                diesel::sql_query("SELECT 1")
                    .execute(conn)
                    .await
                    .map(|_| ())
                    .map_err(|e| HookError::Backend(PoolError::QueryError(e)))
            })
        }))
        .max_size(settings.max_connections)
        .wait_timeout(Some(Duration::from_millis(settings.pool_wait_ms)))
        .create_timeout(Some(Duration::from_millis(settings.pool_wait_ms)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| DbError::Pool(e.to_string()))
}

/// Client-side network timeouts for a connection, where `url` names none itself: PostgreSQL's
/// own timeouts are the server's, and a silent partition or a primary that stopped answering
/// would leave a query, and the loop that waits on it (the relay, a sweep, recovery), waiting
/// until the operating system gives up, two hours or more. TCP keepalives after 30 s idle
/// (every 10 s, 3 misses) end a connection whose peer is gone while a statement runs; unsent
/// data unacknowledged for 60 s (`tcp_user_timeout`, seconds in tokio-postgres) ends it while
/// one is sent; a connect gives up after 10 s. A URL of the key=value form is left as it is.
pub fn with_network_timeouts(url: &str) -> String {
    const DEFAULTS: [(&str, &str); 5] = [
        ("connect_timeout", "10"),
        ("keepalives_idle", "30"),
        ("keepalives_interval", "10"),
        ("keepalives_retries", "3"),
        ("tcp_user_timeout", "60"),
    ];
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return url.to_owned();
    }
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let named: Vec<&str> = query
        .split('&')
        .filter_map(|pair| pair.split_once('=').map(|(k, _)| k))
        .collect();
    let mut out = url.to_owned();
    let mut separator = if url.contains('?') { '&' } else { '?' };
    for (key, value) in DEFAULTS {
        if !named.contains(&key) {
            out.push(separator);
            out.push_str(key);
            out.push('=');
            out.push_str(value);
            separator = '&';
        }
    }
    out
}

/// What every pooled connection sets: the statement timeout, the service's name (seen in
/// `pg_stat_activity`), no JIT and no parallel workers. Our statements are short and bounded,
/// and many run at once:
/// - PostgreSQL compiles any plan whose *estimated* cost passes `jit_above_cost`, and an
///   estimate can be far above the work (the lead list's merge of one ordered scan per tag
///   combination: 10–40 ms of compiling for 3 ms of work);
/// - a parallel plan starts worker processes for one request, which then compete for the cores
///   with every other request. The planner chose one for the lead list's `every filter` (a
///   backward scan of the score index, 80,000 entries) depending on the statistics of the day:
///   33 ms where the same scan alone takes 13–19 ms on this 2-core machine, and the benchmark's
///   p50 for that case flipped between 13 and 35 ms from one data load to the next.
///
/// And the service's `[database] plan_cache_mode` (every service: `auto`, PostgreSQL's default).
pub async fn configure_session(
    conn: &mut AsyncPgConnection,
    statement_timeout_ms: u64,
    plan_cache_mode: PlanCacheMode,
    service: &str,
) -> diesel::QueryResult<()> {
    let name = service.replace('\'', "''");
    let plans = plan_cache_mode.as_str();
    let setup = format!(
        "SET statement_timeout = {statement_timeout_ms}; SET application_name = '{name}'; \
         SET jit = off; SET max_parallel_workers_per_gather = 0; SET plan_cache_mode = {plans}"
    );
    diesel_async::SimpleAsyncConnection::batch_execute(conn, &setup).await
}

/// Checks a connection out of the pool, recording how long that waited
/// (`leadgen_db_pool_wait_seconds`) and a checkout that failed
/// (`leadgen_db_pool_checkout_failures_total`; `timeout`: every connection stayed in use;
/// `connect`: a new connection could not be opened in time).
pub async fn conn(pool: &DbPool) -> Result<PooledConn, DbError> {
    let started = std::time::Instant::now();
    let got = pool.get().await;
    metrics::histogram!("leadgen_db_pool_wait_seconds").record(started.elapsed().as_secs_f64());
    got.map_err(|e| {
        use deadpool::managed::TimeoutType;
        use diesel_async::pooled_connection::deadpool::PoolError;
        let reason = match &e {
            // No new connection within the wait: the database is slow to accept, or gone.
            PoolError::Timeout(TimeoutType::Create) => "connect",
            PoolError::Timeout(_) => "timeout",
            _ => "error",
        };
        metrics::counter!("leadgen_db_pool_checkout_failures_total", "reason" => reason)
            .increment(1);
        DbError::Checkout(e.to_string())
    })
}

/// Sets the pool's occupancy gauges (`leadgen_db_pool_connections` by `state`, and
/// `leadgen_db_pool_waiting`), as of now.
pub fn record_pool_status(pool: &DbPool) {
    let status = pool.status();
    let in_use = status.size.saturating_sub(status.available);
    metrics::gauge!("leadgen_db_pool_connections", "state" => "in_use").set(in_use as f64);
    metrics::gauge!("leadgen_db_pool_connections", "state" => "idle").set(status.available as f64);
    metrics::gauge!("leadgen_db_pool_waiting").set(status.waiting as f64);
}

/// How long a consumer about to requeue a message waits for the database to answer again
/// ([`wait_until_reachable`]): longer than a restart or a failover takes.
pub const OUTAGE_WAIT: Duration = Duration::from_secs(300);

/// Returns once the database answers, or after `at_most` (a consumer about to requeue a message
/// waits here: [`ping`] every second).
pub async fn wait_until_reachable(pool: &DbPool, at_most: Duration) {
    let deadline = tokio::time::Instant::now() + at_most;
    // Strictly: a connection that answers (a pool busy on a database that hangs is no sign
    // the message that just failed would go through now).
    while !answers(pool).await && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// How long a readiness ping waits, for a connection and then for its answer: well under a
/// probe's timeout (3 s), which the pool's own wait (`pool_wait_ms`) would outlast.
pub const PING_WAIT: Duration = Duration::from_secs(1);

/// Whether the database answers (for `/readyz`), within [`PING_WAIT`]. A pool whose every
/// connection is in use (a burst of requests, batches waiting on each other's locks) is up:
/// those connections are the database answering, and a pod taken out of service for being busy
/// would only push its load onto the others.
pub async fn ping(pool: &DbPool) -> bool {
    use deadpool::managed::{PoolError, TimeoutType};
    match tokio::time::timeout(PING_WAIT, pool.get()).await {
        Ok(Ok(mut c)) => select_one(&mut c).await,
        Ok(Err(PoolError::Timeout(TimeoutType::Wait))) | Err(_) => all_in_use(pool),
        Ok(Err(_)) => false,
    }
}

/// Whether a connection of the pool answers now, within [`PING_WAIT`] each for the checkout
/// and the answer (a busy pool does not count).
async fn answers(pool: &DbPool) -> bool {
    match tokio::time::timeout(PING_WAIT, pool.get()).await {
        Ok(Ok(mut c)) => select_one(&mut c).await,
        _ => false,
    }
}

async fn select_one(c: &mut PooledConn) -> bool {
    tokio::time::timeout(PING_WAIT, diesel::sql_query("SELECT 1").execute(c))
        .await
        .is_ok_and(|answered| answered.is_ok())
}

/// Whether every connection the pool may open is open and checked out.
fn all_in_use(pool: &DbPool) -> bool {
    let status = pool.status();
    status.size >= status.max_size && status.available == 0
}

/// A failed connection, naming where it went (host, port, database) without the credentials.
pub fn connect_error(url: &str, source: ConnectionError) -> DbError {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let at = rest.split('?').next().unwrap_or(rest).to_owned();
    DbError::Connect { at, source }
}

/// The version of the newest migration this build embeds (`20261204000036`, say): the schema
/// its queries are written against.
pub fn newest_migration() -> &'static str {
    static NEWEST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NEWEST.get_or_init(|| {
        use diesel::migration::MigrationSource as _;
        let migrations: Vec<Box<dyn diesel::migration::Migration<diesel::pg::Pg>>> =
            MIGRATIONS.migrations().unwrap_or_default();
        migrations
            .iter()
            .map(|m| m.name().version().to_string())
            .max()
            .unwrap_or_default()
    })
}

/// Whether the database holds [`newest_migration`]: a process built after a migration must not
/// read or write before `leadctl migrate` has run (a missing column fails every message it
/// takes, and redelivery counts against the queue's limit). An error when the database could
/// not be asked (unreachable, or refusing the connection), or refused the question (a database
/// never migrated has no `__diesel_schema_migrations`): the caller says which.
pub async fn schema_current(pool: &DbPool) -> Result<bool, DbError> {
    #[derive(diesel::QueryableByName)]
    struct Applied {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        applied: bool,
    }
    let mut c = pool
        .get()
        .await
        .map_err(|e| DbError::Checkout(e.to_string()))?;
    let applied = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM __diesel_schema_migrations WHERE version = $1) AS applied",
    )
    .bind::<diesel::sql_types::Text, _>(newest_migration())
    .get_result::<Applied>(&mut c)
    .await?;
    Ok(applied.applied)
}

/// How long a migration statement may wait for a table lock before it gives up and is tried
/// again ([`run_migrations`]).
pub const MIGRATION_LOCK_TIMEOUT: &str = "5s";

/// How many times a migration that gave up waiting for a lock is tried again, with backoff
/// from 1 s to 30 s, jittered ...
const MIGRATION_LOCK_RETRIES: usize = 20;

/// ... and waiting at most this long in all: with the lock waits themselves, the run stays
/// well inside the migration Job's deadline (900 s).
const MIGRATION_RETRY_WAIT: std::time::Duration = std::time::Duration::from_secs(480);

/// Applies pending migrations; returns the names of those applied.
///
/// A migration waits at most [`MIGRATION_LOCK_TIMEOUT`] for a table's lock, then gives up and
/// the run is tried again, with backoff, up to [`MIGRATION_LOCK_RETRIES`] times (so is one
/// cancelled by a deadlock with a service's transaction). Waiting
/// longer would stall every service: a statement that queues for an `ALTER TABLE`'s exclusive
/// lock behind one long transaction (a report, a dump, a rescore) makes every later query of
/// that table queue behind it, the lead list and order intake down until the holder ends.
/// Each migration is its own transaction, so a retry goes on from the first not applied. The
/// session also ends a transaction left idle (`idle_in_transaction_session_timeout`: a
/// migrator whose node is lost no longer holds its locks until TCP gives up), and checks that
/// its client is still there (`client_connection_check_interval`: a statement of a killed Job
/// stops instead of running on with its locks).
pub async fn run_migrations(url: &str) -> Result<Vec<String>, DbError> {
    use backon::BackoffBuilder as _;
    let mut waits = backon::ExponentialBuilder::default()
        .with_min_delay(std::time::Duration::from_secs(1))
        .with_max_delay(std::time::Duration::from_secs(30))
        .with_max_times(MIGRATION_LOCK_RETRIES)
        .with_total_delay(Some(MIGRATION_RETRY_WAIT))
        .with_jitter()
        .build();
    let mut applied = Vec::new();
    loop {
        // A failed run may have applied migrations before the one that stopped it.
        let (done, failed) = match migrate_once(url).await {
            Ok(done) => (done, None),
            Err((done, e)) => (done, Some(e)),
        };
        applied.extend(done);
        let Some(e) = failed else {
            return Ok(applied);
        };
        match waits.next() {
            Some(wait) if waited_for_a_lock(&e) => {
                tracing::warn!(error = %e, ?wait, "A migration gave up waiting for a lock, or was cancelled by a deadlock; trying again");
                tokio::time::sleep(wait).await;
            }
            _ => return Err(e),
        }
    }
}

/// How often a migrator tries the migrators' lock while another holds it.
const MIGRATOR_LOCK_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// Takes the migrators' session lock, trying it every [`MIGRATOR_LOCK_POLL`] until it is free.
fn wait_for_migrator_lock(
    conn: &mut diesel_async::async_connection_wrapper::AsyncConnectionWrapper<AsyncPgConnection>,
) -> Result<(), DbError> {
    #[derive(diesel::QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        locked: bool,
    }
    loop {
        let got: Locked = diesel::RunQueryDsl::get_result(
            diesel::sql_query("SELECT pg_try_advisory_lock(4242001) AS locked"),
            conn,
        )?;
        if got.locked {
            return Ok(());
        }
        std::thread::sleep(MIGRATOR_LOCK_POLL);
    }
}

/// Refuses to run a migration that builds an index CONCURRENTLY while an index of the schema is
/// invalid: a concurrent build that failed leaves one (cancelled, killed, or a deadlock), and
/// the migration's `IF NOT EXISTS` would take it for done and record the migration as applied;
/// a build still running (by hand, as docs/upgrades.md suggests) shows as invalid too.
fn refuse_invalid_indexes(
    conn: &mut diesel_async::async_connection_wrapper::AsyncConnectionWrapper<AsyncPgConnection>,
) -> Result<(), DbError> {
    #[derive(diesel::QueryableByName)]
    struct Invalid {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let invalid: Vec<Invalid> = diesel::RunQueryDsl::load(
        diesel::sql_query(
            "SELECT c.relname::text AS name FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indexrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE NOT i.indisvalid AND n.nspname = current_schema() ORDER BY 1",
        ),
        conn,
    )?;
    if invalid.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = invalid.into_iter().map(|i| i.name).collect();
    Err(DbError::Migration(format!(
        "invalid indexes {}: a concurrent index build failed or is still running; let a running \
         build finish, or DROP INDEX CONCURRENTLY each one, then migrate again (docs/upgrades.md)",
        names.join(", ")
    )))
}

/// Whether a migration failed because it gave up waiting for a lock (SQLSTATE 55P03), or was
/// cancelled by a deadlock with a running service (40P01: a migration that locks two tables in
/// the other order than the service's transactions, and PostgreSQL cancels the one that waited
/// first). Diesel's migration error keeps only the server's text, in English or, with
/// `lc_messages` set to Chinese, in Chinese.
fn waited_for_a_lock(e: &DbError) -> bool {
    const WORDS: [&str; 4] = ["lock timeout", "锁超时", "deadlock detected", "检测到死锁"];
    matches!(e, DbError::Migration(m) if WORDS.iter().any(|w| m.contains(w)))
}

/// One run of [`run_migrations`]: the migrations applied, or the error that stopped it with
/// those applied before it.
async fn migrate_once(url: &str) -> Result<Vec<String>, (Vec<String>, DbError)> {
    use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
    let url = with_network_timeouts(url);
    let conn = tls::connect(&url)
        .await
        .map_err(|e| (Vec::new(), connect_error(&url, e)))?;
    let joined = tokio::task::spawn_blocking(move || {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::from(conn);
        let run = |sql: &str, conn: &mut AsyncConnectionWrapper<AsyncPgConnection>| {
            diesel::RunQueryDsl::execute(diesel::sql_query(sql), conn).map(|_| ())
        };
        // One migrator at a time, even when several processes start together (this wait is
        // not bounded: the other migrator is doing the work). Polled in short statements, not
        // waited for in one: a statement waiting holds a snapshot, and the other migrator's
        // CREATE INDEX CONCURRENTLY waits for every older snapshot: a deadlock, which cancels
        // the build and leaves its index invalid.
        wait_for_migrator_lock(&mut conn).map_err(|e| (Vec::new(), e))?;
        let mut applied = Vec::new();
        let outcome = (|| {
            for setting in [
                format!("SET lock_timeout = '{MIGRATION_LOCK_TIMEOUT}'"),
                "SET idle_in_transaction_session_timeout = '5min'".to_owned(),
            ] {
                run(&setting, &mut conn)?;
            }
            // PostgreSQL 14 and later; an older server runs the migrations without it.
            if let Err(e) = run("SET client_connection_check_interval = '10s'", &mut conn) {
                tracing::info!(error = %e, "The server has no client_connection_check_interval");
            }
            let pending = conn
                .pending_migrations(MIGRATIONS)
                .map_err(|e| DbError::Migration(e.to_string()))?;
            for migration in pending {
                // A migration outside a transaction builds or drops an index CONCURRENTLY, which
                // blocks no reader or writer while it waits: given up after a lock wait, it
                // would leave an invalid index that its IF NOT EXISTS then takes for done.
                let alone = !migration.metadata().run_in_transaction();
                if alone {
                    refuse_invalid_indexes(&mut conn)?;
                    run("SET lock_timeout = 0", &mut conn)?;
                }
                let version = conn
                    .run_migration(&*migration)
                    .map_err(|e| DbError::Migration(e.to_string()))?;
                if alone {
                    run(
                        &format!("SET lock_timeout = '{MIGRATION_LOCK_TIMEOUT}'"),
                        &mut conn,
                    )?;
                }
                applied.push(version.to_string());
            }
            Ok::<_, DbError>(())
        })();
        // Released now, not when the connection's driver gets round to closing it: a caller that
        // then blocks its runtime would otherwise keep every other migrator waiting.
        let unlocked = run("SELECT pg_advisory_unlock(4242001)", &mut conn);
        match outcome.and(unlocked.map_err(DbError::from)) {
            Ok(()) => Ok(applied),
            Err(e) => Err((applied, e)),
        }
    })
    .await;
    joined.unwrap_or_else(|e| Err((Vec::new(), DbError::Migration(e.to_string()))))
}

#[cfg(test)]
mod tests {
    use super::with_network_timeouts;

    #[test]
    fn a_passing_database_failure_is_worth_retrying_a_broken_constraint_is_not() {
        use diesel::result::{DatabaseErrorKind as Kind, Error};
        let db = |kind| Error::DatabaseError(kind, Box::new("x".to_owned()));
        for kind in [
            Kind::SerializationFailure,
            Kind::ReadOnlyTransaction,
            Kind::ClosedConnection,
            Kind::UnableToSendCommand,
            Kind::Unknown,
        ] {
            assert!(super::worth_retrying(&db(kind)));
        }
        for kind in [
            Kind::UniqueViolation,
            Kind::ForeignKeyViolation,
            Kind::NotNullViolation,
            Kind::CheckViolation,
        ] {
            assert!(!super::worth_retrying(&db(kind)));
        }
        assert!(!super::worth_retrying(&Error::NotFound));
        // Read through an error's chain, behind its context; the first failure of a known kind
        // decides.
        let deadlock = anyhow::Error::from(db(Kind::Unknown)).context("writing a page");
        assert!(super::chain_worth_retrying(deadlock.as_ref()));
        let checkout = anyhow::Error::from(super::DbError::Checkout("timed out".into()));
        assert!(super::chain_worth_retrying(checkout.as_ref()));
        let unique = anyhow::Error::from(db(Kind::UniqueViolation)).context("writing a page");
        assert!(!super::chain_worth_retrying(unique.as_ref()));
        assert!(!super::chain_worth_retrying(
            anyhow::anyhow!("a value that does not seal").as_ref()
        ));
    }

    #[test]
    fn network_timeouts_are_added_unless_the_url_names_them() {
        assert_eq!(
            with_network_timeouts("postgres://u@h:5432/db"),
            "postgres://u@h:5432/db?connect_timeout=10&keepalives_idle=30&keepalives_interval=10\
             &keepalives_retries=3&tcp_user_timeout=60"
        );
        assert_eq!(
            with_network_timeouts("postgresql://h/db?sslmode=require&keepalives_idle=5"),
            "postgresql://h/db?sslmode=require&keepalives_idle=5&connect_timeout=10\
             &keepalives_interval=10&keepalives_retries=3&tcp_user_timeout=60"
        );
        assert_eq!(
            with_network_timeouts("host=h dbname=db"),
            "host=h dbname=db",
            "the key=value form is left alone"
        );
    }

    #[test]
    fn tokio_postgres_reads_the_added_timeouts() {
        let url = with_network_timeouts("postgres://u@h:5432/db");
        let config: tokio_postgres::Config = url.parse().expect("a valid URL");
        assert_eq!(
            config.get_keepalives_idle(),
            std::time::Duration::from_secs(30)
        );
        assert_eq!(
            config.get_tcp_user_timeout(),
            Some(&std::time::Duration::from_secs(60))
        );
        assert_eq!(
            config.get_connect_timeout(),
            Some(&std::time::Duration::from_secs(10))
        );
    }
}
