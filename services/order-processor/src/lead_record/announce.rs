//! What a lead's subscribers are told changed (`LeadUpdated`'s `changes`): the shown figures of
//! a lead before and after a write, compared.

use leadgen_domain::IntentionTag;
use leadgen_events::LeadChange;

use crate::repo::leads::LeadRow;

/// What a lead's `LeadUpdated` announces, compared before and after.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Announced<'a> {
    pub score: i16,
    /// The score's intention part: a change of it alone is a score change.
    pub intention: i16,
    pub tags: &'a [IntentionTag],
    pub contact: ContactShown<'a>,
    pub process_status: &'a str,
    /// The buyer's orders as the snapshot shows them.
    pub orders: OrderFigures<'a>,
}

impl<'a> Announced<'a> {
    /// What a lead row announces, with its tags (`tags`, parsed from the row or just assessed).
    pub fn of_row(row: &'a LeadRow, tags: &'a [IntentionTag]) -> Self {
        Announced {
            score: row.score,
            intention: row.intention,
            tags,
            contact: ContactShown {
                kind: &row.contact_kind,
                masked: &row.contact_masked,
                validity: &row.contact_validity,
                reason: &row.contact_validity_reason,
            },
            process_status: &row.process_status,
            orders: OrderFigures::of(
                &row.order_id,
                (row.order_count, row.paid_order_count, row.paid_total_fen),
                &row.aggregate,
            ),
        }
    }
}

/// The contact as a snapshot shows it: a change of any part is `CONTACT_VALIDITY` (a new
/// number, a privacy number reissued under the same validity, its expiry moved, a new verdict).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContactShown<'a> {
    pub kind: &'a str,
    pub masked: &'a str,
    pub validity: &'a str,
    /// The stored `ContactValiditySummary` (validity, code, reason).
    pub reason: &'a serde_json::Value,
}

/// The order figures of a lead's snapshot: a change of any is `ordersChanged`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderFigures<'a> {
    pub latest_order_id: &'a str,
    pub orders: i32,
    pub paid_orders: i32,
    pub paid_total_fen: i64,
    /// From the stored aggregate (`unpaidCount`, `afterSaleCount`).
    pub unpaid: i64,
    pub after_sale: i64,
}

impl<'a> OrderFigures<'a> {
    /// The figures of a lead row's columns and its stored aggregate.
    pub fn of(
        latest_order_id: &'a str,
        (orders, paid_orders, paid_total_fen): (i32, i32, i64),
        aggregate: &serde_json::Value,
    ) -> Self {
        let count = |key: &str| aggregate.get(key).and_then(serde_json::Value::as_i64);
        OrderFigures {
            latest_order_id,
            orders,
            paid_orders,
            paid_total_fen,
            unpaid: count("unpaidCount").unwrap_or_default(),
            after_sale: count("afterSaleCount").unwrap_or_default(),
        }
    }
}

/// The changes between two states of a lead that `LeadUpdated` lists in `changes`; empty when
/// none changed (reasons or the model version alone publish nothing). The orders are
/// [`orders_changed`].
pub fn announced_changes(before: Announced<'_>, after: Announced<'_>) -> Vec<LeadChange> {
    let mut out = Vec::new();
    if (before.score, before.intention) != (after.score, after.intention) {
        out.push(LeadChange::Score);
    }
    if before.tags != after.tags {
        out.push(LeadChange::Tags);
    }
    if before.contact != after.contact {
        out.push(LeadChange::ContactValidity);
    }
    if before.process_status != after.process_status {
        out.push(LeadChange::Status);
    }
    out
}

/// Whether the buyer's orders as the snapshot shows them changed (`ordersChanged`): a new
/// order, a payment, a refund, a close (paid or not); a shipment alone moves none of them.
pub fn orders_changed(before: Announced<'_>, after: Announced<'_>) -> bool {
    before.orders != after.orders
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_intention_change_alone_is_announced_as_a_score_change() {
        let tags = [IntentionTag::High];
        let reason = serde_json::json!({"validity": "VALID", "code": "MOBILE", "reason": "手机号"});
        let contact = ContactShown {
            kind: "MOBILE",
            masked: "138****5678",
            validity: "VALID",
            reason: &reason,
        };
        let before = Announced {
            score: 54,
            intention: 48,
            tags: &tags,
            contact,
            process_status: "PENDING",
            orders: OrderFigures::of("T1", (2, 2, 12_000), &serde_json::json!({"unpaidCount": 1})),
        };
        assert!(announced_changes(before, before).is_empty());
        let after = Announced {
            intention: 47,
            ..before
        };
        assert_eq!(announced_changes(before, after), vec![LeadChange::Score]);
        let after = Announced {
            contact: ContactShown {
                validity: "INVALID",
                ..contact
            },
            process_status: "PROCESSED",
            tags: &[],
            ..before
        };
        assert_eq!(
            announced_changes(before, after),
            vec![
                LeadChange::Tags,
                LeadChange::ContactValidity,
                LeadChange::Status
            ]
        );
        // A privacy number reissued, or its expiry moved, under the same verdict.
        let reissued = ContactShown {
            masked: "184****7411-9341",
            ..contact
        };
        let later = serde_json::json!({"validity": "VALID", "code": "PRIVACY", "reason": "有效期至2026-12-17 02:51"});
        let moved = ContactShown {
            reason: &later,
            ..contact
        };
        for contact in [reissued, moved] {
            let after = Announced { contact, ..before };
            assert_eq!(
                announced_changes(before, after),
                vec![LeadChange::ContactValidity]
            );
        }
        // A repeat purchase that moves no score or tag still changes the snapshot.
        let after = Announced {
            orders: OrderFigures::of("T2", (3, 3, 19_000), &serde_json::json!({"unpaidCount": 1})),
            ..before
        };
        assert!(announced_changes(before, after).is_empty());
        assert!(orders_changed(before, after));
        assert!(!orders_changed(before, before));
        // An unpaid order closed: no count, total or latest order moves but the unpaid count.
        let closed = Announced {
            orders: OrderFigures::of("T1", (2, 2, 12_000), &serde_json::json!({"unpaidCount": 0})),
            ..before
        };
        assert!(orders_changed(before, closed));
    }
}
