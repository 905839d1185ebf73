//! The order-lead domain: the words every service shares, with no database, broker or HTTP.
//!
//! - [`platform`] — which e-commerce platform, authorization and sync statuses.
//! - [`money`] — amounts as integer fen, parsed from the platforms' yuan strings.
//! - [`contact`] — buyer contact data as the platforms send it (masked, encrypted, virtual) and
//!   how we mask it for display.
//! - [`order`] — the platform-neutral raw order every adapter produces.
//! - [`lead`] — which orders become leads and with which intention tags.
//! - [`time`] — Beijing time (platform time) to UTC.

pub mod contact;
pub mod lead;
pub mod money;
pub mod order;
pub mod platform;
pub mod time;

pub use contact::{ContactField, ContactKind};
pub use lead::{IntentionTag, LeadCandidate, LeadDecision};
pub use money::Money;
pub use order::{BuyerRef, NeutralStatus, OrderItem, RawOrder, Receiver};
pub use platform::{AuthStatus, LeadProcessStatus, PlatformType, SyncStatus, SyncTrigger};

/// A merchant account; every row and every query is scoped by it.
pub type TenantId = i64;
/// Our id of one platform authorization (`t_ecom_platform_auth.id`).
pub type PlatformId = i64;
/// Our id of one sync task.
pub type SyncTaskId = i64;
