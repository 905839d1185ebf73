//! A PostgreSQL session-level advisory lock held across work that is not one transaction (a
//! platform call between the read and the write it guards), on a pooled connection of its own.
//! Released explicitly; a lock dropped unreleased (its task cancelled) closes its connection
//! instead of pooling it, which ends the lock: a pooled connection never keeps one.

use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;

use crate::{DbError, DbPool, PooledConn};

/// A held advisory lock on `key`.
pub struct HeldLock {
    conn: Option<PooledConn>,
    key: i64,
}

impl HeldLock {
    /// Takes the lock on `key` if it is free now; `None` (and no connection kept) when another
    /// session holds it. A caller that waits for it polls, holding no connection meanwhile: a
    /// connection held while waiting is one the holder may need to finish.
    pub async fn try_acquire(pool: &DbPool, key: i64) -> Result<Option<HeldLock>, DbError> {
        #[derive(diesel::QueryableByName)]
        struct Locked {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            locked: bool,
        }
        let mut conn = crate::conn(pool).await?;
        let got: Locked = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS locked")
            .bind::<BigInt, _>(key)
            .get_result(&mut conn)
            .await?;
        Ok(got.locked.then_some(HeldLock {
            conn: Some(conn),
            key,
        }))
    }

    /// Releases the lock and pools its connection again (closes it when the unlock fails).
    pub async fn release(mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        let unlocked = diesel::sql_query("SELECT pg_advisory_unlock($1)")
            .bind::<BigInt, _>(self.key)
            .execute(&mut conn)
            .await;
        if let Err(e) = unlocked {
            tracing::warn!(error = %e, "Could not release an advisory lock; closing its connection");
            close(conn);
        }
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            close(conn);
        }
    }
}

/// Closes a pooled connection instead of returning it to the pool.
fn close(conn: PooledConn) {
    drop(deadpool::managed::Object::take(conn));
}
