//! order-processor's queries, one module per table.
//!
//! **Lookups per key.** A batch touches a few hundred buyers of tables that grow to millions of
//! rows. Statements that fetch rows by the batch's keys are written as a lateral subquery per
//! key (`FROM unnest($1) AS k(id) CROSS JOIN LATERAL (… WHERE col = k.id OFFSET 0)`, the
//! `OFFSET 0` keeping the planner from flattening it into a join), which can only run as one
//! index lookup per key. Written as a join on `unnest` or as `= ANY(…)`, the plan rests on the
//! tables' statistics: on a fresh install's first backlog, before autovacuum's first ANALYZE (a
//! minute at the earliest), the planner assumes 200 distinct values per column and chose a hash
//! join over a scan of the whole table, once per batch, growing with the table (the backlog
//! benchmark: 5 ms a batch at 20,000 orders, for each of two statements).

pub mod housekeeping;
pub mod identities;
pub mod leads;
pub mod legacy;
pub mod processed;
pub mod purge;
pub mod raw_orders;
pub mod revealed;
pub mod shop_stats;
