//! E-commerce platform adapters: how we talk to Taobao/Tmall, JD, Pinduoduo, Douyin Shop and
//! Kuaishou, exactly as each documents it, behind one `PlatformClient` trait.
//!
//! - [`sign`]: every platform's request and push-channel signatures.

pub mod sign;
