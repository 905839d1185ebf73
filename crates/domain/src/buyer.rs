//! A lead is a buyer within a tenant: who the buyer of an order is, and what all of a buyer's
//! orders add up to.
//!
//! - [`identity_keys`]: the identities an order carries, strongest first. Orders that share any
//!   identity belong to one buyer (the services store only keyed blind indexes of these values).
//! - [`aggregate`]: the buyer's aggregate, computed from the whole set of the buyer's orders, so
//!   the result never depends on the order in which they arrived.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::contact::{ContactField, ContactKind};
use crate::money::Money;
use crate::order::{NeutralStatus, RawOrder, refund_amount};
use crate::platform::PlatformType;
use crate::validity::normalize_mainland_mobile;

/// Which kind of identity a key is; the kind is part of the blind-indexed material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IdentityKind {
    /// The platform's own stable buyer id: Taobao `buyer_open_uid`, JD `open_id_buyer` (else
    /// `xid_buyer`), Douyin
    /// `doudian_open_id`, Kuaishou `buyerOpenId`. Scoped by platform type.
    PlatformBuyer,
    /// PDD sends no buyer id. The search-index part of its phone ciphertext
    /// (`$<index>$<cipher>$<version>$$`) is stable per phone. Scoped by shop, because nothing
    /// documents that the index is the same across malls.
    PhoneSearchIndex,
    /// A real mainland mobile (plain, or decrypted later), `+86` and 11 digits. Merges one buyer
    /// across the tenant's shops and platforms.
    Phone,
    /// No identity at all: the order is its own buyer.
    Order,
}

impl IdentityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::PlatformBuyer => "PLATFORM_BUYER",
            IdentityKind::PhoneSearchIndex => "PHONE_SEARCH_INDEX",
            IdentityKind::Phone => "PHONE",
            IdentityKind::Order => "ORDER",
        }
    }
}

/// One identity of a buyer. `material` is personal data: it is only ever blind-indexed, never
/// stored, logged or put in an event (its `Debug` shows the kind alone).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdentityKey {
    pub kind: IdentityKind,
    /// `KIND:scope:value`, the exact text the blind index is computed over.
    pub material: String,
}

impl std::fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityKey")
            .field("kind", &self.kind)
            .field("material", &format_args!("<redacted>"))
            .finish()
    }
}

impl IdentityKey {
    fn new(kind: IdentityKind, scope: &str, value: &str) -> Self {
        IdentityKey {
            kind,
            material: format!("{}:{scope}:{value}", kind.as_str()),
        }
    }

    /// The key of a real mainland mobile, wherever it came from (an order, a decryption).
    pub fn phone(mobile: &str) -> Option<Self> {
        normalize_mainland_mobile(mobile).map(|m| IdentityKey::new(IdentityKind::Phone, "CN", &m))
    }
}

/// What identifies a PDD buyer without decrypting: the search-index segment of the phone
/// ciphertext in its searchable form, `$<index>$<cipher>$<version>$$`, together with the
/// platform's own mask of the number (`138****5678`); `None` without either.
///
/// The public security SDKs of this ciphertext family compute a phone's search index from its
/// **last four digits** only (`encryptPhoneIndex`: HMAC-MD5 of the last four), so the index
/// alone is shared by one number in 10,000, as weak as a masked tail. The mask adds the first
/// three digits: two buyers fall together only when every visible digit agrees as well as
/// the index (`docs/scoring.md` §1). The other form, `$<prefix>$<cipher>$<version>$` (one `$`
/// at the end), starts with the number's first digits in clear and is no identity at all.
pub fn pdd_phone_identity(phone: &ContactField) -> Option<String> {
    if phone.kind != ContactKind::PlatformEncrypted {
        return None;
    }
    let inner = phone.value.strip_prefix('$')?.strip_suffix("$$")?;
    let mut parts = inner.split('$');
    let (index, cipher, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || [index, cipher, version].iter().any(|p| p.is_empty()) {
        return None;
    }
    let mask = phone
        .masked
        .as_deref()
        .map(str::trim)
        .filter(|m| m.contains('*') && m.chars().filter(char::is_ascii_digit).count() >= 7)?;
    Some(format!("{index}|{mask}"))
}

/// The identities an order carries, strongest first; never empty (an order without any identity
/// is keyed by itself).
pub fn identity_keys(
    platform: PlatformType,
    platform_id: i64,
    order: &RawOrder,
) -> Vec<IdentityKey> {
    let mut keys = Vec::new();
    if let Some(id) = order
        .buyer
        .open_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        keys.push(IdentityKey::new(
            IdentityKind::PlatformBuyer,
            platform.as_str(),
            id,
        ));
    }
    if let Some(phone) = &order.receiver.phone {
        match phone.kind {
            ContactKind::Plain => keys.extend(IdentityKey::phone(&phone.value)),
            ContactKind::PlatformEncrypted if platform == PlatformType::Pdd => {
                if let Some(identity) = pdd_phone_identity(phone) {
                    keys.push(IdentityKey::new(
                        IdentityKind::PhoneSearchIndex,
                        &platform_id.to_string(),
                        &identity,
                    ));
                }
            }
            // Masked values are shared by many buyers; privacy numbers are reassigned.
            ContactKind::PlatformEncrypted
            | ContactKind::Masked
            | ContactKind::Virtual
            | ContactKind::OpenId => {}
        }
    }
    if keys.is_empty() {
        keys.push(IdentityKey::new(
            IdentityKind::Order,
            &platform_id.to_string(),
            &order.order_id,
        ));
    }
    keys
}

/// What one processed order contributes to its buyer's aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderFacts {
    pub platform_id: i64,
    pub order_id: String,
    pub status: NeutralStatus,
    pub created_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub amount: Money,
    pub refunded: bool,
    /// A refund of some lines only ([`RawOrder::partial_refund`]); `None` with `refunded` is the
    /// whole order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_refund: Option<Money>,
    pub product: String,
}

impl OrderFacts {
    pub fn from_order(platform_id: i64, order: &RawOrder) -> Self {
        OrderFacts {
            platform_id,
            order_id: order.order_id.clone(),
            status: order.status,
            created_at: order.created_at,
            paid_at: order.paid_at,
            amount: order.amount,
            refunded: order.refunded,
            partial_refund: order.partial_refund,
            product: order.product_summary(),
        }
    }

    /// Paid at some point: paid, shipped or completed, or closed after a payment.
    pub fn was_paid(&self) -> bool {
        self.status.was_paid() || self.closed_after_payment()
    }

    /// Closed after a payment: the platform gave a payment time, or a refund (there is no
    /// refund without a payment, whether or not the platform still sends the time, as a PDD
    /// `refund_status` 4 or a Kuaishou 80 with refunds may not).
    pub fn closed_after_payment(&self) -> bool {
        self.status == NeutralStatus::Closed && (self.paid_at.is_some() || self.refunded)
    }

    /// A refund or after-sale: refunded, or closed after payment.
    pub fn is_after_sale(&self) -> bool {
        self.refunded || self.closed_after_payment()
    }

    /// What the buyer paid and kept, toward their spend: a paid order's amount, less the
    /// refunded lines of a partial refund; nothing for an order unpaid, refunded whole, or
    /// closed after payment.
    pub fn kept_amount(&self) -> Money {
        if !self.was_paid() || self.closed_after_payment() {
            return Money::default();
        }
        let refund = refund_amount(self.amount, self.refunded, self.partial_refund);
        Money::from_fen(
            self.amount
                .fen()
                .saturating_sub(refund.map_or(0, Money::fen)),
        )
    }

    /// The time the order is listed under: payment time when paid, else creation time.
    pub fn order_time(&self) -> DateTime<Utc> {
        self.paid_at.unwrap_or(self.created_at)
    }

    /// A total order over orders, so every aggregate is independent of arrival order.
    fn sort_key(&self) -> (DateTime<Utc>, i64, &str) {
        (self.order_time(), self.platform_id, &self.order_id)
    }
}

/// A buyer's aggregate over all of their orders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BuyerAggregate {
    pub order_count: u32,
    /// Orders paid at some point (refunded ones included).
    pub paid_order_count: u32,
    /// What the buyer paid and kept: paid orders, less refunds (the refunded lines of a partial
    /// refund, the whole order otherwise) and orders closed after payment.
    pub paid_total: Money,
    /// Orders refunded or closed after payment.
    pub after_sale_count: u32,
    /// Orders placed and still waiting for payment.
    pub unpaid_count: u32,
    /// Orders closed before any payment.
    pub closed_unpaid_count: u32,
    pub first_order_time: DateTime<Utc>,
    pub last_order_time: DateTime<Utc>,
    pub first_paid_time: Option<DateTime<Utc>>,
    pub last_paid_time: Option<DateTime<Utc>>,
    /// Mean days between consecutive purchase occasions (payments within 10 minutes of each
    /// other are one purchase: a checkout split into orders), to two decimals; `None` with fewer
    /// than two.
    pub mean_gap_days: Option<f64>,
    /// The latest order (by order time): the list's `orderId`, `orderTime` and product.
    pub latest_platform_id: i64,
    pub latest_order_id: String,
    pub last_product: String,
    /// Every order id, newest first.
    pub order_ids: Vec<String>,
    /// Payment times, oldest first, one per paid order (purchase occasions, and repeat counts
    /// over a period, are read from them).
    pub paid_times: Vec<DateTime<Utc>>,
}

/// Payments this close to the first of their occasion are one purchase occasion: a cart
/// checkout the platform split into several orders (by shop, by warehouse: JD's 拆单), paid at
/// once, or an order placed again minutes later. Two such orders are one purchase, not a
/// repeat.
pub const ONE_OCCASION_MINUTES: i64 = 10;

/// Mean days between consecutive `purchases` (oldest first), to the hundredth of a day: a value
/// that reads back exactly from the stored JSON, so every service that serializes the aggregate
/// writes the same digits. `None` with fewer than two.
fn mean_gap(purchases: &[DateTime<Utc>]) -> Option<f64> {
    match (purchases.first(), purchases.last()) {
        (Some(a), Some(b)) if purchases.len() >= 2 => {
            let span = (*b - *a).num_seconds() as f64 / 86_400.0;
            Some((span / (purchases.len() - 1) as f64 * 100.0).round() / 100.0)
        }
        _ => None,
    }
}

/// The purchase occasions of payments `times` (oldest first): the first payment of each.
pub fn occasions(times: &[DateTime<Utc>]) -> Vec<DateTime<Utc>> {
    let mut out: Vec<DateTime<Utc>> = Vec::new();
    for &t in times {
        match out.last() {
            Some(&start) if t - start <= chrono::Duration::minutes(ONE_OCCASION_MINUTES) => {}
            _ => out.push(t),
        }
    }
    out
}

impl BuyerAggregate {
    /// Purchase occasions ([`occasions`]): paid orders, those of one checkout counting once.
    pub fn purchases(&self) -> u32 {
        count(occasions(&self.paid_times).len())
    }

    /// Mean days between purchase occasions, read from the payment times: what the model uses,
    /// so an aggregate stored before purchases were counted as occasions (its `mean_gap_days`
    /// between payments) is scored as a rebuilt one would be.
    pub fn purchase_gap_days(&self) -> Option<f64> {
        mean_gap(&occasions(&self.paid_times))
    }

    /// Purchase occasions that began at or after `since`.
    pub fn purchases_since(&self, since: DateTime<Utc>) -> u32 {
        count(
            occasions(&self.paid_times)
                .iter()
                .filter(|t| **t >= since)
                .count(),
        )
    }

    /// The last time the buyer did anything: last payment, else last order.
    pub fn last_activity(&self) -> DateTime<Utc> {
        self.last_paid_time.unwrap_or(self.last_order_time)
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The aggregate of a buyer's orders; `None` for no orders. Orders are one per (shop, order id),
/// as processed orders are stored; a repeated id counts once.
pub fn aggregate(orders: &[OrderFacts]) -> Option<BuyerAggregate> {
    let mut sorted: Vec<&OrderFacts> = orders.iter().collect();
    sorted.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    let mut seen = std::collections::HashSet::new();
    sorted.retain(|o| seen.insert((o.platform_id, o.order_id.as_str())));
    let first = *sorted.first()?;
    let latest = *sorted.last()?;
    let paid: Vec<&OrderFacts> = sorted.iter().copied().filter(|o| o.was_paid()).collect();
    let mut paid_times: Vec<DateTime<Utc>> = paid.iter().map(|o| o.order_time()).collect();
    paid_times.sort();
    let mean_gap_days = mean_gap(&occasions(&paid_times));
    Some(BuyerAggregate {
        order_count: count(sorted.len()),
        paid_order_count: count(paid.len()),
        // Saturating: amounts come from platforms, and a wrapped sum would turn a buyer's
        // total negative.
        paid_total: Money(
            sorted
                .iter()
                .fold(0_i64, |sum, o| sum.saturating_add(o.kept_amount().fen())),
        ),
        after_sale_count: count(sorted.iter().filter(|o| o.is_after_sale()).count()),
        unpaid_count: count(
            sorted
                .iter()
                .filter(|o| o.status == NeutralStatus::Unpaid)
                .count(),
        ),
        closed_unpaid_count: count(
            sorted
                .iter()
                .filter(|o| o.status == NeutralStatus::Closed && !o.closed_after_payment())
                .count(),
        ),
        first_order_time: sorted
            .iter()
            .map(|o| o.created_at)
            .min()
            .unwrap_or(first.created_at),
        last_order_time: sorted
            .iter()
            .map(|o| o.created_at)
            .max()
            .unwrap_or(latest.created_at),
        first_paid_time: paid_times.first().copied(),
        last_paid_time: paid_times.last().copied(),
        mean_gap_days,
        latest_platform_id: latest.platform_id,
        latest_order_id: latest.order_id.clone(),
        last_product: latest.product.clone(),
        order_ids: sorted.iter().rev().map(|o| o.order_id.clone()).collect(),
        paid_times,
    })
}

/// One order of a batch, with its identities (as stored blind indexes) and the leads those
/// identities, or an earlier link of the order, already point to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderIdentities {
    pub keys: Vec<String>,
    pub known_leads: Vec<i64>,
}

/// Orders of a batch that are one buyer, and the lead that buyer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuyerGroup {
    /// Indexes into the batch.
    pub orders: Vec<usize>,
    /// Every identity of the group's orders, sorted.
    pub keys: Vec<String>,
    /// The surviving lead: the lowest id among the known leads; `None` for a new buyer.
    pub lead: Option<i64>,
    /// Other known leads that turned out to be this buyer: they merge into `lead`.
    pub merged: Vec<i64>,
}

/// Groups a batch's orders into buyers: orders sharing an identity or a known lead are one buyer
/// (transitively), and leads that meet in one group merge into the lowest id. The result does not
/// depend on the order of the batch, except for the indexes it names.
pub fn group_buyers(batch: &[OrderIdentities]) -> Vec<BuyerGroup> {
    use std::collections::{BTreeMap, BTreeSet};
    let mut parent: Vec<usize> = (0..batch.len()).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while let Some(&p) = parent.get(i) {
            if p == i {
                break;
            }
            let grand = parent.get(p).copied().unwrap_or(p);
            if let Some(slot) = parent.get_mut(i) {
                *slot = grand;
            }
            i = p;
        }
        i
    }
    let mut first_by_key: BTreeMap<&str, usize> = BTreeMap::new();
    let mut first_by_lead: BTreeMap<i64, usize> = BTreeMap::new();
    for (i, order) in batch.iter().enumerate() {
        let mut links: Vec<usize> = Vec::new();
        for key in &order.keys {
            links.push(*first_by_key.entry(key).or_insert(i));
        }
        for lead in &order.known_leads {
            links.push(*first_by_lead.entry(*lead).or_insert(i));
        }
        for other in links {
            let (a, b) = (find(&mut parent, i), find(&mut parent, other));
            if a != b {
                let (lo, hi) = (a.min(b), a.max(b));
                if let Some(slot) = parent.get_mut(hi) {
                    *slot = lo;
                }
            }
        }
    }
    /// A group in the making: its orders, identities and known leads.
    type Members = (Vec<usize>, BTreeSet<String>, BTreeSet<i64>);
    let mut groups: BTreeMap<usize, Members> = BTreeMap::new();
    for (i, order) in batch.iter().enumerate() {
        let root = find(&mut parent, i);
        let entry = groups.entry(root).or_default();
        entry.0.push(i);
        entry.1.extend(order.keys.iter().cloned());
        entry.2.extend(order.known_leads.iter().copied());
    }
    groups
        .into_values()
        .map(|(orders, keys, leads)| {
            let mut leads = leads.into_iter();
            BuyerGroup {
                orders,
                keys: keys.into_iter().collect(),
                lead: leads.next(),
                merged: leads.collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
