//! What the lead list has learnt to choose and write its statements
//! (`repo::leads::first_ids`): from the planner's statistics, each tag combination's share of
//! all leads and each large tenant's; from its own runs, which probes of a sort's head recently
//! came back short.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{Array, Float, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::DbPool;
use leadgen_domain::TenantId;
use tokio_util::sync::CancellationToken;

/// How often [`ListStats::keep_fresh`] reads the statistics again.
pub const STATS_TTL: Duration = Duration::from_secs(60);

/// How old the statistics may be before a request reads them itself: only when nothing keeps
/// them fresh (before the refresher's first read, or a process without one, as the benchmark's
/// bare side).
const STALE_AFTER: Duration = Duration::from_secs(180);

/// The most common values of `t_order_lead.tag_bits` and `t_order_lead.tenant_id` in
/// `pg_stats`, kept by autovacuum's ANALYZE, with their shares of all leads (every tenant's).
/// Up to 100 values each by default: tag combinations are few (about 100 in the benchmark's
/// million leads), so nearly every lead's combination is among them and a share read here is at
/// worst an underestimate; a tenant among them holds at least a few percent of all leads.
///
/// Read once a minute by a background task ([`ListStats::keep_fresh`]), so that no request
/// waits for the read, nor queues behind another request's.
#[derive(Debug, Default)]
pub struct ListStats {
    cached: RwLock<Option<Arc<Snapshot>>>,
    /// One read at a time when requests must read the statistics themselves.
    reading: tokio::sync::Mutex<()>,
    probe_misses: std::sync::Mutex<HashMap<String, Instant>>,
}

/// How long a probe that came back short is not tried again for the same request.
const PROBE_MISS_TTL: Duration = Duration::from_secs(60);

/// The most probe misses kept; past it the oldest are forgotten.
const MAX_PROBE_MISSES: usize = 1_024;

#[derive(Debug)]
struct Snapshot {
    read_at: Instant,
    /// Each tag combination (`tag_bits`) and its share.
    tags: Vec<(i32, f64)>,
    /// Each common tenant and its share.
    tenants: Vec<(i64, f64)>,
}

#[derive(QueryableByName)]
struct Mcv {
    #[diesel(sql_type = Text)]
    attname: String,
    // Both NULL when no value stands out from the sample (a flat distribution).
    #[diesel(sql_type = Nullable<Text>)]
    vals: Option<String>,
    #[diesel(sql_type = Nullable<Array<Float>>)]
    freqs: Option<Vec<f32>>,
}

/// `{1,2,3}` (an `anyarray` of integers as text) → the values, in order.
fn int_values<T: std::str::FromStr>(text: &str) -> Vec<T> {
    text.trim_matches(|c| c == '{' || c == '}')
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect()
}

fn pairs<T: std::str::FromStr>(mcv: Option<&Mcv>) -> Vec<(T, f64)> {
    mcv.map(|m| {
        int_values(m.vals.as_deref().unwrap_or_default())
            .into_iter()
            .zip(m.freqs.iter().flatten().copied().map(f64::from))
            .collect()
    })
    .unwrap_or_default()
}

impl ListStats {
    /// Reads the statistics now.
    pub async fn refresh(&self, conn: &mut AsyncPgConnection) -> QueryResult<()> {
        self.read(conn).await.map(drop)
    }

    async fn read(&self, conn: &mut AsyncPgConnection) -> QueryResult<Arc<Snapshot>> {
        let rows: Vec<Mcv> = diesel::sql_query(
            "SELECT attname::text AS attname, most_common_vals::text AS vals, \
                    most_common_freqs AS freqs \
             FROM pg_stats WHERE schemaname = current_schema() \
             AND tablename = 't_order_lead' AND attname IN ('tag_bits', 'tenant_id')",
        )
        .load(conn)
        .await?;
        let of = |name: &str| rows.iter().find(|m| m.attname == name);
        let snapshot = Arc::new(Snapshot {
            read_at: Instant::now(),
            tags: pairs(of("tag_bits")),
            tenants: pairs(of("tenant_id")),
        });
        *self
            .cached
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Arc::clone(&snapshot));
        Ok(snapshot)
    }

    /// How long ago the statistics were read (`None`: never).
    pub fn age(&self) -> Option<Duration> {
        self.current().map(|s| s.read_at.elapsed())
    }

    /// Reads the statistics every `every` until `stop`, so that requests find them fresh. A
    /// failed read is logged and tried again at the next tick; requests keep the last ones.
    pub async fn keep_fresh(
        self: Arc<Self>,
        pool: DbPool,
        every: Duration,
        stop: CancellationToken,
    ) {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let read = match leadgen_db::conn(&pool).await {
                Ok(mut conn) => self.refresh(&mut conn).await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(error) = read {
                tracing::warn!(%error, "Reading the lead list's statistics failed; keeping the last ones");
            }
        }
    }

    fn current(&self) -> Option<Arc<Snapshot>> {
        self.cached
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The statistics; read on `conn` only when nothing has kept them fresh.
    async fn snapshot(&self, conn: &mut AsyncPgConnection) -> QueryResult<Arc<Snapshot>> {
        let usable = || self.current().filter(|s| s.read_at.elapsed() < STALE_AFTER);
        if let Some(snapshot) = usable() {
            return Ok(snapshot);
        }
        let _one_read = self.reading.lock().await;
        if let Some(snapshot) = usable() {
            return Ok(snapshot);
        }
        self.read(conn).await
    }

    /// The share of leads whose tags contain `mask` (0 before the first ANALYZE or when no
    /// combination stands out: treated as selective, which costs a small table only a sort).
    pub async fn tag_share(&self, conn: &mut AsyncPgConnection, mask: i32) -> QueryResult<f64> {
        let snapshot = self.snapshot(conn).await?;
        Ok(snapshot
            .tags
            .iter()
            .filter(|(bits, _)| bits & mask == mask)
            .map(|(_, share)| share)
            .sum())
    }

    /// The tenant's share of all leads (0 when it is not among the common values: a small
    /// tenant, or statistics not yet gathered).
    pub async fn tenant_share(
        &self,
        conn: &mut AsyncPgConnection,
        tenant: TenantId,
    ) -> QueryResult<f64> {
        let snapshot = self.snapshot(conn).await?;
        Ok(snapshot
            .tenants
            .iter()
            .find(|(id, _)| *id == tenant.get())
            .map_or(0.0, |(_, share)| *share))
    }

    /// Whether a probe for `request` (the tenant, filter, sort and depth, written as a key)
    /// came back short within the last minute: the matches are not dense at the head of that
    /// order, so the fenced statement can run at once instead of after another probe (at a
    /// deep page, 10,000 index entries read for nothing, 3–4 ms).
    pub fn probe_missed(&self, request: &str) -> bool {
        let misses = self
            .probe_misses
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        misses
            .get(request)
            .is_some_and(|at| at.elapsed() < PROBE_MISS_TTL)
    }

    /// Remembers that a probe for `request` came back short.
    pub fn remember_probe_miss(&self, request: String) {
        let mut misses = self
            .probe_misses
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        misses.retain(|_, at| at.elapsed() < PROBE_MISS_TTL);
        let oldest = (misses.len() >= MAX_PROBE_MISSES)
            .then(|| {
                misses
                    .iter()
                    .min_by_key(|(_, at)| **at)
                    .map(|(k, _)| k.clone())
            })
            .flatten();
        if let Some(oldest) = oldest {
            misses.remove(&oldest);
        }
        misses.insert(request, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_common_values_are_read_from_their_text() {
        assert_eq!(int_values::<i64>("{1,7,12}"), vec![1, 7, 12]);
        assert_eq!(int_values::<i32>("{}"), Vec::<i32>::new());
        let mcv = Mcv {
            attname: "tenant_id".into(),
            vals: Some("{1,2}".into()),
            freqs: Some(vec![0.8, 0.1]),
        };
        let read: Vec<(i64, f64)> = pairs(Some(&mcv));
        assert_eq!(read.len(), 2);
        assert_eq!(read[0].0, 1);
        assert!((read[0].1 - 0.8).abs() < 1e-6);
    }

    #[test]
    fn a_probe_miss_is_remembered_per_request_and_bounded() {
        let stats = ListStats::default();
        assert!(!stats.probe_missed("a"));
        stats.remember_probe_miss("a".into());
        assert!(stats.probe_missed("a"));
        assert!(!stats.probe_missed("b"));
        for i in 0..MAX_PROBE_MISSES + 10 {
            stats.remember_probe_miss(format!("k{i}"));
        }
        let kept = stats.probe_misses.lock().unwrap().len();
        assert_eq!(kept, MAX_PROBE_MISSES);
        assert!(stats.probe_missed(&format!("k{}", MAX_PROBE_MISSES + 9)));
        assert!(!stats.probe_missed("a"), "the oldest is forgotten first");
    }
}
