//! The consent page every platform shows before it hands out an authorization code, and its
//! approval.
//!
//! `GET` renders the page: the seller's account, the app, the permissions asked for, and one
//! form whose hidden inputs carry the request's (non-empty) parameters back to the same path.
//! `POST` (the form) checks the request again, issues a code and redirects to
//! `redirect_uri?code=…&state=…` (302). A request that fails the checks gets the platform's
//! error page (400) on either method.
//!
//! Who consents is who logs in on the page, not the app: the form's one text input,
//! [`SELLER_FIELD`] (`seller`), is the seller's login name, and the code (and the tokens it is
//! exchanged for) belongs to that seller's shop of the app ([`ShopKey`]). The input shows
//! [`DEFAULT_SELLER`] (or the page request's own `seller`, which then is no hidden input), so a
//! client that posts the form back as it came, or posts no `seller` at all, consents as the
//! default seller, whose shop is the one the app key always had. An empty `seller` is the default
//! one too; a name longer than [`MAX_SELLER_CHARS`] characters or with a control character gets
//! the error page.
//!
//! What differs between platforms stays in each platform's `oauth` module as a [`ConsentFlow`]:
//! the parameter names, the checks and their messages (`validate`), the page's text
//! ([`ConsentPage`]), whose account the page shows and which store issues the code.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};

use leadgen_domain::PlatformType;
use leadgen_platforms::sign::Params;

use crate::http_util::{html_escape, html_response, request_params};
use crate::shop::{DEFAULT_SELLER, MAX_SELLER_CHARS, ShopKey, seller_name};
use crate::state::SimState;

/// The consent form's field naming the seller who logs in to consent.
pub const SELLER_FIELD: &str = "seller";

/// A consent request that passed the platform's checks.
pub struct Consent {
    /// The app asking (`client_id`, `app_key`, `service_id` or `app_id`).
    pub app_key: String,
    /// The seller logging in to consent ([`SELLER_FIELD`]; [`DEFAULT_SELLER`] until read).
    pub seller: String,
    pub redirect_uri: String,
    /// Echoed on the redirect (and the cancel link) when the request carried one.
    pub state: Option<String>,
    /// The scopes the request asked for (listed under [`Permissions::Requested`]).
    pub scopes: Vec<String>,
}

impl Consent {
    pub fn new(app_key: &str, redirect_uri: &str, state: Option<&str>) -> Self {
        Consent {
            app_key: app_key.to_owned(),
            seller: DEFAULT_SELLER.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            state: state.map(str::to_owned),
            scopes: Vec::new(),
        }
    }

    /// The shop the consent authorizes: the app's shop of the seller who logged in.
    pub fn shop(&self) -> ShopKey {
        ShopKey::new(&self.app_key, &self.seller)
    }
}

/// What the page lists as the permissions asked for.
pub enum Permissions {
    /// The platform's fixed list (HTML).
    Fixed(&'static [&'static str]),
    /// The request's own scopes (escaped).
    Requested,
}

/// The error page: `<h2>授权失败</h2><p>{message}</p>`, then `hint` as a paragraph; the whole
/// inside `<div class="error">` when `boxed`.
pub struct ErrorPage {
    pub title: &'static str,
    pub boxed: bool,
    pub hint: Option<&'static str>,
}

/// A platform's consent page text (HTML) and where its form posts to.
pub struct ConsentPage {
    pub title: &'static str,
    /// The banner above the page (`<div class="header">`), if any.
    pub header: Option<&'static str>,
    /// Before the account name (`当前账号：`).
    pub account_label: &'static str,
    /// Before the app (`应用`).
    pub app_label: &'static str,
    /// After the app (`申请获得以下权限：`).
    pub app_request: &'static str,
    pub permissions: Permissions,
    /// The form's `action` (the page's own path).
    pub action: &'static str,
    pub button: &'static str,
    /// The query the cancel link appends to `redirect_uri` (then `state`); `None`: no link.
    pub cancel: Option<&'static [(&'static str, &'static str)]>,
    /// The closing note (`<p class="note">`), if any.
    pub note: Option<&'static str>,
    pub error: ErrorPage,
}

/// The account the page shows: the name (escaped) and text after it (`（店铺ID 1）`).
pub struct Account {
    pub name: String,
    pub detail: String,
}

impl Account {
    /// An account shown by name alone.
    pub fn named(name: String) -> Self {
        Account {
            name,
            detail: String::new(),
        }
    }
}

/// A platform's consent flow.
pub trait ConsentFlow {
    const PLATFORM: PlatformType;
    const PAGE: ConsentPage;

    /// The platform's checks, in its order; the error is the message the error page shows.
    fn validate(state: &SimState, params: &Params) -> Result<Consent, String>;

    /// The account of the shop a consent logs into.
    fn account(state: &SimState, shop: &ShopKey) -> Account;

    /// A new authorization code for an approved consent, bound to [`Consent::shop`].
    fn issue_code(state: &SimState, consent: &Consent) -> String;
}

/// Whether `uri` is an absolute `http(s)` URL with a host (what every platform accepts as
/// `redirect_uri`).
pub fn is_web_url(uri: &str) -> bool {
    url::Url::parse(uri)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

/// Appends `pairs` to `uri`'s query (with `&` when it already has one), percent-encoding values.
pub fn append_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = uri.to_owned();
    for (k, v) in pairs {
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str(k);
        out.push('=');
        out.push_str(&urlencoding::encode(v));
    }
    out
}

/// The platform's checks, then the seller who logs in ([`SELLER_FIELD`]).
fn checked<F: ConsentFlow>(state: &SimState, params: &Params) -> Result<Consent, String> {
    let mut consent = F::validate(state, params)?;
    consent.seller = seller_name(params.get(SELLER_FIELD).map(String::as_str))
        .ok_or_else(|| format!("登录名不合法（最多 {MAX_SELLER_CHARS} 个字符，不能含控制字符）"))?;
    Ok(consent)
}

/// `GET`: the consent page.
pub async fn page<F: ConsentFlow>(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    let params = request_params(&req, &[]);
    state.stats.with(F::PLATFORM, |s| s.authorize_pages += 1);
    match checked::<F>(&state, &params) {
        Ok(consent) => {
            let account = F::account(&state, &consent.shop());
            let html = render(&F::PAGE, &consent, &account, &params);
            html_response(StatusCode::OK, html)
        }
        Err(message) => error_page::<F>(&state, &message),
    }
}

/// `POST` (the form): approved; redirect back with a code.
pub async fn submit<F: ConsentFlow>(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SimState>,
) -> HttpResponse {
    let params = request_params(&req, &body);
    let consent = match checked::<F>(&state, &params) {
        Ok(consent) => consent,
        Err(message) => return error_page::<F>(&state, &message),
    };
    let code = F::issue_code(&state, &consent);
    state
        .stats
        .with(F::PLATFORM, |s| s.authorizations_approved += 1);
    tracing::info!(platform = %F::PLATFORM, app_key = %consent.app_key, seller = %consent.seller,
        "consent approved");
    let mut pairs = vec![("code", code.as_str())];
    if let Some(s) = &consent.state {
        pairs.push(("state", s));
    }
    HttpResponse::Found()
        .insert_header((LOCATION, append_query(&consent.redirect_uri, &pairs)))
        .finish()
}

fn error_page<F: ConsentFlow>(state: &SimState, message: &str) -> HttpResponse {
    state.stats.with(F::PLATFORM, |s| s.authorize_errors += 1);
    let page = &F::PAGE.error;
    let mut inner = format!("<h2>授权失败</h2><p>{}</p>", html_escape(message));
    if let Some(hint) = page.hint {
        inner.push_str(&format!("<p>{hint}</p>"));
    }
    if page.boxed {
        inner = format!("<div class=\"error\">{inner}</div>");
    }
    html_response(
        StatusCode::BAD_REQUEST,
        format!(
            "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
             <title>{title}</title></head>\n<body>{inner}</body></html>\n",
            title = page.title,
        ),
    )
}

fn render(page: &ConsentPage, consent: &Consent, account: &Account, params: &Params) -> String {
    let hidden: String = params
        .iter()
        .filter(|(k, v)| !v.is_empty() && k.as_str() != SELLER_FIELD)
        .map(|(k, v)| {
            format!(
                "      <input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
                html_escape(k),
                html_escape(v)
            )
        })
        .collect();
    let header = page
        .header
        .map(|h| format!("<div class=\"header\">{h}</div>\n"))
        .unwrap_or_default();
    let items: String = match page.permissions {
        Permissions::Fixed(items) => items.iter().map(|i| format!("<li>{i}</li>")).collect(),
        Permissions::Requested => consent
            .scopes
            .iter()
            .map(|s| format!("<li>{}</li>", html_escape(s)))
            .collect(),
    };
    let cancel = page
        .cancel
        .map(|deny| {
            let mut pairs = deny.to_vec();
            if let Some(s) = &consent.state {
                pairs.push(("state", s));
            }
            let deny_url = html_escape(&append_query(&consent.redirect_uri, &pairs));
            format!("<p><a class=\"cancel\" href=\"{deny_url}\">取消</a></p>\n")
        })
        .unwrap_or_default();
    let note = page
        .note
        .map(|n| format!("<p class=\"note\">{n}</p>\n"))
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head><meta charset=\"utf-8\">\
         <title>{title}</title></head>\n<body>\n{header}<div class=\"main\">\n\
         <p class=\"account\">{account_label}<strong>{name}</strong>{detail}</p>\n\
         <p class=\"app\">{app_label} <strong>{app}</strong> {app_request}</p>\n\
         <ul>{items}</ul>\n\
         <form method=\"post\" action=\"{action}\">\n{hidden}\
         <p class=\"login\"><label>登录名 <input type=\"text\" name=\"{SELLER_FIELD}\" \
         value=\"{seller}\"></label></p>\n\
         <button type=\"submit\">{button}</button>\n</form>\n\
         {cancel}{note}</div>\n</body>\n</html>\n",
        title = page.title,
        account_label = page.account_label,
        name = html_escape(&account.name),
        detail = account.detail,
        app_label = page.app_label,
        app = html_escape(&consent.app_key),
        app_request = page.app_request,
        action = page.action,
        seller = html_escape(&consent.seller),
        button = page.button,
    )
}
