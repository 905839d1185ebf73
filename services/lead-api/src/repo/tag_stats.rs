//! Each tag combination's share of all leads, from the planner's statistics: what the lead list
//! reads to choose its statement for a tag filter (`repo::leads::first_ids`).

use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// How often the tag statistics are read again.
const TAG_STATS_TTL: Duration = Duration::from_secs(60);

/// Each tag combination's share of all leads (every tenant's), from the planner's statistics:
/// the most common values of `tag_bits` in `pg_stats`, kept by autovacuum's ANALYZE (up to 100
/// by default; combinations are few, about 100 in the benchmark's million leads, so nearly every
/// lead's combination is among them, and a share read here is at worst an underestimate).
/// Read at most once a minute per process.
#[derive(Debug, Default)]
pub struct TagStats {
    cached: tokio::sync::Mutex<Option<Snapshot>>,
}

/// When the statistics were read, and each combination's share.
type Snapshot = (Instant, Vec<(i32, f64)>);

impl TagStats {
    /// The share of leads whose tags contain `mask` (0 before the first ANALYZE or when no
    /// combination stands out: treated as selective, which costs a small table only a sort).
    pub async fn share(&self, conn: &mut AsyncPgConnection, mask: i32) -> QueryResult<f64> {
        #[derive(QueryableByName)]
        struct Mcv {
            // Both NULL when no value stands out from the sample (a flat distribution).
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Array<diesel::sql_types::Integer>>)]
            vals: Option<Vec<i32>>,
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Array<diesel::sql_types::Float>>)]
            freqs: Option<Vec<f32>>,
        }
        let mut cached = self.cached.lock().await;
        let fresh = cached
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < TAG_STATS_TTL);
        if !fresh {
            let mcv: Option<Mcv> = diesel::sql_query(
                "SELECT most_common_vals::text::int4[] AS vals, most_common_freqs AS freqs \
                 FROM pg_stats WHERE schemaname = current_schema() \
                 AND tablename = 't_order_lead' AND attname = 'tag_bits'",
            )
            .get_result(conn)
            .await
            .optional()?;
            let combinations = mcv
                .map(|m| {
                    m.vals
                        .unwrap_or_default()
                        .into_iter()
                        .zip(m.freqs.unwrap_or_default().into_iter().map(f64::from))
                        .collect()
                })
                .unwrap_or_default();
            *cached = Some((Instant::now(), combinations));
        }
        Ok(cached.as_ref().map_or(0.0, |(_, combinations)| {
            combinations
                .iter()
                .filter(|(bits, _)| bits & mask == mask)
                .map(|(_, share)| share)
                .sum()
        }))
    }
}
