//! A connected shop's (platform authorization's) status changed.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use leadgen_domain::{AuthStatus, PlatformId, PlatformType};

use crate::{Event, Subject, routing};

/// A shop's authorization changed status: the merchant connected it (`ACTIVE`), paused it
/// (`DISABLED`) or enabled it again, disconnected it (`REVOKED`: consent withdrawn; its buyers'
/// leads are deleted from `historyPurgeAt` on unless it is connected again), or the platform
/// stopped accepting its grant (`EXPIRED`, `INVALID`: the merchant must authorize again; orders
/// are not synced meanwhile). `INVALID` also follows `PENDING_AUTH` when a consent is refused or
/// abandoned: a shop that was never connected. Leads name their shop in `lead.platformId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformChangedV1 {
    pub platform_id: PlatformId,
    pub platform_type: PlatformType,
    pub status: AuthStatus,
    pub previous_status: AuthStatus,
    /// Why, in Chinese, as the API's `statusReason` shows it, but with the name of a staff
    /// member who paused or disconnected the shop masked (`已由 张* 停用`); absent when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// With `REVOKED`: from when the shop's order history and the leads built only from it are
    /// deleted (not before; the deletion takes a while and waits out failures). Delete a lead
    /// on its `lead.removed.v1`, never at this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_purge_at: Option<DateTime<Utc>>,
    /// How many times the shop's status has changed, this change included: it only grows.
    /// Three services announce status changes, each through its own relay, so announcements
    /// of one shop can arrive out of order: keep the highest `statusVersion` seen per
    /// `platformId` and drop an event with a lower one. Absent only in events published before
    /// it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_version: Option<i64>,
}

impl Event for PlatformChangedV1 {
    const TYPE: &'static str = "com.cunkebao.leadgen.platform.changed.v1";
    const ROUTING_KEY: &'static str = routing::PLATFORM_CHANGED_V1;
    const SCHEMA_FILE: &'static str = "v1/platform-changed.json";

    fn subject(&self) -> Subject {
        Subject::Platform(self.platform_id)
    }
}
