//! `GET /platforms/{platformId}`: one authorization (design 4.1 `getAuthDetail`; the `Location`
//! of a created authorization).

use actix_web::{HttpResponse, web};
use leadgen_http::{ApiError, AuthUser, Permission};

use crate::service::authorizations;
use crate::startup::AppState;

pub async fn detail(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    user.require(Permission::View)?;
    let platform = authorizations::detail(&state, user.tenant_id, path.into_inner()).await?;
    Ok(leadgen_http::ok(platform))
}
