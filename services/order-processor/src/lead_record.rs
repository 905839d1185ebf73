//! A buyer's lead row and its event snapshot, computed from the buyer's orders (batch path) or
//! from the stored aggregate (rescore). Pure apart from opening and sealing contacts (and
//! logging and counting stored orders that do not read).

use chrono::{DateTime, Utc};
use leadgen_crypto::{CryptoError, Sealer};
use leadgen_db::sealed;
use leadgen_domain::buyer::{BuyerAggregate, OrderFacts, aggregate};
use leadgen_domain::lead::{SeenContact, best_contact};
use leadgen_domain::scoring::{Assessment, Intention, Ranks, Reason, assess};
use leadgen_domain::validity::{ContactValidity, no_contact};
use leadgen_domain::{ContactField, IntentionTag, LeadId, LeadProcessStatus, Money, PlatformId};
use leadgen_events::{BuyerLead, ContactSummary, LeadChange, LeadFacts, ScoredBy};

use crate::orders::contact_kind_name;
use crate::repo::leads::LeadRow;
use crate::repo::processed::BuyerOrder;
use crate::unreadable::Unreadable;

/// The facts of a stored processed order; `None` when its status is not one this build knows.
pub fn facts_of(o: &BuyerOrder) -> Option<OrderFacts> {
    let status = *o.status.0.as_ref().ok()?;
    Some(OrderFacts {
        platform_id: o.platform_id,
        order_id: o.order_id.clone(),
        status,
        created_at: o.order_created_at.unwrap_or(o.order_time),
        paid_at: o.paid_at,
        amount: Money::from_fen(o.amount_fen),
        refunded: o.refunded,
        partial_refund: o.partial_refund_fen.map(Money::from_fen),
        product: o.product_info.clone(),
    })
}

/// A buyer's orders, reduced: the aggregate, the best contact with its verdict and the raw order
/// it came from (the order a reveal decrypts), and the latest order's stored row.
#[derive(Debug, Clone)]
pub struct Buyer {
    pub aggregate: BuyerAggregate,
    pub contact: Option<ContactField>,
    pub contact_raw_order_id: Option<i64>,
    pub validity: ContactValidity,
    pub latest: BuyerOrder,
}

/// Reduces a buyer's stored orders; `None` for none. Contacts are opened to judge them.
///
/// One stored order that no longer reads holds back neither its buyer nor the buyer's later
/// orders (which would otherwise fail every batch, sweep and purge that rebuilds the buyer): an
/// order whose status is unknown is left out, one whose contact does not open is read as having
/// none. Each is logged by its ids (never its content) and counted
/// (`leadgen_processed_orders_unreadable_total`), every time the buyer is rebuilt.
pub fn reduce(
    sealer: &Sealer,
    orders: &[BuyerOrder],
    now: DateTime<Utc>,
) -> Result<Option<Buyer>, MissingKey> {
    let mut facts = Vec::with_capacity(orders.len());
    let mut readable = Vec::with_capacity(orders.len());
    for o in orders {
        match facts_of(o) {
            Some(f) => {
                facts.push(f);
                readable.push(o);
            }
            None => {
                count_unreadable("order");
                tracing::warn!(
                    processed_order.id = o.id,
                    raw_order.id = o.raw_order_id,
                    platform.id = o.platform_id,
                    order.id = %o.order_id,
                    "Stored order's status unknown; left out of its buyer's lead"
                );
            }
        }
    }
    let Some(aggregate) = aggregate(&facts) else {
        return Ok(None);
    };
    let Some(latest) = readable
        .iter()
        .find(|o| {
            o.platform_id == aggregate.latest_platform_id && o.order_id == aggregate.latest_order_id
        })
        .copied()
        .cloned()
    else {
        return Ok(None);
    };
    let mut seen = Vec::new();
    let mut seen_raw_ids = Vec::new();
    for o in readable {
        let Some(sealed_contact) = &o.contact_info else {
            continue;
        };
        let contact = match open_contact(sealer, o, sealed_contact) {
            Ok(contact) => contact,
            // A key this process does not hold is its configuration, not the data: the batch
            // fails and is retried (the sweep sets it aside, with the reason, if it lasts),
            // rather than write the buyer without a contact another replica can read.
            Err(Unreadable::Sealed(CryptoError::UnknownKey(id))) => return Err(MissingKey(id)),
            Err(e) => {
                count_unreadable("contact");
                tracing::warn!(
                    processed_order.id = o.id,
                    raw_order.id = o.raw_order_id,
                    platform.id = o.platform_id,
                    order.id = %o.order_id,
                    error = %e,
                    "Stored order's contact unreadable; read as having none"
                );
                continue;
            }
        };
        // A privacy number sent without its expiry lapses some days after its order: judged so
        // here, where every order of the buyer is read (stored before this rule too).
        seen.push(SeenContact {
            contact: contact.with_assumed_expiry(o.order_time),
            seen_at: o.order_time,
            order_id: format!("{}:{}", o.platform_id, o.order_id),
        });
        seen_raw_ids.push(o.raw_order_id);
    }
    let (contact, contact_raw_order_id, validity) = match best_contact(&seen, now) {
        Some((s, v)) => {
            let at = seen.iter().position(|x| std::ptr::eq(x, s));
            (Some(s.contact.clone()), at.map(|i| seen_raw_ids[i]), v)
        }
        None => (None, None, no_contact()),
    };
    Ok(Some(Buyer {
        aggregate,
        contact,
        contact_raw_order_id,
        validity,
        latest,
    }))
}

/// A stored contact sealed under a data key this process does not hold (its key id): a
/// configuration to mend (every replica holds every key still in use), never read as no contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a stored contact is sealed under data key {0}, which this process does not hold")]
pub struct MissingKey(pub u8);

/// A stored order's contact, opened and parsed.
fn open_contact(
    sealer: &Sealer,
    o: &BuyerOrder,
    sealed_contact: &str,
) -> Result<ContactField, Unreadable> {
    let json = sealer.open(
        &sealed::contact(
            "t_ecom_order_processed",
            PlatformId::new(o.platform_id),
            &o.order_id,
        ),
        sealed_contact,
    )?;
    Ok(serde_json::from_str(&json)?)
}

/// Counts a stored order's `part` (`order`, `contact`) that could not be read.
fn count_unreadable(part: &'static str) {
    metrics::counter!("leadgen_processed_orders_unreadable_total", "part" => part).increment(1);
}

/// The external scorer's intention as a lead stores it: its value, model version and reasons,
/// without the contact reason [`assess`] added last.
pub fn standing_intention(
    intention: i16,
    score_reasons: &serde_json::Value,
    model_version: &str,
) -> Result<Intention, Unreadable> {
    let mut reasons: Vec<Reason> = serde_json::from_value(score_reasons.clone())?;
    reasons.pop();
    Ok(Intention {
        value: u8::try_from(intention).map_err(|_| Unreadable::Field("intention"))?,
        reasons,
        model_version: model_version.to_owned(),
    })
}

/// What a lead keeps besides its buyer's facts.
#[derive(Debug, Clone)]
pub struct Keep {
    pub lead_id: i64,
    pub tenant_id: i64,
    pub process_status: LeadProcessStatus,
    pub version: i32,
    pub external_pending: bool,
}

/// The lead row for `buyer`, scored by `intention` (built-in or external).
pub fn row(
    sealer: &Sealer,
    buyer: &Buyer,
    ranks: Ranks,
    intention: &Intention,
    scored_by: ScoredBy,
    keep: &Keep,
    as_of: DateTime<Utc>,
) -> anyhow::Result<(LeadRow, Assessment)> {
    let a = &buyer.aggregate;
    let assessment = assess(a, ranks, intention, &buyer.validity, as_of);
    let contact_json = serde_json::to_string(&buyer.contact)?;
    let validity = &buyer.validity;
    let row = LeadRow {
        id: keep.lead_id,
        tenant_id: keep.tenant_id,
        platform_id: buyer.latest.platform_id,
        platform_type: buyer.latest.platform_type.clone(),
        order_id: buyer.latest.order_id.clone(),
        raw_order_id: buyer.latest.raw_order_id,
        processed_order_id: buyer.latest.id,
        contact_info: sealer.seal(
            &sealed::lead_contact(LeadId::new(keep.lead_id)),
            &contact_json,
        )?,
        contact_masked: buyer
            .contact
            .as_ref()
            .map(ContactField::display_phone)
            .unwrap_or_default(),
        contact_kind: buyer
            .contact
            .as_ref()
            .map_or("NONE", |c| contact_kind_name(c.kind))
            .to_owned(),
        contact_raw_order_id: buyer.contact_raw_order_id,
        product_info: a.last_product.clone(),
        amount_fen: buyer.latest.amount_fen,
        order_time: buyer.latest.order_time,
        intention_tags: assessment
            .tags
            .iter()
            .map(|t| t.label().to_owned())
            .collect(),
        score: i16::from(assessment.score),
        process_status: keep.process_status.as_str().to_owned(),
        order_count: i32::try_from(a.order_count).unwrap_or(i32::MAX),
        paid_order_count: i32::try_from(a.paid_order_count).unwrap_or(i32::MAX),
        paid_total_fen: a.paid_total.fen(),
        last_order_time: a.last_order_time,
        aggregate: serde_json::to_value(a)?,
        intention: i16::from(assessment.intention),
        score_reasons: serde_json::to_value(&assessment.reasons)?,
        model_version: assessment.model_version.clone(),
        scored_by: scored_by.as_str().to_owned(),
        external_pending: keep.external_pending,
        contact_validity: validity.validity.as_str().to_owned(),
        contact_validity_reason: serde_json::to_value(validity)?,
        version: keep.version,
    };
    Ok((row, assessment))
}

/// The event snapshot of a lead row: masked contact, reasons, model; never a clear contact.
pub fn snapshot(
    row: &LeadRow,
    a: &BuyerAggregate,
    validity: &ContactValidity,
    assessment: &Assessment,
    scored_by: ScoredBy,
) -> anyhow::Result<BuyerLead> {
    let contact = ContactSummary::from_stored(&row.contact_kind, row.contact_masked.clone())?;
    Ok(BuyerLead::from_facts(LeadFacts {
        lead_id: LeadId::new(row.id),
        platform_id: PlatformId::new(row.platform_id),
        platform_type: row
            .platform_type
            .parse()
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        latest_order_id: &row.order_id,
        latest_order_time: row.order_time,
        aggregate: a,
        contact,
        validity,
        score: assessment.score,
        intention: assessment.intention,
        tags: assessment.tags.clone(),
        reasons: assessment.reasons.clone(),
        model_version: assessment.model_version.clone(),
        scored_by,
        process_status: row
            .process_status
            .parse::<LeadProcessStatus>()
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        version: row.version,
    }))
}

/// Tag labels as stored, back to tags (unknown labels are skipped).
pub fn tags_of(labels: &[String]) -> Vec<IntentionTag> {
    labels
        .iter()
        .filter_map(|l| IntentionTag::from_label(l))
        .collect()
}

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
