//! The gateway paths lead-api serves, under `/api/v1/lead-generation/orders`.

pub mod leads;
pub mod reveal;
pub mod workflow;

use actix_web::web;

pub const BASE: &str = "/api/v1/lead-generation/orders";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(BASE)
            .route("/leads", web::get().to(leads::list))
            .route("/leads", web::patch().to(workflow::patch_many))
            .route("/leads/{leadId}", web::get().to(workflow::get))
            .route("/leads/{leadId}", web::patch().to(workflow::patch))
            .route(
                "/leads/{leadId}/contact/reveal",
                web::post().to(reveal::reveal),
            ),
    );
}
