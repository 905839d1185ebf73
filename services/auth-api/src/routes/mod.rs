//! The gateway paths auth-api serves, under `/api/v1/lead-generation/orders`.

pub mod api_doc;
pub mod callback;
pub mod consent;
pub mod create;
pub mod detail;
pub mod list;
pub mod operation_logs;
pub mod shops;
pub mod sync;
pub mod sync_cancel;
pub mod sync_records;

use actix_web::web;

pub use leadgen_http::BASE;

pub fn configure(cfg: &mut web::ServiceConfig) {
    use leadgen_http::server::resource;
    cfg.service(
        web::scope(BASE)
            .service(resource("/platforms/auth", "POST").route(web::post().to(create::create)))
            .service(
                leadgen_http::server::acting_get("/platforms/auth/callback")
                    .route(web::get().to(callback::callback)),
            )
            .service(resource("/platforms", "GET").route(web::get().to(list::list)))
            .service(
                resource("/platforms/{platform_id}", "GET, DELETE")
                    .route(web::get().to(detail::detail))
                    .route(web::delete().to(shops::revoke)),
            )
            .service(
                resource("/platforms/{platform_id}/status", "PUT")
                    .route(web::put().to(shops::set_status)),
            )
            .service(
                resource("/platforms/{platform_id}/reauthorize", "POST")
                    .route(web::post().to(shops::reauthorize)),
            )
            .service(
                resource("/platforms/{platform_id}/sync", "POST").route(web::post().to(sync::sync)),
            )
            .service(resource("/sync-records", "GET").route(web::get().to(sync_records::list)))
            .service(
                resource("/sync-records/{sync_id}/cancel", "POST")
                    .route(web::post().to(sync_cancel::cancel)),
            )
            .service(resource("/operation-logs", "GET").route(web::get().to(operation_logs::list)))
            .service(resource("/openapi.json", "GET").route(web::get().to(api_doc::document)))
            .service(resource("/docs", "GET").route(web::get().to(api_doc::page)))
            .service(
                resource(&api_doc::asset_path("swagger-ui.css"), "GET")
                    .route(web::get().to(api_doc::css)),
            )
            .service(
                resource(&api_doc::asset_path("swagger-ui-bundle.js"), "GET")
                    .route(web::get().to(api_doc::js)),
            ),
    );
}
