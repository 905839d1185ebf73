//! The lead list (design 2.5) over buyer-leads: one page within the browsing window. Page
//! numbers reach the first [`leads::LIST_WINDOW`] leads of any filter and sort; a page beyond
//! it is past the list's end when fewer leads match (an empty page, as any list's), and refused
//! otherwise, so that no page reads more than the window. How a page is found is the repo's
//! (`repo::list`, `docs/lead-list.md`).

use leadgen_domain::TenantId;
use leadgen_http::paging::{Paging, SortOrder};

use crate::error::LeadApiError;
use crate::repo::leads::{self, LeadFilter, LeadPage};
use crate::startup::AppState;

/// The page `paging` of the tenant's leads matching `filter`, in `sort` order.
pub async fn page(
    state: &AppState,
    tenant: TenantId,
    filter: &LeadFilter,
    sort: (&'static str, SortOrder),
    paging: Paging,
) -> Result<LeadPage, LeadApiError> {
    let mut conn = leadgen_db::conn(&state.pool).await?;
    if paging.offset().saturating_add(paging.size) <= leads::LIST_WINDOW {
        return Ok(leads::list(&mut conn, &state.list_stats, tenant, filter, sort, paging).await?);
    }
    let total = leads::total(&mut conn, &state.list_stats, tenant, filter).await?;
    if total > leads::LIST_WINDOW {
        return Err(LeadApiError::BeyondWindow);
    }
    Ok(LeadPage {
        rows: Vec::new(),
        total,
        exact: true,
    })
}
