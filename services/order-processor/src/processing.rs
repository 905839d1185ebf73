//! One raw order → its processed form → a lead, on the handler's transaction.

use diesel_async::AsyncPgConnection;
use leadgen_crypto::Sealer;
use leadgen_db::sealed;
use leadgen_domain::lead::{BuyerHistory, LeadDecision, buyer_key, identify};
use leadgen_domain::{ContactKind, PlatformType, RawOrder};
use leadgen_events::{ContactSummary, LeadIdentifiedV1};

use crate::repo::leads::{self, LeadUpsert};
use crate::repo::processed::{self, ProcessedUpsert};
use crate::repo::raw_orders::RawRow;

/// What happened to one order.
#[derive(Debug)]
pub enum Processed {
    /// A lead seen for the first time: announce it.
    NewLead(LeadIdentifiedV1),
    /// An existing lead refreshed from a changed order.
    UpdatedLead(i64),
    /// Processed; not a lead.
    NoLead,
}

fn hash_buyer(tenant: i64, platform_id: i64, key: &str) -> String {
    let text = format!("{tenant}:{platform_id}:{key}");
    hex::encode(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()))
}

fn kind_name(kind: ContactKind) -> &'static str {
    match kind {
        ContactKind::Plain => "PLAIN",
        ContactKind::Masked => "MASKED",
        ContactKind::PlatformEncrypted => "PLATFORM_ENCRYPTED",
        ContactKind::Virtual => "VIRTUAL",
        ContactKind::OpenId => "OPEN_ID",
    }
}

/// Opens a raw row's neutral form.
pub fn open_order(sealer: &Sealer, row: &RawRow) -> anyhow::Result<RawOrder> {
    let sealed_json = row
        .normalized
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("raw order {} has no normalized form", row.id))?;
    let json = sealer.open(
        &sealed::raw_order("normalized", row.platform_id, &row.order_id),
        sealed_json,
    )?;
    Ok(serde_json::from_str(&json)?)
}

/// Cleans `order` into `t_ecom_order_processed` and, when it is a lead, into `t_order_lead`.
pub async fn process(
    conn: &mut AsyncPgConnection,
    sealer: &Sealer,
    row: &RawRow,
    order: &RawOrder,
) -> anyhow::Result<Processed> {
    let platform: PlatformType = row
        .platform_type
        .parse()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let buyer = buyer_key(order).map(|k| hash_buyer(row.tenant_id, row.platform_id, &k));
    let phone = order.receiver.phone.as_ref();
    let contact_context = |table: &str| sealed::contact(table, row.platform_id, &order.order_id);
    let processed_contact = match phone {
        Some(p) => Some(sealer.seal(
            &contact_context("t_ecom_order_processed"),
            &serde_json::to_string(p)?,
        )?),
        None => None,
    };
    let processed_id = processed::upsert(
        conn,
        &ProcessedUpsert {
            tenant_id: row.tenant_id,
            platform_id: row.platform_id,
            platform_type: row.platform_type.clone(),
            raw_order_id: row.id,
            order_id: order.order_id.clone(),
            buyer_key_hash: buyer.clone(),
            status: serde_json::to_value(order.status)?
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            platform_status: order.platform_status.clone(),
            amount_fen: order.amount.fen(),
            order_time: order.order_time(),
            product_info: order.product_summary(),
            contact_info: processed_contact,
            contact_masked: phone.map(|p| p.display_phone()),
            contact_kind: phone.map(|p| kind_name(p.kind).to_owned()),
            region: order.receiver.region.clone(),
        },
    )
    .await?;

    let earlier = match &buyer {
        Some(key) => {
            processed::count_other_paid(conn, row.tenant_id, row.platform_id, key, &order.order_id)
                .await?
        }
        None => 0,
    };
    let history = BuyerHistory {
        earlier_paid_orders: u32::try_from(earlier).unwrap_or(u32::MAX),
    };
    let LeadDecision::Lead(candidate) = identify(order, history) else {
        return Ok(Processed::NoLead);
    };
    let masked = candidate.contact.display_phone();
    let tags: Vec<String> = candidate
        .tags
        .iter()
        .map(|t| t.label().to_owned())
        .collect();
    let (lead_id, is_new) = leads::upsert(
        conn,
        &LeadUpsert {
            tenant_id: row.tenant_id,
            platform_id: row.platform_id,
            platform_type: row.platform_type.clone(),
            order_id: order.order_id.clone(),
            raw_order_id: row.id,
            processed_order_id: processed_id,
            contact_info: sealer.seal(
                &contact_context("t_order_lead"),
                &serde_json::to_string(&candidate.contact)?,
            )?,
            contact_masked: masked.clone(),
            contact_kind: kind_name(candidate.contact.kind).to_owned(),
            product_info: order.product_summary(),
            amount_fen: order.amount.fen(),
            order_time: order.order_time(),
            intention_tags: tags,
            score: i16::from(candidate.score),
        },
    )
    .await?;
    processed::link_lead(conn, processed_id, lead_id).await?;
    if !is_new {
        return Ok(Processed::UpdatedLead(lead_id));
    }
    Ok(Processed::NewLead(LeadIdentifiedV1 {
        lead_id,
        platform_id: row.platform_id,
        platform_type: platform,
        order_id: order.order_id.clone(),
        raw_order_id: row.id,
        order_time: order.order_time(),
        amount: order.amount.to_string(),
        product_info: order.product_summary(),
        contact: ContactSummary {
            kind: candidate.contact.kind,
            masked,
        },
        intention_tags: candidate.tags,
        score: candidate.score,
    }))
}
