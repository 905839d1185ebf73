//! The operation log's vocabulary (design 7): what was done ([`AuditAction`]) to which kind of
//! target ([`AuditTarget`]), and how it ended ([`AuditResult`]). Every service records these names, and the log's filters accept
//! only these.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::platform::{UnknownVariant, string_enum};

string_enum!(
    /// An action the operation log records.
    AuditAction, "action" {
        /// A merchant adds an authorization (auth-api).
        PlatformAuthCreate => "PLATFORM_AUTH_CREATE",
        /// The platform's callback grants (or refuses) it (auth-api).
        PlatformAuthActivate => "PLATFORM_AUTH_ACTIVATE",
        /// A shop connected again: its earlier authorization renewed (auth-api).
        PlatformAuthRenew => "PLATFORM_AUTH_RENEW",
        /// A shop sent to the consent page again (auth-api).
        PlatformAuthReauthorize => "PLATFORM_AUTH_REAUTHORIZE",
        /// Paused by the merchant (auth-api).
        PlatformAuthDisable => "PLATFORM_AUTH_DISABLE",
        /// Resumed by the merchant (auth-api).
        PlatformAuthEnable => "PLATFORM_AUTH_ENABLE",
        /// Disconnected by the merchant (auth-api).
        PlatformAuthRevoke => "PLATFORM_AUTH_REVOKE",
        /// Its tokens could not be refreshed (sync-worker, auth-api).
        PlatformAuthExpire => "PLATFORM_AUTH_EXPIRE",
        /// A disconnected shop's history removed after retention (order-processor).
        PlatformHistoryPurge => "PLATFORM_HISTORY_PURGE",
        /// A sync asked for (auth-api).
        SyncRequest => "SYNC_REQUEST",
        /// A running sync cancelled (auth-api).
        SyncCancel => "SYNC_CANCEL",
        /// A sync ended: completed, failed, or stopped after a cancel (sync-worker).
        SyncRun => "SYNC_RUN",
        /// An interrupted sync taken up again (sync-worker).
        SyncResume => "SYNC_RESUME",
        /// New buyer-leads (order-processor).
        LeadIdentify => "LEAD_IDENTIFY",
        /// Leads found to be one buyer, merged (order-processor).
        LeadMerge => "LEAD_MERGE",
        /// Leads removed with their shop's history (order-processor).
        LeadRemove => "LEAD_REMOVE",
        /// A salesperson sets a lead's process status (lead-api).
        LeadStatusChange => "LEAD_STATUS_CHANGE",
        /// A salesperson reveals a buyer's number for a call (lead-api).
        ContactReveal => "CONTACT_REVEAL",
        /// A list search by a full mobile number (lead-api).
        ContactSearch => "CONTACT_SEARCH",
    }
);

string_enum!(
    /// The kind of target an operation-log entry names (`targetIds`).
    AuditTarget, "targetType" {
        /// A shop's authorization (`platformId`).
        PlatformAuth => "PLATFORM_AUTH",
        /// A sync task (`syncId`), with its shop as `platform:<id>`.
        SyncTask => "SYNC_TASK",
        /// A buyer-lead (`leadId`).
        Lead => "LEAD",
    }
);

string_enum!(
    /// How an operation-log entry's operation ended.
    AuditResult, "result" {
        /// Done.
        Success => "SUCCESS",
        /// Refused or failed; the entry keeps the code and message the caller got.
        Failure => "FAILURE",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_reads_back_and_an_unknown_one_names_the_choices() {
        for action in AuditAction::ALL {
            assert_eq!(action.as_str().parse::<AuditAction>(), Ok(*action));
        }
        for target in AuditTarget::ALL {
            assert_eq!(target.as_str().parse::<AuditTarget>(), Ok(*target));
        }
        for result in AuditResult::ALL {
            assert_eq!(result.as_str().parse::<AuditResult>(), Ok(*result));
        }
        assert!("Success".parse::<AuditResult>().is_err(), "exact spelling");
        let unknown = "LEAD".parse::<AuditAction>().unwrap_err().to_string();
        assert!(unknown.starts_with("action 取值无效：LEAD；可选值：PLATFORM_AUTH_CREATE、"));
    }
}
