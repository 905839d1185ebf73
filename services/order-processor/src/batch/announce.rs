//! What other teams hear about a rebuilt lead: `LeadIdentified` for a new buyer (v2, and the
//! deprecated v1 beside it), `LeadUpdated` when an announced field or the buyer's orders changed.

use leadgen_domain::{IntentionTag, LeadId, PlatformId, TenantId};
use leadgen_events::{
    BuyerLead, CloudEvent, LeadChange, LeadIdentifiedV1, LeadIdentifiedV2, LeadUpdatedV1,
};
use leadgen_outbox::Batch;

use crate::SERVICE;
use crate::lead_record::{
    Announced, ContactShown, OrderFigures, announced_changes, orders_changed, tags_of,
};
use crate::repo::leads::{LeadRow, LeadState};

/// Pushes the events of one rebuilt lead into `events`: `old` is its locked state before the
/// batch (`None`: a new buyer), `merged` the leads that merged into it.
pub(super) fn announce(
    events: &mut Batch,
    tenant: TenantId,
    old: Option<&LeadState>,
    row: &LeadRow,
    snapshot: BuyerLead,
    tags: &[IntentionTag],
    merged: &[i64],
) -> anyhow::Result<()> {
    let Some(old) = old else {
        let legacy = legacy_event(row, &snapshot);
        events.push(&CloudEvent::new(
            SERVICE,
            tenant,
            LeadIdentifiedV2 { lead: snapshot },
        ))?;
        events.push(&CloudEvent::new(SERVICE, tenant, legacy))?;
        return Ok(());
    };
    let (changes, orders_changed) = changes(old, row, tags, !merged.is_empty());
    if !changes.is_empty() || orders_changed {
        events.push(&CloudEvent::new(
            SERVICE,
            tenant,
            LeadUpdatedV1 {
                lead: snapshot,
                changes,
                merged_lead_ids: merged.iter().copied().map(LeadId::new).collect(),
                orders_changed,
            },
        ))?;
    }
    Ok(())
}

/// What changed between a lead's locked state and its new row: the announced fields (with
/// `MERGED`), and whether the buyer's orders did.
fn changes(
    old: &LeadState,
    row: &LeadRow,
    tags: &[IntentionTag],
    merged: bool,
) -> (Vec<LeadChange>, bool) {
    let old_tags = tags_of(&old.intention_tags);
    let before = Announced {
        score: old.score,
        intention: old.intention,
        tags: &old_tags,
        contact: ContactShown {
            kind: &old.contact_kind,
            masked: &old.contact_masked,
            validity: &old.contact_validity,
            reason: &old.contact_validity_reason,
        },
        process_status: old.process_status.as_str(),
        orders: OrderFigures::of(
            &old.order_id,
            (old.order_count, old.paid_order_count, old.paid_total_fen),
            &old.aggregate,
        ),
    };
    let after = Announced::of_row(row, tags);
    let mut out = announced_changes(before, after);
    if merged {
        out.push(LeadChange::Merged);
    }
    (out, orders_changed(before, after))
}

/// The deprecated v1 announcement of a new buyer-lead, its order fields from the latest order.
fn legacy_event(row: &LeadRow, lead: &BuyerLead) -> LeadIdentifiedV1 {
    LeadIdentifiedV1 {
        lead_id: LeadId::new(row.id),
        platform_id: PlatformId::new(row.platform_id),
        platform_type: lead.platform_type,
        order_id: row.order_id.clone(),
        raw_order_id: row.raw_order_id,
        order_time: row.order_time,
        amount: leadgen_domain::Money::from_fen(row.amount_fen).to_string(),
        product_info: row.product_info.clone(),
        contact: lead.contact.clone(),
        intention_tags: lead
            .intention_tags
            .iter()
            .filter_map(|t| leadgen_events::IntentionTagV1::from_tag(*t))
            .collect(),
        score: lead.score,
    }
}
