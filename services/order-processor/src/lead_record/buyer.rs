//! A buyer reduced from their stored orders: the aggregate, the contact to show (every order's
//! judged), and the latest order; stored orders that do not read are read around.

use chrono::{DateTime, Utc};
use leadgen_crypto::{CryptoError, Sealer};
use leadgen_db::sealed;
use leadgen_domain::buyer::{BuyerAggregate, OrderFacts, aggregate};
use leadgen_domain::lead::{SeenContact, best_contact};
use leadgen_domain::validity::{ContactValidity, no_contact};
use leadgen_domain::{ContactField, Money, PlatformId};

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
            None => read_around(o, "order", &"its status is unknown; left out"),
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
                read_around(o, "contact", &format_args!("{e}; read as having none"));
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

/// A stored order's `part` (`order`, `contact`) that could not be read, `why`: counted, and
/// logged by the order's ids alone (never its content).
fn read_around(o: &BuyerOrder, part: &'static str, why: &dyn std::fmt::Display) {
    metrics::counter!("leadgen_processed_orders_unreadable_total", "part" => part).increment(1);
    tracing::warn!(
        processed_order.id = o.id,
        raw_order.id = o.raw_order_id,
        platform.id = o.platform_id,
        order.id = %o.order_id,
        part,
        reason = %why,
        "Stored order unreadable; its buyer's lead is rebuilt around it"
    );
}
