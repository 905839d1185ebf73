//! The lead vocabulary: intention tags, how a lead's process status survives a merge, and which
//! of a buyer's contacts a salesperson should use.
//!
//! A lead is a buyer ([`crate::buyer`]); its score, tags and reasons come from
//! [`crate::scoring`]. Tags (thresholds in `scoring` and `docs/scoring.md`):
//! `高意向` / `中意向` / `低意向` (intention level), `购买过` (paid at least once), `复购` (two
//! purchase occasions or more: a checkout split into orders counts once), `未支付` (an order
//! waits for payment), `退款售后` (a refund asked for or made, or closed after payment), `高价值` (paid total in the shop's top 10 %), `即将复购` (due by the buyer's own
//! purchase rhythm) and `沉睡` (inactive for long).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::contact::ContactField;
use crate::platform::LeadProcessStatus;
use crate::validity::{ContactValidity, filter_contact_info};

/// An intention tag, shown to sales staff in Chinese as the design document does.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum IntentionTag {
    #[serde(rename = "高意向")]
    High,
    #[serde(rename = "中意向")]
    Medium,
    #[serde(rename = "低意向")]
    Low,
    #[serde(rename = "购买过")]
    Purchased,
    #[serde(rename = "复购")]
    Repeat,
    #[serde(rename = "未支付")]
    Unpaid,
    #[serde(rename = "退款售后")]
    AfterSale,
    #[serde(rename = "高价值")]
    HighValue,
    #[serde(rename = "即将复购")]
    DueToRepurchase,
    #[serde(rename = "沉睡")]
    Dormant,
}

impl IntentionTag {
    pub const ALL: &'static [IntentionTag] = &[
        IntentionTag::High,
        IntentionTag::Medium,
        IntentionTag::Low,
        IntentionTag::Purchased,
        IntentionTag::Repeat,
        IntentionTag::Unpaid,
        IntentionTag::AfterSale,
        IntentionTag::HighValue,
        IntentionTag::DueToRepurchase,
        IntentionTag::Dormant,
    ];

    /// The Chinese label.
    pub fn label(self) -> &'static str {
        match self {
            IntentionTag::High => "高意向",
            IntentionTag::Medium => "中意向",
            IntentionTag::Low => "低意向",
            IntentionTag::Purchased => "购买过",
            IntentionTag::Repeat => "复购",
            IntentionTag::Unpaid => "未支付",
            IntentionTag::AfterSale => "退款售后",
            IntentionTag::HighValue => "高价值",
            IntentionTag::DueToRepurchase => "即将复购",
            IntentionTag::Dormant => "沉睡",
        }
    }

    /// The tag's bit in a lead's `tag_bits` (its position in [`IntentionTag::ALL`]); the
    /// database's `lead_tag_bits()` uses the same order.
    pub fn bit(self) -> i32 {
        let position = match self {
            IntentionTag::High => 0,
            IntentionTag::Medium => 1,
            IntentionTag::Low => 2,
            IntentionTag::Purchased => 3,
            IntentionTag::Repeat => 4,
            IntentionTag::Unpaid => 5,
            IntentionTag::AfterSale => 6,
            IntentionTag::HighValue => 7,
            IntentionTag::DueToRepurchase => 8,
            IntentionTag::Dormant => 9,
        };
        1 << position
    }

    /// The labels of [`IntentionTag::ALL`], separated by spaces.
    pub const LABELS: &'static str =
        "高意向 中意向 低意向 购买过 复购 未支付 退款售后 高价值 即将复购 沉睡";

    /// The tag with this label, or the error a filter answers (`intentionTags 取值无效：…`).
    pub fn parse_label(label: &str) -> Result<Self, crate::platform::UnknownVariant> {
        IntentionTag::from_label(label).ok_or_else(|| crate::platform::UnknownVariant {
            what: "intentionTags",
            value: label.to_owned(),
            expected: IntentionTag::LABELS,
        })
    }

    /// The tag with this label.
    pub fn from_label(label: &str) -> Option<Self> {
        IntentionTag::ALL
            .iter()
            .copied()
            .find(|t| t.label() == label)
    }
}

/// The status two leads keep when they turn out to be one buyer (or when per-order leads become
/// one buyer-lead): handled wins over judged invalid, which wins over pending.
pub fn merge_process_status(a: LeadProcessStatus, b: LeadProcessStatus) -> LeadProcessStatus {
    use LeadProcessStatus::{Invalid, Pending, Processed};
    match (a, b) {
        (Processed, _) | (_, Processed) => Processed,
        (Invalid, _) | (_, Invalid) => Invalid,
        (Pending, Pending) => Pending,
    }
}

/// A buyer's contact as seen on one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenContact {
    pub contact: ContactField,
    pub seen_at: DateTime<Utc>,
    /// Ties break on this (the order id), so the choice never depends on arrival order.
    pub order_id: String,
}

/// The contact a salesperson should use: the most reachable, then the most recent.
pub fn best_contact(
    seen: &[SeenContact],
    now: DateTime<Utc>,
) -> Option<(&SeenContact, ContactValidity)> {
    seen.iter()
        .map(|s| (s, filter_contact_info(&s.contact, now)))
        .max_by(|(a, va), (b, vb)| {
            va.validity
                .rank()
                .cmp(&vb.validity.rank())
                .then(a.seen_at.cmp(&b.seen_at))
                .then(a.order_id.cmp(&b.order_id))
        })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn each_tag_has_the_bit_of_its_place_in_all() {
        for (place, tag) in IntentionTag::ALL.iter().enumerate() {
            assert_eq!(tag.bit(), 1 << place, "{tag:?}");
        }
    }

    #[test]
    fn labels_round_trip() {
        for t in IntentionTag::ALL {
            assert_eq!(IntentionTag::from_label(t.label()), Some(*t));
            let json = serde_json::to_string(t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.label()));
        }
        assert_eq!(IntentionTag::from_label("新客"), None);
        let labels: Vec<&str> = IntentionTag::ALL.iter().map(|t| t.label()).collect();
        assert_eq!(labels.join(" "), IntentionTag::LABELS);
        assert_eq!(
            IntentionTag::parse_label("新客").unwrap_err().to_string(),
            "intentionTags 取值无效：新客；可选值：高意向、中意向、低意向、购买过、复购、未支付、退款售后、高价值、即将复购、沉睡"
        );
    }

    #[test]
    fn merged_status_keeps_the_most_advanced_decision() {
        use LeadProcessStatus::{Invalid, Pending, Processed};
        assert_eq!(merge_process_status(Pending, Processed), Processed);
        assert_eq!(merge_process_status(Invalid, Pending), Invalid);
        assert_eq!(merge_process_status(Invalid, Processed), Processed);
        assert_eq!(merge_process_status(Pending, Pending), Pending);
    }

    #[test]
    fn the_best_contact_is_the_most_reachable_then_the_latest() {
        let t = |d| Utc.with_ymd_and_hms(2026, 1, d, 0, 0, 0).unwrap();
        let seen = vec![
            SeenContact {
                contact: ContactField::phone("*******5678").unwrap(),
                seen_at: t(5),
                order_id: "3".into(),
            },
            SeenContact {
                contact: ContactField::phone("13800000001").unwrap(),
                seen_at: t(1),
                order_id: "1".into(),
            },
            SeenContact {
                contact: ContactField::phone("13900000002").unwrap(),
                seen_at: t(2),
                order_id: "2".into(),
            },
        ];
        let (best, validity) = best_contact(&seen, t(6)).unwrap();
        assert_eq!(best.contact.value, "13900000002");
        assert_eq!(validity.code, "MOBILE_VALID");
        assert!(best_contact(&[], t(6)).is_none());
    }
}
