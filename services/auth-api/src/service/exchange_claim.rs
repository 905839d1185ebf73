//! One callback of a consent exchanges its code at a time. A merchant who reloads the callback
//! page while the first request still waits on the platform sends the same single-use code
//! again: exchanged twice, the second exchange is refused, and its refusal would spend the state
//! and mark a new authorization `INVALID`, perhaps before the first stores the tokens it was
//! granted (which it then drops). The second callback instead waits for the first and answers
//! what it came to.

use std::time::Duration;

use leadgen_db::DbPool;
use leadgen_domain::PlatformId;

use crate::error::AuthApiError;
use crate::repo::platforms::{self as repo, AuthRow};

/// How long a claim holds before another callback may take the exchange over: longer than an
/// exchange with its retries and its wait for a rate slot (about a minute at most), and the
/// storing of its answer, tried again for 20 s after a passing failure of the database.
pub(crate) const LEASE_MINUTES: i64 = 3;

/// How long a second callback waits for the first's exchange before it answers that the
/// authorization is still being completed.
const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(250);

/// What the browser reads when another callback of the consent is still exchanging its code.
pub const IN_PROGRESS: &str = "该授权正在由另一请求完成，请稍候在授权列表中查看结果";

/// How a callback stands to the consent's code exchange.
pub enum Claim {
    /// This callback exchanges the code.
    Ours,
    /// Another callback finished with the consent meanwhile: the record as it now reads.
    Settled(Box<AuthRow>),
    /// Another callback still exchanges, after [`WAIT`].
    StillRunning,
}

/// Takes the exchange of `row`'s consent for this callback, or waits for the callback that has it.
pub async fn claim(pool: &DbPool, row: &AuthRow, state_hash: &str) -> Result<Claim, AuthApiError> {
    let deadline = tokio::time::Instant::now() + WAIT;
    let lease = chrono::Duration::minutes(LEASE_MINUTES);
    loop {
        let mut conn = leadgen_db::conn(pool).await?;
        if repo::claim_exchange(&mut conn, row.id, state_hash, lease).await? {
            return Ok(Claim::Ours);
        }
        if repo::state_spent(&mut conn, row.id, state_hash).await? {
            let now = repo::find_for_tenant(&mut conn, row.tenant_id, row.id).await?;
            return Ok(now.map_or(Claim::StillRunning, |now| Claim::Settled(Box::new(now))));
        }
        drop(conn);
        if tokio::time::Instant::now() >= deadline {
            return Ok(Claim::StillRunning);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The authorization the first callback activated (`row` itself, or the shop's existing record
/// it renewed), if it did: `row` is the record as this callback read it, `now` as it reads now.
/// A re-authorized shop may have been ACTIVE all along; only a consent stored after this one's
/// state was issued says the first callback succeeded.
pub fn activated(row: &AuthRow, now: &AuthRow) -> Option<PlatformId> {
    if let Some(survivor) = now.superseded_by {
        return Some(PlatformId::new(survivor));
    }
    let issued = row.oauth_state_issued_at.unwrap_or(row.update_time);
    let stored_since = now.activated_at.is_some_and(|at| at >= issued);
    (now.status == leadgen_domain::AuthStatus::Active && stored_since).then_some(now.id)
}
