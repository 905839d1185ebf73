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
/// Over HTTPS it is a `__Host-` cookie (RFC 6265bis §4.1.3.2): a browser takes it only from
/// our own host, `Secure`, for `Path=/` and without a `Domain`, so a sibling host (another
/// `*.example.com` site, or a script injected there) cannot plant its own consent's cookie in
/// a merchant's browser and have the merchant's approval connect the shop to its tenant.
fn name(req: &HttpRequest, state: &str) -> String {
    let hash = oauth::hash_state(state);
    let prefix = if secure(req) { "__Host-" } else { "" };
    format!("{prefix}leadgen_oauth_{}", &hash[..16])
}

/// Whether the caller came over HTTPS (as the gateway's `X-Forwarded-Proto` says behind it).
/// The request that sets the cookie and the callback that reads it both come through the
/// gateway, which serves HTTPS only in a deployment (the Ingress redirects plain HTTP), so they
/// agree; a local run over plain HTTP uses the plain name on both.
fn secure(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

/// The cookie the browser keeps until the platform sends it back to `consent`'s callback:
/// HttpOnly, `SameSite=Lax` (the platform's redirect is a top-level navigation), no longer
/// than the consent stays usable; over HTTPS `__Host-` ([`name`]: `Secure`, `Path=/`), over
/// plain HTTP (a local run) scoped to the callback's path.
fn issue(req: &HttpRequest, consent: &Consent, ttl_minutes: i64) -> Cookie<'static> {
    Cookie::build(name(req, &consent.state), consent.state.clone())
        .path(path(req, &consent.callback_url))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure(req))
        .max_age(Duration::minutes(ttl_minutes))
        .finish()
}

/// The cookie's path: `/` for a `__Host-` cookie, else the callback's (every callback URL has
/// the configured callback's path, `authorizations::check_callback`), whatever spelling of it
/// a request used.
fn path(req: &HttpRequest, callback_url: &str) -> String {
    if secure(req) {
        return "/".to_owned();
    }
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
    req.cookie(&name(req, state))
        .is_some_and(|cookie| cookie.value() == state)
}

/// The removal of `state`'s cookie when the browser brought one: a callback spends the consent
/// whatever its outcome.
pub fn spent(req: &HttpRequest, app: &AppState, state: &str) -> Option<Cookie<'static>> {
    let mut cookie = Cookie::build(name(req, state), "")
        .path(path(req, &app.oauth.callback_url))
        .secure(secure(req))
        .finish();
    req.cookie(cookie.name())?;
    cookie.make_removal();
    Some(cookie)
}
