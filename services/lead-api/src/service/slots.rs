//! A tenant's reveals in flight, bounded: the platforms' per-app rate limit is one queue for
//! every tenant of the app, so one tenant's burst of reveals (or a script) would make every
//! other tenant's salesperson wait behind it. Each tenant gets at most
//! `[reveal] per_tenant_concurrency` reveals at a time in this process; a reveal that waits
//! longer than `[reveal] busy_wait_ms` for one is answered 42904 with `Retry-After`, before its
//! daily quota is touched.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use leadgen_domain::TenantId;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The slots of every tenant seen, created on first use.
pub struct TenantSlots {
    per_tenant: usize,
    wait: Duration,
    slots: Mutex<HashMap<i64, Arc<Semaphore>>>,
}

/// No slot came free in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

impl TenantSlots {
    pub fn new(per_tenant: usize, wait: Duration) -> Self {
        TenantSlots {
            per_tenant: per_tenant.max(1),
            wait,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// One of `tenant`'s slots, held until the permit is dropped.
    pub async fn acquire(&self, tenant: TenantId) -> Result<OwnedSemaphorePermit, Busy> {
        let semaphore = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(
                slots
                    .entry(tenant.get())
                    .or_insert_with(|| Arc::new(Semaphore::new(self.per_tenant))),
            )
        };
        match tokio::time::timeout(self.wait, semaphore.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Busy),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_tenant_at_its_bound_waits_alone() {
        let slots = TenantSlots::new(2, Duration::from_millis(50));
        let (a, b) = (TenantId::new(1), TenantId::new(2));
        let held = [slots.acquire(a).await, slots.acquire(a).await];
        assert!(held.iter().all(Result::is_ok));
        // Tenant 1's third waits out the bound; tenant 2 is served at once.
        assert_eq!(slots.acquire(a).await.err(), Some(Busy));
        assert!(slots.acquire(b).await.is_ok());
        // A slot given back serves the next.
        drop(held);
        assert!(slots.acquire(a).await.is_ok());
    }
}
