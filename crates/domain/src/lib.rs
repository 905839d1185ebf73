//! The order-lead domain: the words every service shares, with no database, broker or HTTP.
//!
//! - [`ids`] — our ids, one type each (tenant, lead, shop authorization, user, sync task).
//! - [`platform`] — which e-commerce platform, authorization and sync statuses.
//! - [`money`] — amounts as integer fen, parsed from the platforms' yuan strings.
//! - [`contact`] — buyer contact data as the platforms send it (masked, encrypted, virtual) and
//!   how we mask it for display.
//! - [`order`] — the platform-neutral raw order every adapter produces.
//! - [`buyer`] — who bought an order (identity keys) and a buyer's aggregate over all orders.
//! - [`scoring`] — the built-in model: ranks, intention, score, tags and reason codes.
//! - [`validity`] — `filterContactInfo`: whether a contact can reach the buyer, and why.
//! - [`sync`] — sync windows: where a sync without a start begins, the longest window.
//! - [`lead`] — intention tags, merged process status, the best contact of a buyer.
//! - [`time`] — Beijing time (platform time) to UTC.

pub mod audit;
pub mod buyer;
pub mod contact;
pub mod ids;
pub mod lead;
pub mod money;
pub mod order;
pub mod platform;
pub mod scoring;
pub mod stored_json;
pub mod sync;
pub mod time;
pub mod validity;

pub use contact::{ContactField, ContactKind};
pub use ids::{LeadId, PlatformId, SyncTaskId, TenantId, UserId};
pub use lead::IntentionTag;
pub use money::Money;
pub use order::{BuyerRef, NeutralStatus, OrderItem, RawOrder, Receiver, printable};
pub use platform::{
    AuthStatus, LeadProcessStatus, NotCallable, PlatformType, RawOrderStatus, SyncStatus,
    SyncTrigger,
};
