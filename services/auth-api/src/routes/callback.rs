//! `GET /platforms/auth/callback`: where the platform's consent page sends the browser. No
//! bearer token (a browser redirect); the `state` we issued is the credential.

use actix_web::{HttpResponse, web};
use leadgen_http::ApiError;

use crate::service::oauth::{self, CallbackQuery};
use crate::startup::AppState;

pub async fn callback(
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    let completed = oauth::complete(&state, query.into_inner()).await?;
    Ok(match &completed.redirect_to {
        Some(url) => HttpResponse::Found()
            .insert_header(("Location", url.as_str()))
            .finish(),
        None => leadgen_http::ok(completed),
    })
}
