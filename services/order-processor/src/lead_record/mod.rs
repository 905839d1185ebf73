//! A buyer's lead row and its event snapshot, computed from the buyer's orders (batch path) or
//! from the stored aggregate (rescore). Pure apart from opening and sealing contacts (and
//! logging and counting stored orders that do not read).

use chrono::{DateTime, Utc};
use leadgen_crypto::Sealer;
use leadgen_db::sealed;
use leadgen_domain::buyer::BuyerAggregate;
use leadgen_domain::scoring::{Assessment, Intention, Ranks, Reason, assess};
use leadgen_domain::validity::ContactValidity;
use leadgen_domain::{ContactField, IntentionTag, LeadId, LeadProcessStatus, PlatformId};
use leadgen_events::{BuyerLead, ContactSummary, LeadFacts, ScoredBy};

mod announce;
mod buyer;

pub use announce::{Announced, ContactShown, OrderFigures, announced_changes, orders_changed};
pub use buyer::{Buyer, MissingKey, facts_of, reduce};

use crate::orders::contact_kind_name;
use crate::repo::leads::LeadRow;
use crate::unreadable::Unreadable;

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
        // Only a rescore's answer sets it; a rewrite keeps the stored one (not in the upsert).
        external_as_of: None,
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
