//! `platform.changed.v1`: a shop's status change, announced in the transaction that made it.

use leadgen_domain::AuthStatus;
use leadgen_events::{CloudEvent, PlatformChangedV1};

use crate::SERVICE;
use crate::error::AuthApiError;
use crate::repo::platforms::AuthRow;

/// Enqueues `platform.changed.v1` when `after` (the row as the transaction left it) has another
/// status than `before`; nothing otherwise. Its `statusReason` is the row's.
pub async fn status_change(
    conn: &mut leadgen_db::PgConn,
    before: AuthStatus,
    after: &AuthRow,
) -> Result<(), AuthApiError> {
    status_change_because(conn, before, after, after.status_reason.clone()).await
}

/// [`status_change`] with the `statusReason` other teams read: the row's, but with the name of
/// the staff member who made the change masked (`已由 张* 停用`), as all personal data in events
/// is; the API shows the merchant's own staff the whole name.
pub async fn status_change_because(
    conn: &mut leadgen_db::PgConn,
    before: AuthStatus,
    after: &AuthRow,
    reason: Option<String>,
) -> Result<(), AuthApiError> {
    if before == after.status {
        return Ok(());
    }
    let status = after.status;
    let changed = PlatformChangedV1 {
        platform_id: after.id,
        platform_type: after.platform_type,
        status,
        previous_status: before,
        status_reason: reason,
        history_purge_at: after.purge_after.filter(|_| status == AuthStatus::Revoked),
        status_version: Some(after.status_version),
    };
    let event = CloudEvent::new(SERVICE, after.tenant_id, changed);
    leadgen_outbox::enqueue(conn, SERVICE, &event).await?;
    Ok(())
}
