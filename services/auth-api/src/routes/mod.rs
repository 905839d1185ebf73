//! The gateway paths auth-api serves, under `/api/v1/lead-generation/orders`.

pub mod api_doc;
pub mod callback;
pub mod create;
pub mod detail;
pub mod list;
pub mod operation_logs;
pub mod sync;
pub mod sync_records;

use actix_web::web;

pub const BASE: &str = "/api/v1/lead-generation/orders";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(BASE)
            .route("/platforms/auth", web::post().to(create::create))
            .route(
                "/platforms/auth/callback",
                web::get().to(callback::callback),
            )
            .route("/platforms", web::get().to(list::list))
            .route("/platforms/{platform_id}", web::get().to(detail::detail))
            .route("/platforms/{platform_id}/sync", web::post().to(sync::sync))
            .route("/sync-records", web::get().to(sync_records::list))
            .route("/operation-logs", web::get().to(operation_logs::list))
            .route("/openapi.json", web::get().to(api_doc::document))
            .route("/docs", web::get().to(api_doc::page)),
    );
}
