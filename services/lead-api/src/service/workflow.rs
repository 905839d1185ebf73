//! The sales workflow: `PATCH /leads/{leadId}` and its bulk form. Per lead (a transaction, or a
//! savepoint of the bulk form's one transaction): lock it, check its version (If-Match), set the
//! status, record the change (history, operation log) and announce it (`LeadUpdated`, through the
//! outbox). Setting the status it already has changes nothing and announces nothing.

use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use leadgen_db::ScopedFutureExt as _;
use leadgen_db::oplog::Operator;
use leadgen_domain::buyer::BuyerAggregate;
use leadgen_domain::scoring::Reason;
use leadgen_domain::validity::ContactValidity;
use leadgen_domain::{IntentionTag, LeadProcessStatus};
use leadgen_events::{
    BuyerLead, CloudEvent, ContactSummary, LeadChange, LeadFacts, LeadUpdatedV1, ScoredBy,
};
use leadgen_http::AuthUser;
use serde::Serialize;

use crate::SERVICE;
use crate::error::LeadApiError;
use crate::repo::detail::{self, LeadDetailRow};
use crate::repo::workflow;
use crate::service::audit;
use crate::startup::AppState;
use leadgen_db::status_history::{self, NewChange};
use leadgen_domain::audit::AuditAction;
use leadgen_domain::{LeadId, PlatformId, TenantId};

/// A bulk request carries at most this many leads.
pub const MAX_BULK: usize = 100;

/// A note longer than this is refused.
pub const MAX_NOTE_CHARS: usize = 500;

/// What one status change asks for.
#[derive(Debug, Clone)]
pub struct ChangeStatus {
    pub lead_id: LeadId,
    /// The version the caller saw (If-Match); without it the change is refused (42801), and
    /// the refusal audited.
    pub version: Option<i32>,
    pub to: LeadProcessStatus,
    pub note: Option<String>,
}

/// The outcome for one lead.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Changed {
    pub lead_id: i64,
    #[schema(value_type = crate::openapi::LeadProcessStatusSchema)]
    pub process_status: LeadProcessStatus,
    pub version: i32,
    /// `false` when the lead already had the status.
    pub changed: bool,
}

/// Changes one lead's status.
#[tracing::instrument(name = "leads.change_status", skip_all, fields(tenant_id = user.tenant_id.get(), lead_id = request.lead_id.get()))]
pub async fn change(
    state: &AppState,
    user: &AuthUser,
    request: ChangeStatus,
) -> Result<Changed, LeadApiError> {
    let mut conn = leadgen_db::conn(&state.pool).await?;
    let tenant = user.tenant_id;
    let operator = audit::operator(user);
    let trace_id = leadgen_telemetry::current_trace_id();
    let outcome = conn
        .transaction::<Changed, LeadApiError, _>(|conn| {
            let request = request.clone();
            let operator = operator.clone();
            let trace_id = trace_id.clone();
            async move { change_locked(conn, tenant, &operator, &request, &trace_id).await }
                .scope_boxed()
        })
        .await;
    if let Err(e) = &outcome {
        audit_refusal(&mut conn, tenant, &operator, &request, e, &trace_id).await?;
    }
    outcome
}

/// A status change refused before it reached the lead: without `lead:order:process`, or
/// because its body or If-Match could not be read. Only the operation log records it;
/// `refusal` is the code and message the caller is answered with.
pub async fn refused(
    state: &AppState,
    user: &AuthUser,
    leads: &[LeadId],
    refusal: (u32, String),
) -> Result<(), LeadApiError> {
    let action = AuditAction::LeadStatusChange;
    audit::record_early_refusal(&state.pool, user, action, leads, refusal, None).await
}

/// Refusals are part of the audit trail too (who tried what on which lead). An unknown lead or
/// another tenant's is recorded too, in the caller's own tenant: probing for other tenants' ids
/// leaves a trace. A failure of ours (the database) is not a refusal.
async fn audit_refusal(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    operator: &Operator,
    request: &ChangeStatus,
    error: &LeadApiError,
    trace_id: &str,
) -> Result<(), LeadApiError> {
    if matches!(
        error,
        LeadApiError::Unexpected(_) | LeadApiError::Unavailable(_)
    ) {
        return Ok(());
    }
    let line = audit::Line {
        operator,
        action: AuditAction::LeadStatusChange,
        leads: vec![request.lead_id.to_string()],
        outcome: Err(error.audit()),
        // No free text about a lead that is not there (it may be one a purge just deleted).
        detail: Some(change_detail(
            None,
            request.to,
            request
                .note
                .as_deref()
                .filter(|_| !matches!(error, LeadApiError::NotFound)),
        )),
    };
    audit::record(conn, tenant, line, trace_id).await?;
    Ok(())
}

/// A status change's line in the operation log: from (when the lead was read), to, and the note.
fn change_detail(
    from: Option<LeadProcessStatus>,
    to: LeadProcessStatus,
    note: Option<&str>,
) -> serde_json::Value {
    serde_json::json!({
        "from": from.map(LeadProcessStatus::as_str),
        "to": to.as_str(),
        "note": note,
    })
}

/// Whether the lead's last status change is this request's: the same operator set the status it
/// asks for, with the same note (none alike), and the lead still has it.
async fn is_repeat(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    row: &LeadDetailRow,
    operator: &Operator,
    request: &ChangeStatus,
) -> Result<bool, LeadApiError> {
    if row.listed.process_status != request.to {
        return Ok(false);
    }
    let note = request.note.as_deref().filter(|n| !n.trim().is_empty());
    Ok(
        match workflow::last_change(conn, tenant, row.listed.id).await? {
            Some((by, to, last_note)) => {
                by == operator.user_id().get()
                    && to == request.to.as_str()
                    && last_note.as_deref().filter(|n| !n.trim().is_empty()) == note
            }
            None => false,
        },
    )
}

async fn change_locked(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    operator: &Operator,
    request: &ChangeStatus,
    trace_id: &str,
) -> Result<Changed, LeadApiError> {
    let row = detail::lock(conn, tenant, request.lead_id)
        .await?
        .ok_or(LeadApiError::NotFound)?;
    if let Some(into) = row.merged_into {
        return Err(LeadApiError::Merged(row.listed.id, LeadId::new(into)));
    }
    let expected = request.version.ok_or(LeadApiError::VersionRequired)?;
    // Refused only when someone set the status since the version the client read (or the
    // version is not one the lead had: versions start at 1): a rescore, a new order or a note
    // moves the version without overwriting anyone's decision.
    if expected < 1 || expected > row.listed.version || expected < row.status_version {
        // A request sent twice (a double click, a retry after a lost answer) finds its own
        // change already made: answered as done, not as someone else's conflict.
        if is_repeat(conn, tenant, &row, operator, request).await? {
            return Ok(Changed {
                lead_id: row.listed.id.get(),
                process_status: request.to,
                version: row.listed.version,
                changed: false,
            });
        }
        return Err(LeadApiError::VersionConflict {
            expected,
            current: row.listed.version,
        });
    }
    let from = row.listed.process_status;
    let note = request.note.as_deref().filter(|n| !n.trim().is_empty());
    if from == request.to && note.is_none() {
        return Ok(Changed {
            lead_id: row.listed.id.get(),
            process_status: from,
            version: row.listed.version,
            changed: false,
        });
    }
    let changed = from != request.to;
    // A note with the status the lead has is a follow-up: kept in the history and the log,
    // announced to no one (no announced field changed).
    let version = if changed {
        workflow::set_status(conn, tenant, row.listed.id, request.to.as_str()).await?
    } else {
        workflow::touch(conn, tenant, row.listed.id).await?
    };
    let (operator_id, operator_name) = (operator.user_id(), operator.name());
    status_history::record(
        conn,
        &[NewChange {
            tenant_id: tenant,
            lead_id: row.listed.id,
            from_status: from.as_str(),
            to_status: request.to.as_str(),
            note: request.note.as_deref(),
            operator_id,
            operator_name,
        }],
    )
    .await?;
    let line = audit::Line {
        operator,
        action: AuditAction::LeadStatusChange,
        leads: vec![row.listed.id.to_string()],
        outcome: Ok(()),
        detail: Some(change_detail(
            Some(from),
            request.to,
            request.note.as_deref(),
        )),
    };
    audit::record(conn, tenant, line, trace_id).await?;
    if !changed {
        return Ok(Changed {
            lead_id: row.listed.id.get(),
            process_status: from,
            version,
            changed: false,
        });
    }
    let lead = snapshot(&row, request.to, version)?;
    let event = CloudEvent::new(
        SERVICE,
        tenant,
        LeadUpdatedV1 {
            lead,
            changes: vec![LeadChange::Status],
            merged_lead_ids: Vec::new(),
            orders_changed: false,
        },
    );
    leadgen_outbox::enqueue(conn, SERVICE, &event)
        .await
        .map_err(|e| LeadApiError::Unexpected(e.into()))?;
    Ok(Changed {
        lead_id: row.listed.id.get(),
        process_status: request.to,
        version,
        changed: true,
    })
}

/// The lead as other teams see it after the change (masked contact, reasons, model).
fn snapshot(
    row: &LeadDetailRow,
    status: LeadProcessStatus,
    version: i32,
) -> Result<BuyerLead, LeadApiError> {
    // Never serde_json's own error: it quotes the value it stumbled on.
    use leadgen_domain::stored_json::{JsonFault, from_value};
    let bad = |e: JsonFault| LeadApiError::Unexpected(e.into());
    let aggregate: BuyerAggregate = from_value(row.aggregate.clone()).map_err(bad)?;
    let validity: ContactValidity =
        from_value(row.listed.contact_validity_reason.clone()).map_err(bad)?;
    let reasons: Vec<Reason> = from_value(row.listed.score_reasons.clone()).map_err(bad)?;
    let contact =
        ContactSummary::from_stored(&row.listed.contact_kind, row.listed.contact_masked.clone())
            .map_err(|e| bad(e.into()))?;
    let scored_by = ScoredBy::parse(&row.scored_by).ok_or_else(|| {
        LeadApiError::Unexpected(anyhow::anyhow!("unknown scored_by `{}`", row.scored_by))
    })?;
    Ok(BuyerLead::from_facts(LeadFacts {
        lead_id: row.listed.id,
        platform_id: PlatformId::new(row.listed.platform_id),
        platform_type: row.listed.platform_type,
        latest_order_id: &row.listed.order_id,
        latest_order_time: row.listed.order_time,
        aggregate: &aggregate,
        contact,
        validity: &validity,
        score: u8::try_from(row.listed.score).unwrap_or_default(),
        intention: u8::try_from(row.intention).unwrap_or_default(),
        tags: row
            .listed
            .intention_tags
            .iter()
            .filter_map(|l| IntentionTag::from_label(l))
            .collect(),
        reasons,
        model_version: row.listed.model_version.clone(),
        scored_by,
        process_status: status,
        version,
    }))
}

/// One lead's answer in a bulk change.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkResult {
    pub lead_id: i64,
    #[schema(value_type = crate::openapi::BulkOutcomeSchema)]
    pub result: BulkOutcome,
    /// The business or HTTP code of a refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub code: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub version: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, value_type = Option<crate::openapi::LeadProcessStatusSchema>)]
    pub process_status: Option<LeadProcessStatus>,
    /// `MERGED`: the lead it was merged into (the same buyer's), to act on instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub merged_into: Option<i64>,
}

/// One lead's outcome in a bulk status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BulkOutcome {
    /// Its status changed.
    Updated,
    /// It already had that status.
    Unchanged,
    /// Unknown, or another tenant's.
    NotFound,
    /// Changed by someone since the version given.
    Conflict,
    /// Merged into another lead.
    Merged,
    /// Refused otherwise (`code` and `message` say why).
    Failed,
}

impl BulkOutcome {
    /// Every outcome (the OpenAPI document lists them).
    pub const ALL: [BulkOutcome; 6] = [
        BulkOutcome::Updated,
        BulkOutcome::Unchanged,
        BulkOutcome::NotFound,
        BulkOutcome::Conflict,
        BulkOutcome::Merged,
        BulkOutcome::Failed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            BulkOutcome::Updated => "UPDATED",
            BulkOutcome::Unchanged => "UNCHANGED",
            BulkOutcome::NotFound => "NOT_FOUND",
            BulkOutcome::Conflict => "CONFLICT",
            BulkOutcome::Merged => "MERGED",
            BulkOutcome::Failed => "FAILED",
        }
    }

    /// How a refusal reads in the bulk answer: the three a client handles per lead by name,
    /// every other refusal `FAILED` with its code.
    fn of_refusal(e: &LeadApiError) -> Self {
        match e {
            LeadApiError::NotFound => BulkOutcome::NotFound,
            LeadApiError::VersionConflict { .. } => BulkOutcome::Conflict,
            LeadApiError::Merged(..) => BulkOutcome::Merged,
            _ => BulkOutcome::Failed,
        }
    }
}

/// Changes each lead on its own: one lead's refusal never undoes another's change, while a
/// failure of the database or the server on any lead undoes the lot (the request's 5xx). All in
/// one transaction, each lead in a savepoint of its own (its refusal rolls back only its part, and
/// is audited), locked in id order (two bulk requests over the same leads never deadlock): one
/// connection and one commit for the lot, instead of one of each per lead. Answers in the order
/// asked.
#[tracing::instrument(name = "leads.change_status_many", skip_all, fields(tenant_id = user.tenant_id.get(), leads = requests.len()))]
pub async fn change_many(
    state: &AppState,
    user: &AuthUser,
    requests: Vec<ChangeStatus>,
) -> Result<Vec<BulkResult>, LeadApiError> {
    let mut order: Vec<usize> = (0..requests.len()).collect();
    order.sort_by_key(|&i| requests[i].lead_id.get());
    let tenant = user.tenant_id;
    let operator = audit::operator(user);
    let trace_id = leadgen_telemetry::current_trace_id();
    let (asked, order, operator, trace_id) = (&requests, &order, &operator, &trace_id);
    let outcome = async {
        let mut conn = leadgen_db::conn(&state.pool).await?;
        conn.transaction::<Vec<Result<Changed, LeadApiError>>, LeadApiError, _>(|conn| {
            async move {
                // Run in id order, answered in the order asked.
                let mut outcomes: Vec<(usize, Result<Changed, LeadApiError>)> =
                    Vec::with_capacity(asked.len());
                for &i in order {
                    let request = &asked[i];
                    let outcome = conn
                        .transaction::<Changed, LeadApiError, _>(|conn| {
                            async move {
                                change_locked(conn, tenant, operator, request, trace_id).await
                            }
                            .scope_boxed()
                        })
                        .await;
                    // The database or the server failed this lead, not the request: the lot
                    // is rolled back and the request answers 5xx (a 200 would say the other
                    // leads changed, and the cause would go unlogged).
                    if let Err(e @ (LeadApiError::Unavailable(_) | LeadApiError::Unexpected(_))) =
                        outcome
                    {
                        return Err(e);
                    }
                    if let Err(e) = &outcome {
                        audit_refusal(conn, tenant, operator, request, e, trace_id).await?;
                    }
                    outcomes.push((i, outcome));
                }
                outcomes.sort_by_key(|(i, _)| *i);
                Ok(outcomes.into_iter().map(|(_, outcome)| outcome).collect())
            }
            .scope_boxed()
        })
        .await
    }
    .await;
    // Nothing was committed when the lot failed (the database): the request's error, a 5xx a
    // client retries, rather than a 200 whose every line failed alike.
    let outcomes = outcome?;
    Ok(requests
        .iter()
        .zip(outcomes)
        .map(|(request, outcome)| bulk_result(request.lead_id.get(), outcome))
        .collect())
}

/// One lead's line of the bulk answer.
fn bulk_result(lead_id: i64, outcome: Result<Changed, LeadApiError>) -> BulkResult {
    match outcome {
        Ok(c) => BulkResult {
            lead_id,
            result: if c.changed {
                BulkOutcome::Updated
            } else {
                BulkOutcome::Unchanged
            },
            code: None,
            message: None,
            version: Some(c.version),
            process_status: Some(c.process_status),
            merged_into: None,
        },
        Err(e) => {
            let kind = BulkOutcome::of_refusal(&e);
            // A conflict answers the current version: the client re-reads that lead only.
            let current = match &e {
                LeadApiError::VersionConflict { current, .. } => Some(*current),
                _ => None,
            };
            let merged_into = match &e {
                LeadApiError::Merged(_, into) => Some(into.get()),
                _ => None,
            };
            let api: leadgen_http::ApiError = e.into();
            BulkResult {
                lead_id,
                result: kind,
                code: Some(api.code()),
                message: Some(api.to_string()),
                version: current,
                process_status: None,
                merged_into,
            }
        }
    }
}
