//! Query fragments diesel has no builder for: a bounded count (`SELECT count(*) FROM (<query>
//! LIMIT n)`, a total that costs at most `n` index entries however many rows match) and
//! `EXPLAIN (FORMAT JSON) <query>` (what the benchmarks report as a query's plan).

use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Text};

/// The count of `query`'s rows, up to its own `LIMIT` (see [`BoundedCount::new`]).
#[derive(Debug, Clone, Copy)]
pub struct BoundedCount<Q>(Q);

impl<Q> BoundedCount<Q> {
    /// `query` must already carry its `LIMIT` (the bound).
    pub fn new(query: Q) -> Self {
        BoundedCount(query)
    }
}

impl<Q> QueryId for BoundedCount<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> Query for BoundedCount<Q> {
    type SqlType = BigInt;
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for BoundedCount<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT count(*) FROM (");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(") AS bounded");
        Ok(())
    }
}

/// `EXPLAIN (FORMAT JSON)` of a query: the plan as one JSON text.
#[derive(Debug, Clone, Copy)]
pub struct Explain<Q>(pub Q);

impl<Q> QueryId for Explain<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> Query for Explain<Q> {
    type SqlType = Text;
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Explain<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("EXPLAIN (FORMAT JSON) ");
        self.0.walk_ast(out.reborrow())
    }
}
