//! Platforms and the life-cycle statuses of authorizations, syncs and leads.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A value that is not one of an enum's documented names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct UnknownVariant {
    pub what: &'static str,
    pub value: String,
    /// The accepted values, separated by spaces.
    pub expected: &'static str,
}

/// `processStatus 取值无效：pending；可选值：PENDING、PROCESSED、INVALID`.
impl fmt::Display for UnknownVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let expected: Vec<&str> = self.expected.split_whitespace().collect();
        // The value as the caller sent it, fit to be shown back: without control characters,
        // and no longer than any accepted value needs to be.
        let value: String = crate::printable(&self.value).chars().take(64).collect();
        write!(
            f,
            "{} 取值无效：{value}；可选值：{}",
            self.what,
            expected.join("、")
        )
    }
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire and database spelling.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// The stored spelling back (a row's column read by its repository); an unknown value
        /// is an error, never a default.
        impl TryFrom<String> for $name {
            type Error = UnknownVariant;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl FromStr for $name {
            type Err = UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(UnknownVariant {
                        what: $what,
                        value: other.to_owned(),
                        expected: concat!($($text, " "),+),
                    }),
                }
            }
        }
    };
}

pub(crate) use string_enum;

string_enum!(
    /// The e-commerce platforms a merchant can connect.
    PlatformType, "platformType" {
        /// Taobao and Tmall (TOP).
        Taobao => "TAOBAO",
        /// JD (JOS).
        Jd => "JD",
        /// Pinduoduo.
        Pdd => "PDD",
        /// Douyin Shop (抖店).
        Douyin => "DOUYIN",
        /// Kuaishou shop (快手小店).
        Kuaishou => "KUAISHOU",
    }
);

impl PlatformType {
    /// The platform as merchants and sales staff name it, for messages (the wire spelling stays
    /// in brackets where a developer may need it).
    pub fn name_zh(self) -> &'static str {
        match self {
            PlatformType::Taobao => "淘宝/天猫",
            PlatformType::Jd => "京东",
            PlatformType::Pdd => "拼多多",
            PlatformType::Douyin => "抖店",
            PlatformType::Kuaishou => "快手小店",
        }
    }
}

string_enum!(
    /// Status of a platform authorization (design 2.1).
    AuthStatus, "status" {
        /// Created; waiting for the merchant to approve on the platform's consent page.
        PendingAuth => "PENDING_AUTH",
        /// Tokens held and valid.
        Active => "ACTIVE",
        /// Tokens expired and could not be refreshed.
        Expired => "EXPIRED",
        /// Refused, or the platform no longer accepts the grant: authorize again.
        Invalid => "INVALID",
        /// Paused by the merchant: not synced until enabled again.
        Disabled => "DISABLED",
        /// Disconnected by the merchant: tokens wiped, history kept.
        Revoked => "REVOKED",
    }
);

impl AuthStatus {
    /// The status as a merchant reads it, for messages.
    pub fn name_zh(self) -> &'static str {
        match self {
            AuthStatus::PendingAuth => "待授权",
            AuthStatus::Active => "已授权",
            AuthStatus::Expired => "已过期",
            AuthStatus::Invalid => "已失效",
            AuthStatus::Disabled => "已停用",
            AuthStatus::Revoked => "已解除授权",
        }
    }

    /// The statuses in which the merchant's grant has ended, so the shop's history is kept only
    /// for a retention period and then deleted (PIPL art. 47: the purpose is gone): REVOKED by
    /// the merchant, EXPIRED or INVALID by the platform (a subscription that ended, a consent
    /// withdrawn on the platform's side). A paused (DISABLED) shop is still connected.
    pub const GRANT_ENDED: [AuthStatus; 3] = [
        AuthStatus::Revoked,
        AuthStatus::Expired,
        AuthStatus::Invalid,
    ];

    /// [`AuthStatus::GRANT_ENDED`] as stored.
    pub fn grant_ended_names() -> Vec<&'static str> {
        Self::GRANT_ENDED.iter().map(|s| s.as_str()).collect()
    }
}

string_enum!(
    /// Status of a sync task (design 2.4).
    SyncStatus, "status" {
        /// Accepted or in progress.
        Running => "RUNNING",
        /// Every window fetched.
        Completed => "COMPLETED",
        /// Stopped by an error; `errorMessage` says why.
        Failed => "FAILED",
        /// Stopped on request.
        Cancelled => "CANCELLED",
    }
);

string_enum!(
    /// What started a sync task.
    SyncTrigger, "trigger" {
        /// A user pressed "sync" (design 2.3).
        Manual => "MANUAL",
        /// The scheduler.
        Scheduled => "SCHEDULED",
        /// The first sync when a shop becomes ACTIVE: as much history as the platform serves.
        Backfill => "BACKFILL",
    }
);

string_enum!(
    /// How far sales staff have handled a lead (design 2.5).
    LeadProcessStatus, "processStatus" {
        /// Not yet handled.
        Pending => "PENDING",
        /// Contacted or otherwise handled.
        Processed => "PROCESSED",
        /// Judged not worth contacting.
        Invalid => "INVALID",
    }
);

string_enum!(
    /// Where a stored raw order stands in processing (`t_ecom_order_raw.process_status`).
    RawOrderStatus, "rawOrderStatus" {
        /// Stored (new or changed) and not yet turned into a processed order and its lead.
        Pending => "PENDING",
        /// Processed: its processed order and buyer-lead reflect this version.
        Processed => "PROCESSED",
        /// Kept but unreadable (a parse error or a value that cannot be opened); counted, never
        /// dropped.
        Malformed => "MALFORMED",
    }
);

/// Why a shop may not call its platform on the merchant's behalf now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotCallable {
    /// Paused by the merchant (`DISABLED`): their decision, undone by enabling the shop.
    Paused,
    /// No live grant (pending, expired, invalid, disconnected): the merchant must authorize
    /// again.
    NoGrant,
}

impl AuthStatus {
    /// Whether a shop whose authorization stands at this status may call its platform: only an
    /// `ACTIVE` one. The one rule behind manual syncs, running syncs and reveals.
    pub fn callable(self) -> Result<(), NotCallable> {
        match self {
            AuthStatus::Active => Ok(()),
            AuthStatus::Disabled => Err(NotCallable::Paused),
            AuthStatus::PendingAuth
            | AuthStatus::Expired
            | AuthStatus::Invalid
            | AuthStatus::Revoked => Err(NotCallable::NoGrant),
        }
    }
}

impl SyncStatus {
    /// Whether the task can no longer change.
    pub fn is_terminal(self) -> bool {
        !matches!(self, SyncStatus::Running)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_value_is_shown_back_without_control_characters_and_cut_short() {
        let sent = format!("a\nb\r{}", "x".repeat(5000));
        let message = sent.parse::<AuthStatus>().unwrap_err().to_string();
        assert!(message.starts_with("status 取值无效：a b "), "{message}");
        assert!(message.chars().count() < 200, "{message}");
        assert!(!message.chars().any(char::is_control), "{message}");
    }

    #[test]
    fn only_an_active_shop_calls_its_platform_and_a_paused_one_says_so() {
        assert_eq!(AuthStatus::Active.callable(), Ok(()));
        assert_eq!(AuthStatus::Disabled.callable(), Err(NotCallable::Paused));
        for status in [
            AuthStatus::PendingAuth,
            AuthStatus::Expired,
            AuthStatus::Invalid,
            AuthStatus::Revoked,
        ] {
            assert_eq!(status.callable(), Err(NotCallable::NoGrant), "{status}");
        }
    }

    #[test]
    fn platform_types_round_trip_through_their_wire_names() {
        for p in PlatformType::ALL {
            assert_eq!(p.as_str().parse::<PlatformType>(), Ok(*p));
        }
        let err = "TMALL".parse::<PlatformType>().unwrap_err();
        assert!(err.to_string().contains("TAOBAO"));
    }

    #[test]
    fn serde_uses_upper_snake_names() {
        let json = serde_json::to_string(&AuthStatus::PendingAuth).unwrap();
        assert_eq!(json, "\"PENDING_AUTH\"");
        assert!(SyncStatus::Completed.is_terminal());
        assert!(!SyncStatus::Running.is_terminal());
    }
}
