//! The gateway paths lead-api serves, under `/api/v1/lead-generation/orders`.

mod leads;

use actix_web::web;

pub const BASE: &str = "/api/v1/lead-generation/orders";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::scope(BASE).route("/leads", web::get().to(leads::list)));
}
