//! One raw order → its neutral form, its buyer identities (keyed blind indexes) and its processed
//! row. Pure apart from opening and sealing.

use leadgen_crypto::{BlindIndexer, Sealer};
use leadgen_db::sealed;
use leadgen_domain::buyer::{IdentityKind, OrderFacts, identity_keys};
use leadgen_domain::{ContactField, ContactKind, Money, PlatformId, PlatformType, RawOrder};

use crate::repo::processed::ProcessedWrite;
use crate::repo::raw_orders::RawRow;
use crate::unreadable::Unreadable;

/// A readable raw order, ready to be stored and grouped.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub row: RawRow,
    pub platform: PlatformType,
    pub order: RawOrder,
    /// Identities with the index to store (current key), strongest first; a phone revealed
    /// later comes last.
    pub identities: Vec<(IdentityKind, String)>,
    /// Indexes of the identities under keys that have rotated away (looked up, then replaced).
    pub old_indexes: Vec<String>,
}

impl Prepared {
    pub fn current_indexes(&self) -> impl Iterator<Item = &String> {
        self.identities.iter().map(|(_, index)| index)
    }
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

/// The database spelling of a contact kind.
pub fn contact_kind_name(kind: ContactKind) -> &'static str {
    kind_name(kind)
}

/// Why a raw row could not be prepared. Its text is logged and kept in `parse_error`, so it never
/// carries the order's content (see [`Unreadable`]).
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The row has no neutral form.
    #[error("no normalized form")]
    NoNormalizedForm,
    /// The neutral form does not open or is not an order.
    #[error("normalized form unreadable: {0}")]
    Normalized(#[source] Unreadable),
    /// The row's platform is not one this build knows.
    #[error("platform unknown: {0}")]
    Platform(String),
}

/// Opens a raw row's neutral form and computes its identities; `revealed` is the blind index of
/// the buyer's phone a salesperson revealed for this order, if any. Only that index is known (the
/// number is never stored), so one written under a key that has since rotated cannot be
/// rewritten: it is kept as it is, and found (searches, merges) while its key is configured.
pub fn prepare(
    sealer: &Sealer,
    indexer: &BlindIndexer,
    row: &RawRow,
    revealed: Option<&String>,
) -> Result<Prepared, PrepareError> {
    let sealed_json = row
        .normalized
        .as_deref()
        .ok_or(PrepareError::NoNormalizedForm)?;
    let json = sealer
        .open(
            &sealed::raw_order(
                "normalized",
                PlatformId::new(row.platform_id),
                &row.order_id,
            ),
            sealed_json,
        )
        .map_err(|e| PrepareError::Normalized(e.into()))?;
    // The error keeps no message: serde_json's quotes the offending value (a phone, a name).
    let mut order: RawOrder =
        serde_json::from_str(&json).map_err(|e| PrepareError::Normalized(e.into()))?;
    // Stored before display texts were cleaned on the way in: cleaned here too.
    order.make_printable();
    let platform: PlatformType = row
        .platform_type
        .parse()
        .map_err(|e| PrepareError::Platform(format!("{e}")))?;
    let mut identities = Vec::new();
    let mut old_indexes = Vec::new();
    for key in identity_keys(platform, row.platform_id, &order) {
        let mut all = indexer.all(row.tenant_id.get(), &key.material).into_iter();
        let current = all.next().unwrap_or_default();
        old_indexes.extend(all);
        identities.push((key.kind, current));
    }
    if let Some(index) = revealed.filter(|i| !identities.iter().any(|(_, known)| known == *i)) {
        identities.push((IdentityKind::Phone, index.clone()));
    }
    Ok(Prepared {
        row: row.clone(),
        platform,
        order,
        identities,
        old_indexes,
    })
}

/// How the order reaches its buyer: the receiver's phone, else the platform buyer id (for the
/// platform's own messaging), shown as the buyer's masked nick.
pub fn buyer_contact(order: &RawOrder) -> Option<ContactField> {
    order.receiver.phone_contact().or_else(|| {
        order
            .buyer
            .open_id
            .as_deref()
            .and_then(ContactField::open_id)
            .map(|c| c.with_masked(order.buyer.nick.as_deref()))
    })
}

/// The order's facts for its buyer's aggregate.
pub fn facts(p: &Prepared) -> OrderFacts {
    OrderFacts::from_order(p.row.platform_id, &p.order)
}

/// The processed row of a prepared order, linked to `lead`; the contact is sealed to its row.
pub fn processed_row(
    sealer: &Sealer,
    p: &Prepared,
    lead: Option<i64>,
) -> anyhow::Result<ProcessedWrite> {
    let order = &p.order;
    let contact = buyer_contact(order);
    let phone = contact.as_ref();
    let contact_info = match phone {
        Some(c) => Some(sealer.seal(
            &sealed::contact(
                "t_ecom_order_processed",
                PlatformId::new(p.row.platform_id),
                &order.order_id,
            ),
            &serde_json::to_string(c)?,
        )?),
        None => None,
    };
    Ok(ProcessedWrite {
        tenant_id: p.row.tenant_id.get(),
        platform_id: p.row.platform_id,
        platform_type: p.row.platform_type.clone(),
        raw_order_id: p.row.id,
        order_id: order.order_id.clone(),
        status: order.status.as_str().to_owned(),
        platform_status: order.platform_status.clone(),
        amount_fen: order.amount.fen(),
        order_time: order.order_time(),
        product_info: order.product_summary(),
        contact_info,
        contact_masked: phone.map(|c| c.display_phone()),
        contact_kind: phone.map(|c| kind_name(c.kind).to_owned()),
        region: order.receiver.coarse_region(),
        identity_keys: p.current_indexes().cloned().collect(),
        order_created_at: Some(order.created_at),
        paid_at: order.paid_at,
        refunded: order.refunded,
        partial_refund_fen: order.partial_refund.map(Money::fen),
        user_id: lead,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What is logged and kept in `parse_error` for a neutral form that opens but does not
    /// parse says where it failed, never what it read there.
    #[test]
    fn an_order_that_does_not_parse_is_described_without_its_content() {
        let crypto = leadgen_test_support::crypto_settings();
        let sealer = leadgen_runtime::sealer(&crypto).unwrap();
        let indexer = leadgen_runtime::blind_indexer(&crypto).unwrap();
        let context = sealed::raw_order("normalized", PlatformId::new(3), "J1");
        let row = RawRow {
            id: 1,
            tenant_id: leadgen_domain::TenantId::new(1),
            platform_id: 3,
            platform_type: "JD".into(),
            order_id: "J1".into(),
            process_status: "PENDING".into(),
            normalized: Some(
                sealer
                    .seal(&context, r#"{"orderId": 13800001111}"#)
                    .unwrap(),
            ),
        };
        let e = prepare(&sealer, &indexer, &row, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "normalized form unreadable: JSON data error at line 1 column 23"
        );
    }
}
