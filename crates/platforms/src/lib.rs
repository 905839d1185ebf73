//! E-commerce platform adapters: how we talk to Taobao/Tmall, JD, Pinduoduo, Douyin Shop and
//! Kuaishou, exactly as each documents it, behind one [`PlatformClient`] trait.
//!
//! - [`sign`] — every platform's request and push-channel signatures.
//! - [`client`] — the trait, credentials, tokens and pages.
//! - [`error`] — the typed failure of a platform call, and the platform's own words kept.
//! - [`contact`] — classifying receiver values whose shape no platform source fixes.
//! - [`window`] — splitting a requested range into the windows a platform accepts.
//! - [`resilience`] — client-side rate limiting and retries with backoff.
//! - [`session`] — a shop's tokens with the shared retry and refresh-once policy.
//! - [`reveal`] — revealing a buyer's phone through the platform's decrypt API: purposes, what
//!   each platform permits, the request and the redacted answer.
//! - [`taobao`] — Taobao/Tmall (TOP); [`jd`] — JD (JOS); [`pdd`] — Pinduoduo;
//!   [`douyin`] — Douyin Shop (抖店); [`kuaishou`] — Kuaishou shop (快手小店).
//! - [`registry`] — the configured client for each platform type.
//!
//! Adding a platform means adding one module and one line in [`registry`].

pub mod client;
pub mod contact;
pub mod douyin;
pub mod error;
pub mod jd;
pub mod json;
pub mod kuaishou;
pub mod pdd;
pub mod registry;
pub mod resilience;
pub mod reveal;
pub mod session;
pub mod sign;
pub mod taobao;
pub mod window;

pub use client::{
    AppCredentials, FetchedOrder, Listing, OrderPage, PageCursor, PlatformClient, PlatformError,
    TokenSet,
};
pub use registry::Registry;
pub use reveal::{DecryptRequest, RevealPurpose, RevealedContact};
pub use window::TimeWindow;
