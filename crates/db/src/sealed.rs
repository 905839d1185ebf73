//! The contexts (AES-GCM additional data) sealed columns are bound to, so a ciphertext copied to
//! another row or column does not open. Every service that seals or opens a column uses these.

use leadgen_domain::{LeadId, PlatformId};

/// `t_ecom_platform_auth.<column>` of row `id` (`auth_info`, `access_token`, `refresh_token`).
pub fn platform_auth(column: &str, id: PlatformId) -> String {
    format!("t_ecom_platform_auth.{column}:{id}")
}

/// `t_ecom_order_raw.<column>` of the order `order_id` of authorization `platform_id`.
pub fn raw_order(column: &str, platform_id: PlatformId, order_id: &str) -> String {
    format!("t_ecom_order_raw.{column}:{platform_id}:{order_id}")
}

/// `<table>.contact_info` of the order `order_id` of authorization `platform_id`.
pub fn contact(table: &str, platform_id: PlatformId, order_id: &str) -> String {
    format!("{table}.contact_info:{platform_id}:{order_id}")
}

/// `t_order_lead.contact_info` of lead `lead_id` (the buyer's best contact).
pub fn lead_contact(lead_id: LeadId) -> String {
    format!("t_order_lead.contact_info:{lead_id}")
}
