//! Which orders become leads, how reachable the buyer is and how strong the intention looks.
//!
//! Rules (version 1; the scoring model is refined in its own issue):
//! - A lead needs a way to reach the buyer: a phone of any kind (plain, virtual, the platform's
//!   ciphertext, even masked) or at least the platform's open id for in-platform messaging.
//! - An order closed before payment is not a lead: nothing was bought and nothing shows interest
//!   beyond a click.
//! - Tags: `购买过` (paid), `复购` (the buyer paid for earlier orders too), `高意向` / `中意向` /
//!   `低意向`, `未支付` (placed but not paid yet), `退款售后` (refunded or closed after payment).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::contact::{ContactField, ContactKind};
use crate::money::Money;
use crate::order::{NeutralStatus, RawOrder};

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
}

impl IntentionTag {
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
        }
    }
}

/// A paid order at or above this amount counts as high intention on its own.
pub const HIGH_VALUE: Money = Money(20_000);

/// What we know about the buyer from this tenant's earlier orders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuyerHistory {
    /// Paid orders by the same buyer on the same authorization, not counting this one.
    pub earlier_paid_orders: u32,
}

/// An order that is worth a salesperson's call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadCandidate {
    /// The best way to reach the buyer.
    pub contact: ContactField,
    pub tags: Vec<IntentionTag>,
    /// 0–100: reachability plus intention.
    pub score: u8,
}

/// The outcome of [`identify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeadDecision {
    Lead(LeadCandidate),
    NotALead(&'static str),
}

/// The key under which a buyer's orders are grouped for repeat detection.
pub fn buyer_key(order: &RawOrder) -> Option<String> {
    if let Some(id) = order.buyer.open_id.as_deref().filter(|s| !s.is_empty()) {
        return Some(format!("oid:{id}"));
    }
    order
        .receiver
        .phone
        .as_ref()
        .filter(|p| matches!(p.kind, ContactKind::Plain | ContactKind::Virtual))
        .map(|p| format!("tel:{}", p.value))
}

/// Decides whether an order is a lead, and tags and scores it.
pub fn identify(order: &RawOrder, history: BuyerHistory) -> LeadDecision {
    let paid = order.status.was_paid()
        || (order.paid_at.is_some() && order.status == NeutralStatus::Closed);
    if order.status == NeutralStatus::Closed && order.paid_at.is_none() {
        return LeadDecision::NotALead("closed before payment");
    }
    let contact = match (&order.receiver.phone, &order.buyer.open_id) {
        (Some(phone), _) => phone.clone(),
        (None, Some(open_id)) => match ContactField::open_id(open_id) {
            Some(c) => c.with_masked(order.buyer.nick.as_deref()),
            None => return LeadDecision::NotALead("no way to reach the buyer"),
        },
        (None, None) => return LeadDecision::NotALead("no way to reach the buyer"),
    };

    let repeat = history.earlier_paid_orders > 0;
    let after_sale = order.refunded || (order.status == NeutralStatus::Closed && paid);
    let mut tags = Vec::new();
    let intention = if after_sale {
        IntentionTag::Low
    } else if paid && (repeat || order.amount >= HIGH_VALUE) {
        IntentionTag::High
    } else {
        IntentionTag::Medium
    };
    tags.push(intention);
    if paid {
        tags.push(IntentionTag::Purchased);
    }
    if repeat {
        tags.push(IntentionTag::Repeat);
    }
    if order.status == NeutralStatus::Unpaid {
        tags.push(IntentionTag::Unpaid);
    }
    if after_sale {
        tags.push(IntentionTag::AfterSale);
    }

    let reach: u8 = match contact.kind {
        ContactKind::Plain | ContactKind::Virtual => 40,
        ContactKind::PlatformEncrypted => 30,
        ContactKind::Masked => 15,
        ContactKind::OpenId => 10,
    };
    let intent: u8 = match intention {
        IntentionTag::High => 50,
        IntentionTag::Low => 10,
        IntentionTag::Medium
        | IntentionTag::Purchased
        | IntentionTag::Repeat
        | IntentionTag::Unpaid
        | IntentionTag::AfterSale => 30,
    };
    let bonus: u8 = if repeat { 10 } else { 0 };
    LeadDecision::Lead(LeadCandidate {
        contact,
        tags,
        score: reach + intent + bonus,
    })
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::order::{BuyerRef, OrderItem, Receiver};

    fn order(status: NeutralStatus, amount: i64, phone: Option<&str>) -> RawOrder {
        let created = Utc.with_ymd_and_hms(2024, 5, 20, 1, 58, 12).unwrap();
        RawOrder {
            order_id: "1".into(),
            status,
            platform_status: "X".into(),
            created_at: created,
            paid_at: status.was_paid().then_some(created),
            modified_at: None,
            amount: Money(amount),
            refunded: false,
            buyer: BuyerRef {
                open_id: Some("AAH".into()),
                nick: None,
            },
            receiver: Receiver {
                phone: phone.and_then(ContactField::phone),
                ..Receiver::default()
            },
            items: vec![OrderItem {
                sku_id: None,
                title: "裙".into(),
                quantity: 1,
                price: Money(amount),
            }],
        }
    }

    fn tags(d: &LeadDecision) -> Vec<IntentionTag> {
        match d {
            LeadDecision::Lead(c) => c.tags.clone(),
            LeadDecision::NotALead(_) => vec![],
        }
    }

    #[test]
    fn a_large_paid_order_is_high_intention() {
        let d = identify(
            &order(NeutralStatus::Paid, 21900, Some("*******5678")),
            BuyerHistory::default(),
        );
        assert_eq!(tags(&d), vec![IntentionTag::High, IntentionTag::Purchased]);
    }

    #[test]
    fn a_repeat_buyer_is_high_intention_even_for_small_orders() {
        let history = BuyerHistory {
            earlier_paid_orders: 2,
        };
        let d = identify(
            &order(NeutralStatus::Completed, 1_990, Some("13800000001")),
            history,
        );
        assert_eq!(
            tags(&d),
            vec![
                IntentionTag::High,
                IntentionTag::Purchased,
                IntentionTag::Repeat
            ]
        );
        let LeadDecision::Lead(c) = d else {
            panic!("expected a lead")
        };
        assert_eq!(c.score, 100);
    }

    #[test]
    fn unpaid_orders_are_medium_and_closed_unpaid_orders_are_not_leads() {
        let d = identify(
            &order(NeutralStatus::Unpaid, 5000, Some("*******5678")),
            BuyerHistory::default(),
        );
        assert_eq!(tags(&d), vec![IntentionTag::Medium, IntentionTag::Unpaid]);
        let d = identify(
            &order(NeutralStatus::Closed, 5000, None),
            BuyerHistory::default(),
        );
        assert_eq!(d, LeadDecision::NotALead("closed before payment"));
    }

    #[test]
    fn without_phone_the_open_id_is_the_contact_and_without_either_there_is_no_lead() {
        let d = identify(
            &order(NeutralStatus::Paid, 1000, None),
            BuyerHistory::default(),
        );
        let LeadDecision::Lead(c) = d else {
            panic!("expected a lead")
        };
        assert_eq!(c.contact.kind, ContactKind::OpenId);
        let mut o = order(NeutralStatus::Paid, 1000, None);
        o.buyer.open_id = None;
        assert_eq!(
            identify(&o, BuyerHistory::default()),
            LeadDecision::NotALead("no way to reach the buyer")
        );
    }
}
