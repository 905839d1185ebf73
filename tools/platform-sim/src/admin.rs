//! Simulator endpoints that belong to no platform (health, faults, stats), and what the
//! platforms' test-only views of their shops (`/_sim/<platform>/…`) share: reading the shop
//! (`app_key` and the optional `seller`, default [`crate::shop::DEFAULT_SELLER`]) and the time
//! bounds, and answering errors and id lists. The test-only order changes
//! (`POST /_sim/<platform>/orders/change`) are in [`crate::change`].

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use leadgen_domain::PlatformType;
use leadgen_platforms::sign::Params;

use crate::faults::Faults;
use crate::http_util::{parse_admin_time, request_params};
use crate::shop::{MAX_SELLER_CHARS, ShopKey, seller_name};
use crate::state::SimState;

/// Mounts every route: the admin endpoints and each platform's.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/_sim/faults", web::get().to(get_faults))
        .route("/_sim/faults", web::post().to(set_faults))
        .route("/_sim/stats", web::get().to(stats))
        .configure(crate::douyin::configure)
        .configure(crate::jd::configure)
        .configure(crate::kuaishou::configure)
        .configure(crate::pdd::configure)
        .configure(crate::taobao::configure);
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

async fn get_faults(state: web::Data<SimState>) -> HttpResponse {
    HttpResponse::Ok().json(state.faults.current())
}

/// Replaces the whole fault set (absent names switch that fault off) and restarts its counters.
async fn set_faults(body: web::Bytes, state: web::Data<SimState>) -> HttpResponse {
    let faults: Faults = if body.iter().all(u8::is_ascii_whitespace) {
        Faults::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(f) => f,
            Err(e) => return HttpResponse::BadRequest().json(json!({ "error": e.to_string() })),
        }
    };
    if let Err(e) = faults.validate() {
        return HttpResponse::BadRequest().json(json!({ "error": e }));
    }
    tracing::info!(?faults, "faults replaced");
    state.faults.replace(faults);
    HttpResponse::Ok().json(state.faults.current())
}

async fn stats(state: web::Data<SimState>) -> HttpResponse {
    HttpResponse::Ok().json(state.stats.snapshot())
}

/// A 400 answer, `{"error": message}`.
fn bad_request(message: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "error": message }))
}

/// `{"<key>": ids (sorted), "count": N}`.
fn id_list(key: &str, mut ids: Vec<String>) -> HttpResponse {
    ids.sort();
    let count = ids.len();
    HttpResponse::Ok().json(json!({ key: ids, "count": count }))
}

/// The shop an admin request addresses: `app_key`, which must be a registered app of
/// `platform`, and `seller` (absent or empty: the default seller); the error is a 400 answer's
/// message.
pub fn shop_key(
    state: &SimState,
    platform: PlatformType,
    app_key: Option<&str>,
    seller: Option<&str>,
) -> Result<ShopKey, String> {
    let Some(app_key) = app_key.filter(|k| !k.is_empty()) else {
        return Err("app_key is required".into());
    };
    if state.apps.find(platform, app_key).is_none() {
        return Err(format!("app_key is not a registered {platform} app"));
    }
    let seller = seller_name(seller).ok_or_else(|| {
        format!("seller: at most {MAX_SELLER_CHARS} characters, no control characters")
    })?;
    Ok(ShopKey::new(app_key, &seller))
}

/// [`shop_key`] from a query's `app_key` and `seller`.
fn query_shop(
    state: &SimState,
    params: &Params,
    platform: PlatformType,
) -> Result<ShopKey, String> {
    let get = |k: &str| params.get(k).map(String::as_str);
    shop_key(state, platform, get("app_key"), get("seller"))
}

/// How an admin view reads its time bounds.
#[derive(Debug, Clone, Copy)]
pub enum TimeFormat {
    /// ISO 8601 or Beijing `yyyy-MM-dd HH:mm:ss`.
    IsoOrBeijing,
    /// Those, or unix seconds.
    IsoBeijingOrUnix,
}

impl TimeFormat {
    fn parse(self, text: &str) -> Option<DateTime<Utc>> {
        match (self, text.parse::<i64>()) {
            (TimeFormat::IsoBeijingOrUnix, Ok(secs)) => DateTime::from_timestamp(secs, 0),
            _ => parse_admin_time(text),
        }
    }

    fn expected(self) -> &'static str {
        match self {
            TimeFormat::IsoOrBeijing => "expected ISO 8601 or yyyy-MM-dd HH:mm:ss",
            TimeFormat::IsoBeijingOrUnix => {
                "expected ISO 8601, yyyy-MM-dd HH:mm:ss or unix seconds"
            }
        }
    }
}

/// An admin query: a shop (a registered app key and a seller) and optional inclusive bounds.
pub struct AdminQuery {
    pub shop: ShopKey,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

impl AdminQuery {
    /// Whether `t` is within the bounds.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start.is_none_or(|s| t >= s) && self.end.is_none_or(|e| t <= e)
    }
}

/// How a platform's admin views (`/_sim/<platform>/orders` and `/shop`) read their query.
pub struct Views {
    pub platform: PlatformType,
    /// The names of the optional `[start, end]` bounds.
    pub bounds: [&'static str; 2],
    pub format: TimeFormat,
    /// Whether the shop view checks the bounds too (it uses only the shop).
    pub shop_reads_bounds: bool,
}

impl Views {
    /// Reads the shop and the bounds; the error is a 400 answer's message.
    pub fn query(&self, req: &HttpRequest, state: &SimState) -> Result<AdminQuery, String> {
        let params = request_params(req, &[]);
        let shop = query_shop(state, &params, self.platform)?;
        let mut bounds = [None, None];
        for (slot, key) in bounds.iter_mut().zip(self.bounds) {
            if let Some(text) = params.get(key).filter(|v| !v.is_empty()) {
                let parsed = self.format.parse(text);
                *slot = Some(parsed.ok_or_else(|| format!("{key}: {}", self.format.expected()))?);
            }
        }
        let [start, end] = bounds;
        Ok(AdminQuery { shop, start, end })
    }

    /// The orders view: `{"<key>": select(query) sorted, "count": N}`.
    pub fn orders(
        &self,
        req: &HttpRequest,
        state: &SimState,
        key: &str,
        select: impl FnOnce(&AdminQuery) -> Vec<String>,
    ) -> HttpResponse {
        match self.query(req, state) {
            Ok(query) => id_list(key, select(&query)),
            Err(message) => bad_request(&message),
        }
    }

    /// The shop view: `describe(shop)`.
    pub fn shop(
        &self,
        req: &HttpRequest,
        state: &SimState,
        describe: impl FnOnce(&ShopKey) -> Value,
    ) -> HttpResponse {
        let shop = if self.shop_reads_bounds {
            self.query(req, state).map(|q| q.shop)
        } else {
            query_shop(state, &request_params(req, &[]), self.platform)
        };
        match shop {
            Ok(shop) => HttpResponse::Ok().json(describe(&shop)),
            Err(message) => bad_request(&message),
        }
    }
}
