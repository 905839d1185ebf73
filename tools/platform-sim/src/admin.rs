//! Simulator endpoints that belong to no platform: health, faults, stats.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::faults::Faults;
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
