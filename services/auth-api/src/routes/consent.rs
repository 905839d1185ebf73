//! Binds a consent to the browser that asked for it (RFC 9700 §4.7.1, RFC 6749 §10.12).
//! Creating or re-authorizing an authorization answers a cookie holding the consent's `state`,
//! scoped to our callback's path; the callback completes only when the browser brings it back
//! (`[oauth] bind_state_to_browser`). Otherwise a merchant who opened someone else's consent
//! link would connect their own shop, and hand its buyers, to that person's tenant.

use actix_web::cookie::{Cookie, SameSite, time::Duration};
use actix_web::{HttpRequest, HttpResponse};

use crate::service::oauth::{self, Consent};
use crate::startup::AppState;

/// One cookie per consent, so that consents started side by side do not replace each other.
fn name(state: &str) -> String {
    let hash = oauth::hash_state(state);
    format!("leadgen_oauth_{}", &hash[..16])
}

/// The cookie the browser keeps until the platform sends it back to `consent`'s callback:
/// HttpOnly, `SameSite=Lax` (the platform's redirect is a top-level navigation), `Secure` when
/// the caller came over HTTPS, and no longer than the consent stays usable.
fn issue(req: &HttpRequest, consent: &Consent, ttl_minutes: i64) -> Cookie<'static> {
    Cookie::build(name(&consent.state), consent.state.clone())
        .path(path(&consent.callback_url))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(req.connection_info().scheme() == "https")
        .max_age(Duration::minutes(ttl_minutes))
        .finish()
}

/// The cookie's path: the callback's (every callback URL has the configured callback's path,
/// `authorizations::check_callback`), whatever spelling of it a request used.
fn path(callback_url: &str) -> String {
    url::Url::parse(callback_url)
        .map(|url| url.path().to_owned())
        .unwrap_or_else(|_| format!("{}/platforms/auth/callback", super::BASE))
}

/// Adds `consent`'s cookie to `response` when binding is on.
pub fn bind(req: &HttpRequest, state: &AppState, consent: &Consent, response: &mut HttpResponse) {
    if state.oauth.bind_state_to_browser {
        // Only a header value that cannot be encoded fails; the cookie is Base64 and a path.
        if let Err(e) = response.add_cookie(&issue(req, consent, state.oauth.state_ttl_minutes)) {
            tracing::error!(error = %e, "Could not set the consent cookie; the callback will refuse this consent");
        }
    }
}

/// Whether the browser brought back the cookie of `state`.
pub fn presented(req: &HttpRequest, state: &str) -> bool {
    req.cookie(&name(state))
        .is_some_and(|cookie| cookie.value() == state)
}

/// The removal of `state`'s cookie when the browser brought one: a callback spends the consent
/// whatever its outcome.
pub fn spent(req: &HttpRequest, app: &AppState, state: &str) -> Option<Cookie<'static>> {
    let mut cookie = Cookie::build(name(state), "")
        .path(path(&app.oauth.callback_url))
        .finish();
    req.cookie(cookie.name())?;
    cookie.make_removal();
    Some(cookie)
}
