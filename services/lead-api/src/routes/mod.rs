//! The gateway paths lead-api serves, under `/api/v1/lead-generation/orders`.

pub mod leads;
pub mod reveal;
mod validate;
pub mod workflow;

use actix_web::web;

pub use leadgen_http::BASE;

pub fn configure(cfg: &mut web::ServiceConfig) {
    use leadgen_http::server::resource;
    cfg.service(
        web::scope(BASE)
            .service(
                resource("/leads", "GET, PATCH")
                    .route(web::get().to(leads::list))
                    .route(web::patch().to(workflow::patch_many)),
            )
            .service(
                resource("/leads/{leadId}", "GET, PATCH")
                    .route(web::get().to(workflow::get))
                    .route(web::patch().to(workflow::patch)),
            )
            .service(
                resource("/leads/{leadId}/contact/reveal", "POST")
                    .route(web::post().to(reveal::reveal)),
            ),
    );
}
