//! `POST /platforms/{platformId}/sync` (design 2.3): start a manual sync. The body is optional.

use actix_web::{HttpResponse, web};
use leadgen_http::{ApiError, AuthUser, Permission};

use crate::service::syncs::{self, SyncBody};
use crate::startup::AppState;

pub async fn sync(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    user.require(Permission::Sync)?;
    let body: SyncBody = if body.iter().all(u8::is_ascii_whitespace) {
        SyncBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(if e.is_data() {
                "请求体字段缺失或类型不正确"
            } else {
                "请求体不是合法的 JSON"
            })
        })?
    };
    let window = syncs::parse_window(&body)?;
    let accepted = syncs::request(&state, &user, path.into_inner(), window).await?;
    Ok(leadgen_http::ok(accepted))
}
