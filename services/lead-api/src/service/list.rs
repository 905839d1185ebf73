//! The lead list (design 2.5) over buyer-leads: one page within the browsing window. Page
//! numbers reach the first [`leads::LIST_WINDOW`] leads of any filter and sort; a page beyond
//! it is past the list's end when fewer leads match (an empty page, as any list's), and refused
//! otherwise, so that no page reads more than the window. How a page is found is the repo's
//! (`repo::list`, `docs/lead-list.md`).
//!
//! A search by a full mobile number is the design's `contactInfo` filter and needs only
//! `lead:order:view`, but it tells whose number it is: it counts against the reveals' daily
//! limits, a tenant may search only a few different numbers behind one mask a day
//! ([`quota::take_search`]), and it is audited (`CONTACT_SEARCH`, never the number), so that
//! ten thousand searches over a mask's hidden digits cannot recover a number a buyer gave.

use leadgen_http::AuthUser;
use leadgen_http::paging::{Paging, SortOrder};

use crate::error::LeadApiError;
use crate::repo::leads::{self, LeadFilter, LeadPage};
use crate::service::{audit, quota};
use crate::startup::AppState;
use leadgen_domain::audit::AuditAction;

/// The page `paging` of the user's tenant's leads matching `filter`, in `sort` order.
pub async fn page(
    state: &AppState,
    user: &AuthUser,
    filter: &LeadFilter,
    sort: (&'static str, SortOrder),
    paging: Paging,
) -> Result<LeadPage, LeadApiError> {
    let tenant = user.tenant_id;
    let mut conn = leadgen_db::conn(&state.pool).await?;
    // A renewed authorization's old id (a 201 answered it) lists the shop it was renewed into.
    let resolved;
    let filter = match filter.platform_id {
        Some(id) => {
            resolved = LeadFilter {
                platform_id: Some(leads::surviving_platform(&mut conn, tenant, id).await?),
                ..filter.clone()
            };
            &resolved
        }
        None => filter,
    };
    let by_phone = filter.phone.is_some();
    if let Some(searched) = &filter.phone
        && let Err(refused) = quota::take_search(state, &mut conn, user, searched).await
    {
        audit_user_search(&mut conn, user, &[], Some(&refused)).await?;
        return Err(refused);
    }
    if paging.offset() < leads::LIST_WINDOW {
        let page = leads::list(&mut conn, &state.list_stats, tenant, filter, sort, paging).await?;
        if by_phone {
            audit_matches(&mut conn, state, user, (filter, sort), Some(&page)).await?;
        }
        return Ok(page);
    }
    let total = leads::total(&mut conn, &state.list_stats, tenant, filter).await?;
    if by_phone {
        audit_matches(&mut conn, state, user, (filter, sort), None).await?;
    }
    if total > leads::LIST_WINDOW {
        return Err(LeadApiError::BeyondWindow);
    }
    Ok(LeadPage {
        rows: Vec::new(),
        total,
        exact: true,
    })
}

/// Audits a search by a full mobile number with the leads it matched, whatever page was asked
/// (`asked`, when it was read): a page past the matches still tells, by its total, that the
/// number is a buyer's, so the audit names them as the first page would. A number is one
/// buyer's, a handful of leads at most: the first page of the largest size holds them.
async fn audit_matches(
    conn: &mut diesel_async::AsyncPgConnection,
    state: &AppState,
    user: &AuthUser,
    (filter, sort): (&LeadFilter, (&'static str, SortOrder)),
    asked: Option<&LeadPage>,
) -> Result<(), LeadApiError> {
    let holds_all = |page: &LeadPage| page.exact && page.rows.len() as i64 == page.total;
    let first;
    let matched = match asked {
        Some(page) if holds_all(page) => page,
        _ => {
            let paging = Paging {
                page: 1,
                size: leadgen_http::paging::MAX_SIZE,
            };
            first = leads::list(
                conn,
                &state.list_stats,
                user.tenant_id,
                filter,
                sort,
                paging,
            )
            .await?;
            &first
        }
    };
    let found: Vec<String> = matched.rows.iter().map(|r| r.id.to_string()).collect();
    audit_user_search(conn, user, &found, None).await
}

/// [`audit_phone_search`] by the request's user.
async fn audit_user_search(
    conn: &mut diesel_async::AsyncPgConnection,
    user: &AuthUser,
    found: &[String],
    refused: Option<&LeadApiError>,
) -> Result<(), LeadApiError> {
    audit_phone_search(conn, user.tenant_id, &audit::operator(user), found, refused).await
}

/// The operation log's record of a search by a full mobile number: who, which leads it found
/// (none when refused), and why it was refused. Never the number.
pub async fn audit_phone_search(
    conn: &mut diesel_async::AsyncPgConnection,
    tenant: leadgen_domain::TenantId,
    operator: &leadgen_db::oplog::Operator,
    found: &[String],
    refused: Option<&LeadApiError>,
) -> Result<(), LeadApiError> {
    let trace_id = leadgen_telemetry::current_trace_id();
    let line = audit::Line {
        operator,
        action: AuditAction::ContactSearch,
        leads: found.to_vec(),
        outcome: refused.map_or(Ok(()), |e| Err(e.audit())),
        detail: None,
    };
    Ok(audit::record(conn, tenant, line, &trace_id).await?)
}
