//! `POST /leads/{leadId}/contact/reveal`: a buyer's number for a call, within the platform's
//! rules. The purpose must be one the lead's platform permits (never forced through another
//! scene); reveals are counted per user and per tenant per Beijing day, inside the platform's own
//! quota; the platform's decryption API is called through its adapter with the shop's session.
//! The number goes to the caller only: it is never stored, logged or put in an event. What is
//! kept of a revealed mobile is its keyed blind index (`remember_phone`), as a buyer identity, so
//! that a search by the full number finds the buyer and merges their shops; the index cannot be
//! turned back into the number without the index key. Every attempt is audited
//! (`t_contact_reveal` and the operation log) with its result.

use std::sync::Arc;
use tracing::Instrument as _;

use chrono::{DateTime, Utc};
use diesel_async::scoped_futures::ScopedFutureExt as _;
use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use leadgen_db::sealed;
use leadgen_domain::buyer::IdentityKey;
use leadgen_domain::{
    ContactField, ContactKind, NotCallable, PlatformType, RawOrder, contact::split_virtual,
};
use leadgen_http::AuthUser;
use leadgen_platforms::reveal::{DecryptRequest, RevealPurpose, RevealedContact};
use leadgen_platforms::session::{Session, SessionError};
use leadgen_platforms::{PlatformClient, PlatformError};
use leadgen_shop_session::{self as shop_session, CredentialSink};
use serde::Serialize;

use crate::error::LeadApiError;
use crate::repo::reveal::{self, RevealRecord};
use crate::service::audit;
use crate::service::{detail, quota};
use crate::startup::AppState;
use leadgen_domain::audit::{AuditAction, AuditResult};
use leadgen_domain::{LeadId, PlatformId, TenantId};

/// What a reveal asks for.
#[derive(Debug, Clone)]
pub struct RevealRequest {
    pub lead_id: LeadId,
    pub purpose: RevealPurpose,
    /// Why, in the salesperson's words (audited).
    pub reason: Option<String>,
}

/// The number to dial. Only in this answer; never stored or logged.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Revealed {
    pub lead_id: i64,
    pub order_id: String,
    #[schema(value_type = leadgen_http::openapi::PlatformTypeSchema)]
    pub platform_type: PlatformType,
    /// `PLAIN` (a mobile or landline) or `VIRTUAL` (a privacy number: dial `phone`, then
    /// `extension`, before `expiresAt`).
    #[schema(value_type = crate::openapi::RevealKindSchema)]
    pub kind: ContactKind,
    pub phone: String,
    /// A privacy number's extension; `null` for a plain number.
    #[schema(required = true)]
    pub extension: Option<String>,
    /// When a privacy number stops forwarding, where known; `null` otherwise.
    #[schema(required = true)]
    pub expires_at: Option<DateTime<Utc>>,
    #[schema(value_type = crate::openapi::RevealPurposeSchema)]
    pub purpose: RevealPurpose,
}

/// Where an attempt got to, for the audit.
struct Target {
    lead_id: LeadId,
    /// Unknown (0) until the order whose contact the lead shows is found.
    platform_id: PlatformId,
    order_id: String,
    /// The order's time, once found: a privacy number's expiry is assumed from it when the
    /// platform does not give it.
    ordered: Option<chrono::DateTime<chrono::Utc>>,
}

/// Reveals the lead's number and audits the attempt, whatever its outcome: an unknown lead or
/// another tenant's too (answered 404, recorded in the caller's own tenant).
///
/// The attempt and its audit run on a task of their own: a caller that goes away while the
/// platform decrypts (its request dropped) cannot leave a number revealed and unaudited.
pub async fn reveal(
    state: Arc<AppState>,
    user: AuthUser,
    request: RevealRequest,
) -> Result<Revealed, LeadApiError> {
    let audited = async move { reveal_and_audit(&state, &user, request).await };
    tokio::spawn(audited.in_current_span())
        .await
        .map_err(|e| LeadApiError::Unexpected(e.into()))?
}

#[tracing::instrument(name = "leads.reveal_contact", skip_all, fields(tenant_id = user.tenant_id.get(), lead_id = request.lead_id.get()))]
async fn reveal_and_audit(
    state: &AppState,
    user: &AuthUser,
    request: RevealRequest,
) -> Result<Revealed, LeadApiError> {
    let mut target = Target {
        lead_id: request.lead_id,
        platform_id: PlatformId::new(0),
        order_id: String::new(),
        ordered: None,
    };
    let outcome = attempt(state, user, &request, &mut target).await;
    let trace_id = leadgen_telemetry::current_trace_id();
    let error = outcome.as_ref().err().map(LeadApiError::audit);
    // Free text typed about a lead that is not there (unknown, another tenant's, or deleted by a
    // shop's purge while a screen still showed it) is not kept: the purge removed what was
    // written about that buyer, and would not see this.
    let reason = match &outcome {
        Err(LeadApiError::NotFound) => None,
        _ => request.reason.as_deref(),
    };
    let record = RevealRecord {
        tenant_id: user.tenant_id,
        lead_id: target.lead_id,
        platform_id: target.platform_id,
        order_id: &target.order_id,
        purpose: request.purpose.as_str(),
        reason,
        operator_id: user.user_id,
        operator_name: &user.name,
        result: if error.is_some() {
            AuditResult::Failure
        } else {
            AuditResult::Success
        }
        .as_str(),
        error_code: error.as_ref().and_then(|(c, _)| i32::try_from(*c).ok()),
        error_message: error.as_ref().map(|(_, m)| m.as_str()),
        trace_id: Some(&trace_id),
    };
    let line = audit::Line {
        operator: &audit::operator(user),
        action: AuditAction::ContactReveal,
        leads: vec![target.lead_id.to_string()],
        outcome: outcome.as_ref().map(|_| ()).map_err(LeadApiError::audit),
        detail: Some(serde_json::json!({
            "purpose": request.purpose.as_str(),
            "reason": reason,
            "platformId": (target.platform_id.get() != 0).then_some(target.platform_id.get()),
            "orderId": (!target.order_id.is_empty()).then_some(&target.order_id),
        })),
    };
    // A reveal that cannot be audited is not answered. Its two records are written together,
    // or neither is.
    let mut conn = leadgen_db::conn(&state.pool).await?;
    let tenant = user.tenant_id;
    let trace = &trace_id;
    conn.transaction::<(), diesel::result::Error, _>(|conn| {
        async move {
            reveal::record(conn, record).await?;
            audit::record(conn, tenant, line, trace).await
        }
        .scope_boxed()
    })
    .await?;
    // Which refusal it was (a salesperson's or a tenant's daily limit, the platform's quota,
    // too many at once, the platform's refusal): the access line says only 429 or 502.
    let code = error.as_ref().map_or(0, |(code, _)| *code);
    metrics::counter!("leadgen_contact_reveals_total", "code" => code.to_string()).increment(1);
    tracing::info!(
        reveal.code = code,
        reveal.purpose = request.purpose.as_str(),
        "Contact reveal answered"
    );
    outcome
}

/// A reveal refused before it reached the lead: without `lead:order:contact` (`request`, the
/// purpose and reason it gave, when its body could be read), or because its body could not be
/// (an invalid purpose or reason). Only the operation log records it.
/// `refusal` is the code and message the caller is answered with.
pub async fn refused(
    state: &AppState,
    user: &AuthUser,
    lead_id: LeadId,
    request: Option<&RevealRequest>,
    refusal: (u32, String),
) -> Result<(), LeadApiError> {
    let detail =
        request.map(|r| serde_json::json!({ "purpose": r.purpose.as_str(), "reason": r.reason }));
    let action = AuditAction::ContactReveal;
    audit::record_early_refusal(&state.pool, user, action, &[lead_id], refusal, detail).await
}

/// How the number is had, once the database has said all it can.
enum How {
    /// The platform sent it in clear: no platform call.
    Clear(RevealedContact),
    /// The platform's decrypt API, with the shop's session.
    Decrypt {
        client: Arc<dyn PlatformClient>,
        request: DecryptRequest,
        session: Box<Session>,
        /// The grant the session was opened on (`activated_at`): a dead session ends only it.
        grant: Option<chrono::DateTime<chrono::Utc>>,
        source: i64,
        /// The hash of the source order's version the request was made of.
        source_hash: String,
        /// The reveal counted against the limits: given back when the platform was never asked.
        taken: quota::Taken,
    },
}

/// Reads what the reveal needs and takes its quota on one pooled connection, then gives the
/// connection back before any platform call: a call may wait on the platform's rate limit or
/// refresh the shop's tokens (which take connections of their own), and a burst of reveals
/// holding theirs meanwhile would starve the pool for every request of every tenant.
async fn attempt(
    state: &AppState,
    user: &AuthUser,
    request: &RevealRequest,
    target: &mut Target,
) -> Result<Revealed, LeadApiError> {
    // Held to the end of the platform call, which is what the slot shares out: past the
    // deadline too (the call goes on), so a slow platform cannot take more of it.
    let slot = state
        .reveal_slots
        .acquire(user.tenant_id)
        .await
        .map_err(|_| LeadApiError::RevealBusy)?;
    let (answer, how) = {
        let mut conn = leadgen_db::conn(&state.pool).await?;
        prepare(state, user, request, &mut conn, target).await?
    };
    let (client, decrypt, mut session, grant, source, source_hash, taken) = match how {
        How::Clear(revealed) => return Ok(answered(answer, &revealed)),
        How::Decrypt {
            client,
            request,
            session,
            grant,
            source,
            source_hash,
            taken,
        } => (client, request, session, grant, source, source_hash, taken),
    };
    let platform_id = target.platform_id;
    let sink = CredentialSink {
        pool: state.pool.clone(),
        sealer: Arc::clone(&state.sealer),
        platform_id,
    };
    // The call runs on its own task: past the deadline the salesperson is answered, and the
    // call, a token refresh included, still ends and stores what it got (cut short, a refreshed
    // token the platform rotated would be lost with the shop's session).
    // What the call's outcome teaches is kept on that task too, whether or not the salesperson
    // still waits: a dead session ends the shop's grant, a real mobile becomes the buyer's.
    let deadline = std::time::Duration::from_millis(state.reveal.deadline_ms);
    let pool = state.pool.clone();
    let indexer = Arc::clone(&state.indexer);
    let tenant = user.tenant_id;
    // Under the request's span: its platform calls, a refresh and a grant it ends carry the
    // request's trace, tenant and lead.
    let call = state.reveal_calls.spawn(
        async move {
            let _slot = slot;
            let decrypted = session
                .decrypt_contact(client.as_ref(), &decrypt, &sink)
                .await;
            // Nothing reached the platform, or its throttle turned the call away, or the shop's
            // session could not be renewed (before the decrypt, or after the platform refused the
            // token): no number was opened and no decrypt spent, so the reveal is given back to the
            // salesperson's and the tenant's counts, whether or not the salesperson still waits.
            let nothing_opened = match &decrypted {
                Err(SessionError::Platform(e)) => e.may_resend_decrypt(),
                Err(SessionError::Expired(_) | SessionError::Persist(_)) => true,
                _ => false,
            };
            if nothing_opened {
                quota::give_back(&pool, taken).await;
            }
            match &decrypted {
                Ok(revealed) => {
                    remember_phone(&pool, &indexer, tenant, (source, &source_hash), revealed).await;
                }
                Err(SessionError::Expired(reason)) => {
                    end_grant(&pool, platform_id, grant, reason).await;
                }
                Err(_) => {}
            }
            // Also when the salesperson was answered at the deadline: how the call ended.
            match &decrypted {
                Ok(_) => tracing::info!("The reveal's decrypt call returned a number"),
                Err(e) => tracing::warn!(error = %e, "The reveal's decrypt call failed"),
            }
            decrypted
        }
        .in_current_span(),
    );
    let decrypted = match tokio::time::timeout(deadline, call).await {
        Ok(joined) => joined.map_err(|e| LeadApiError::Unexpected(e.into()))?,
        Err(_) => {
            return Err(LeadApiError::PlatformFailed(format!(
                "电商平台 {} 秒内未返回解密结果",
                deadline.as_secs()
            )));
        }
    };
    let revealed = match decrypted {
        Ok(r) => r,
        Err(SessionError::Expired(_)) => return Err(LeadApiError::PlatformNotActive),
        Err(SessionError::Platform(e)) => return Err(platform_error(e)),
        // Refreshed tokens not stored (our database, not the platform): never reported as the
        // platform's words.
        Err(e) => return Err(LeadApiError::Unexpected(e.into())),
    };
    // A privacy number decrypted without its expiry is shown the one assumed for a number sent
    // in clear, while it lies ahead (the session refused one the platform said had lapsed).
    let revealed = match target.ordered {
        Some(ordered) => revealed.with_assumed_expiry(ordered, chrono::Utc::now()),
        None => revealed,
    };
    Ok(answered(answer, &revealed))
}

/// The answer with the number to dial.
fn answered(answer: Revealed, revealed: &RevealedContact) -> Revealed {
    Revealed {
        kind: revealed.kind(),
        phone: revealed.expose_number().to_owned(),
        extension: revealed.expose_extension().map(str::to_owned),
        expires_at: revealed.expires_at(),
        ..answer
    }
}

/// A number the platform sent in clear, as a revealed one: a privacy number split into its main
/// number and extension.
fn clear_contact(phone: &ContactField) -> RevealedContact {
    match split_virtual(&phone.value) {
        Some((main, ext)) if phone.kind == ContactKind::Virtual => {
            RevealedContact::virtual_number(main, ext, phone.expires_at)
        }
        _ => RevealedContact::plain(phone.value.clone()),
    }
}

/// The lead, the order whose contact it shows, the purpose's check and the quota: the answer
/// without its number, and how to get the number.
async fn prepare(
    state: &AppState,
    user: &AuthUser,
    request: &RevealRequest,
    conn: &mut AsyncPgConnection,
    target: &mut Target,
) -> Result<(Revealed, How), LeadApiError> {
    let tenant = user.tenant_id;
    let lead = detail::resolve(conn, tenant, request.lead_id).await?;
    target.lead_id = lead.listed.id;
    // The order whose contact the lead shows: a merged buyer's may be on another platform and
    // shop than the latest order's.
    let source = lead.contact_source();
    let found = reveal::raw_order(conn, tenant, source)
        .await?
        .ok_or_else(|| {
            LeadApiError::NothingToReveal(Some(
                "线索展示号码所在的订单已不在（店铺的历史已按保留期删除，或订单尚未同步）".into(),
            ))
        })?;
    let platform_id = PlatformId::new(found.platform_id);
    target.platform_id = platform_id;
    target.order_id.clone_from(&found.order_id);
    let sealed_order = found.normalized.ok_or_else(|| {
        LeadApiError::NothingToReveal(Some(format!(
            "订单 {} 没有可读的收货人信息（平台下发的订单无法解析）",
            found.order_id
        )))
    })?;
    let json = state
        .sealer
        .open(
            &sealed::raw_order("normalized", platform_id, &found.order_id),
            &sealed_order,
        )
        .map_err(|e| LeadApiError::Unexpected(e.into()))?;
    // Never serde_json's own error: it would quote the buyer's data into the log.
    let order: RawOrder = leadgen_domain::stored_json::parse(&json)
        .map_err(|e| LeadApiError::Unexpected(e.into()))?;
    target.ordered = Some(order.order_time());
    let platform: PlatformType = found
        .platform_type
        .parse()
        .map_err(|e| LeadApiError::Unexpected(anyhow::anyhow!("{e}")))?;
    let answer = Revealed {
        lead_id: lead.listed.id.get(),
        order_id: found.order_id,
        platform_type: platform,
        kind: ContactKind::Plain,
        phone: String::new(),
        extension: None,
        expires_at: None,
        purpose: request.purpose,
    };

    // The purposes a platform permits bound every reveal of its buyers' numbers, also one it
    // sent in clear: what a salesperson may call for does not depend on how the number came.
    let client = state
        .platforms
        .get(platform)
        .ok_or_else(|| LeadApiError::PlatformNotSupported(platform.to_string()))?;
    if !client.reveal_purposes().contains(&request.purpose) {
        return Err(LeadApiError::PurposeNotPermitted(client.reveal_purposes()));
    }
    // Only a shop the merchant keeps connected and running has its buyers called, however the
    // number came: a paused shop is 40009, a disconnected or lapsed one 40001.
    let row = shop_session::find(conn, tenant, platform_id)
        .await?
        .ok_or(LeadApiError::PlatformNotActive)?;
    row.status.callable().map_err(|e| match e {
        NotCallable::Paused => LeadApiError::ShopDisabled,
        NotCallable::NoGrant => LeadApiError::PlatformNotActive,
    })?;
    // A number the platform sent in clear needs no platform call, but is still counted and
    // audited like any reveal.
    if let Some(phone) = order
        .receiver
        .phone
        .as_ref()
        .filter(|p| matches!(p.kind, ContactKind::Plain | ContactKind::Virtual))
    {
        // A privacy number sent without its expiry lapses as the lead's verdict takes it; one
        // that no longer forwards is refused before it costs a reveal.
        let revealed = clear_contact(&phone.clone().with_assumed_expiry(order.order_time()));
        if let Some(why) = revealed.undialable(chrono::Utc::now()) {
            return Err(LeadApiError::NotDecryptable(why));
        }
        quota::take(state, conn, user).await?;
        return Ok((answer, How::Clear(revealed)));
    }

    // Why there is nothing to decrypt stays in the audit (the answer's message is the code's).
    let decrypt =
        DecryptRequest::for_order(platform, &order, request.purpose).map_err(|e| match e {
            leadgen_platforms::PlatformError::InvalidRequest(why) => {
                LeadApiError::NothingToReveal(Some(why))
            }
            other => LeadApiError::NothingToReveal(Some(other.to_string())),
        })?;
    // The session first: credentials that do not open cost no reveal.
    let session = shop_session::open_session(&state.sealer, &row, state.policy)
        .map_err(|e| LeadApiError::Unexpected(e.into()))?;
    let taken = quota::take(state, conn, user).await?;
    let how = How::Decrypt {
        client,
        request: decrypt,
        session: Box::new(session),
        grant: row.activated_at,
        source,
        source_hash: found.content_hash,
        taken,
    };
    Ok((answer, how))
}

/// A real mobile the platform decrypted becomes one more identity of the buyer (its keyed blind
/// index only), so the buyer merges with any lead known by the same phone. Privacy numbers are
/// not identities: platforms reassign them. A failure here does not take the number from the
/// salesperson; it is logged and the next reveal tries again.
async fn remember_phone(
    pool: &leadgen_db::DbPool,
    indexer: &leadgen_crypto::BlindIndexer,
    tenant: TenantId,
    (raw_order_id, content_hash): (i64, &str),
    revealed: &leadgen_platforms::reveal::RevealedContact,
) {
    if revealed.kind() != ContactKind::Plain {
        return;
    }
    let Some(key) = IdentityKey::phone(revealed.expose_number()) else {
        return;
    };
    let index = indexer.current(tenant.get(), &key.material);
    let kept = match leadgen_db::conn(pool).await {
        Ok(mut conn) => {
            reveal::remember_phone(&mut conn, tenant, raw_order_id, content_hash, &index)
                .await
                .map_err(anyhow::Error::from)
        }
        Err(e) => Err(e.into()),
    };
    match kept {
        Ok(true) => tracing::info!(
            raw_order.id = raw_order_id,
            "Revealed phone kept as a buyer identity; order handed back to order-processor"
        ),
        Ok(false) => {}
        Err(e) => tracing::warn!(
            raw_order.id = raw_order_id,
            error = %e,
            "Could not keep the revealed phone as a buyer identity"
        ),
    }
}

/// The shop's session could not be renewed: the grant it was opened on ends (EXPIRED or
/// INVALID, announced). A failure here is logged; the next call finds the session dead again.
async fn end_grant(
    pool: &leadgen_db::DbPool,
    platform_id: PlatformId,
    grant: Option<chrono::DateTime<chrono::Utc>>,
    reason: &str,
) {
    tracing::warn!(platform.id = platform_id.get(), reason = %reason, "Platform session is dead; marking the shop EXPIRED or INVALID");
    let ended = match leadgen_db::conn(pool).await {
        Ok(mut conn) => {
            shop_session::mark_expired(&mut conn, platform_id, grant, reason, crate::SERVICE).await
        }
        Err(e) => Err(e.into()),
    };
    if let Err(e) = ended {
        tracing::warn!(platform.id = platform_id.get(), error = %format!("{e:#}"), "Could not mark the shop's dead session");
    }
}

fn platform_error(e: PlatformError) -> LeadApiError {
    match e {
        PlatformError::PurposeNotPermitted { .. } => LeadApiError::PurposeNotPermitted(&[]),
        PlatformError::DecryptNotPermitted { code, message } => {
            LeadApiError::PlatformRefused(format!("{code} {message}"))
        }
        PlatformError::QuotaExhausted {
            code,
            message,
            retry_after,
        } => LeadApiError::PlatformQuota {
            cause: format!("{code} {message}"),
            retry_after,
        },
        PlatformError::DecryptFailed { code, message } => {
            LeadApiError::NotDecryptable(format!("{code} {message}").trim().to_owned())
        }
        // Throttled beyond the retries, or held by a ban the platform stated (the decrypt
        // quota's ban included): the same 429 as a spent quota, with the wait when known.
        PlatformError::Throttled {
            retry_after,
            detail,
        } => LeadApiError::PlatformQuota {
            cause: match retry_after {
                Some(wait) => format!(
                    "平台限流，约 {} 秒后恢复{}",
                    wait.as_secs().max(1),
                    leadgen_platforms::client::platform_said(&detail)
                ),
                None => format!(
                    "平台限流，重试后仍失败{}",
                    leadgen_platforms::client::platform_said(&detail)
                ),
            },
            retry_after,
        },
        // Ours, not the platform's: the call was not made (a 503 to retry).
        PlatformError::GateUnavailable(cause) => LeadApiError::Unavailable(cause),
        e @ PlatformError::QueueFull { .. } => LeadApiError::Unavailable(e.to_string()),
        e @ PlatformError::UnavailableFor { retry_after, .. } => {
            LeadApiError::PlatformUnavailableFor {
                cause: e.to_string(),
                retry_after,
            }
        }
        other => LeadApiError::PlatformFailed(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use actix_web::ResponseError as _;

    use super::*;

    /// A platform that answered 5xx with a `Retry-After` past the retries: the reveal answers
    /// the platform failure with the platform's wait, and its audit keeps the platform's words.
    #[test]
    fn a_platform_unavailable_for_a_while_passes_its_wait_on() {
        let e = platform_error(PlatformError::UnavailableFor {
            retry_after: std::time::Duration::from_secs(30),
            detail: "HTTP 503 Service Unavailable".into(),
        });
        let (code, message) = e.audit();
        assert_eq!(code, 50201);
        assert!(message.contains("HTTP 503"), "{message}");
        let response = leadgen_http::ApiError::from(e).error_response();
        assert_eq!(response.status().as_u16(), 502);
        let wait = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok());
        assert_eq!(wait, Some("30"));
    }
}
