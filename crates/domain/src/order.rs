//! The platform-neutral raw order every adapter produces. The platform's original JSON is kept
//! beside it, untouched, in `t_ecom_order_raw.raw_data`.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::contact::ContactField;
use crate::money::Money;

/// Order status reduced to what lead identification needs; the platform's own status is kept in
/// [`RawOrder::platform_status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NeutralStatus {
    /// Created, not paid.
    Unpaid,
    /// Paid, not yet shipped.
    Paid,
    /// Shipped (fully or partly), not yet received.
    Shipped,
    /// Received or finished.
    Completed,
    /// Closed or cancelled (before or after payment).
    Closed,
}

impl NeutralStatus {
    pub const ALL: &'static [NeutralStatus] = &[
        NeutralStatus::Unpaid,
        NeutralStatus::Paid,
        NeutralStatus::Shipped,
        NeutralStatus::Completed,
        NeutralStatus::Closed,
    ];

    /// The wire and database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            NeutralStatus::Unpaid => "UNPAID",
            NeutralStatus::Paid => "PAID",
            NeutralStatus::Shipped => "SHIPPED",
            NeutralStatus::Completed => "COMPLETED",
            NeutralStatus::Closed => "CLOSED",
        }
    }

    /// The status spelled `text`, if any.
    pub fn parse(text: &str) -> Option<Self> {
        NeutralStatus::ALL
            .iter()
            .copied()
            .find(|s| s.as_str() == text)
    }

    /// The stored spelling back, or what it is not (a row's column read by its repository).
    pub fn stored(text: String) -> Result<Self, UnknownStatus> {
        NeutralStatus::parse(&text).ok_or(UnknownStatus(text))
    }

    /// Whether the buyer paid at some point.
    pub fn was_paid(self) -> bool {
        matches!(
            self,
            NeutralStatus::Paid | NeutralStatus::Shipped | NeutralStatus::Completed
        )
    }
}

/// Who bought: platform-scoped ids, never a real account name. Its `Debug` says only which
/// are present.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BuyerRef {
    /// A stable, platform-scoped buyer id (Taobao `buyer_open_uid`, Douyin `doudian_open_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_id: Option<String>,
    /// The buyer's nick as the platform shows it (usually masked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nick: Option<String>,
}

/// Where the order ships to. Its `Debug` shows no contact, region or `oaid`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Receiver {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<ContactField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<ContactField>,
    /// Province, city and district as sent (these are not masked by the platforms).
    #[serde(default)]
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<ContactField>,
    /// An opaque receiver id for the platform's decrypt API (Taobao `oaid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oaid: Option<String>,
}

/// `<present>` or `None`: whether a personal value is there, never the value.
fn presence<T>(value: &Option<T>) -> &'static str {
    if value.is_some() { "<present>" } else { "None" }
}

impl std::fmt::Debug for BuyerRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuyerRef")
            .field("open_id", &format_args!("{}", presence(&self.open_id)))
            .field("nick", &format_args!("{}", presence(&self.nick)))
            .finish()
    }
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("name", &self.name)
            .field("phone", &self.phone)
            .field(
                "region",
                &format_args!("<{} chars>", self.region.chars().count()),
            )
            .field("address", &self.address)
            .field("oaid", &format_args!("{}", presence(&self.oaid)))
            .finish()
    }
}

impl Receiver {
    /// The receiver's phone as a contact: a masked number is `decryptable` when the order
    /// carries the platform's handle for its decrypt API (Taobao's `oaid`), since a reveal then
    /// gets the full number (`leadgen_platforms::reveal`).
    pub fn phone_contact(&self) -> Option<ContactField> {
        let mut phone = self.phone.clone()?;
        phone.decryptable = phone.kind == crate::ContactKind::Masked && self.oaid.is_some();
        Some(phone)
    }

    /// The region as the services keep it in clear: province and city, the first two parts
    /// (`浙江省 杭州市`). District, town and street narrow a buyer down to a neighbourhood, so
    /// they stay in the sealed order only: a second part that names a district or county is
    /// left out, as where the province is a municipality and the platform sends its district as
    /// the city (JD's `北京 朝阳区`), or where the province is missing (`杭州市 西湖区`).
    pub fn coarse_region(&self) -> String {
        let mut parts = self.region.split_whitespace();
        let Some(first) = parts.next() else {
            return String::new();
        };
        match parts.next() {
            Some(second) if !names_a_district(second) => format!("{first} {second}"),
            _ => first.to_owned(),
        }
    }
}

/// Whether a region's part names a district or a county (`朝阳区`, `桐庐县`, a banner `旗`),
/// not a prefecture (`阿克苏地区` ends in 区 and is one).
fn names_a_district(part: &str) -> bool {
    (part.ends_with('区') && !part.ends_with("地区"))
        || part.ends_with('县')
        || part.ends_with('旗')
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku_id: Option<String>,
    pub title: String,
    pub quantity: i64,
    /// Unit price in fen.
    pub price: Money,
}

impl Receiver {
    /// Whether a phone revealed for the receiver `before` (decrypted from its ciphertext, or
    /// through its `oaid`) is still this receiver's: the same phone as the platform sent it and
    /// the same decrypt handle. A receiver corrected to another person (a new ciphertext, other
    /// digits, a new `oaid`) is not, and the number revealed for the old one must stop counting
    /// as the buyer's (it would merge the buyer with whoever the old receiver was).
    pub fn keeps_revealed_phone_of(&self, before: &Receiver) -> bool {
        let phone = |r: &Receiver| r.phone.as_ref().map(|p| (p.kind, p.value.clone()));
        // A handle the platform left out of one answer says nothing against the other.
        let same_handle = match (&self.oaid, &before.oaid) {
            (Some(now), Some(then)) => now == then,
            _ => true,
        };
        phone(self) == phone(before) && same_handle
    }

    /// This receiver, a new version of an order's, keeping the phone `stored` (the version
    /// stored before) reached the buyer by where the new one reaches less and says nothing
    /// against it: the platforms mask a phone once the order ships (PDD's `receiver_phone` is
    /// clear only while 待发货) or drop the receiver from later answers (JD), and a number that
    /// could be called must not be lost for it. A receiver that really changed (other visible
    /// digits, a new ciphertext or number) replaces the old one. The decrypt handle (`oaid`)
    /// stays with the phone it belongs to.
    pub fn keep_reach_of(&mut self, stored: &Receiver) {
        let Some(before) = &stored.phone else {
            return;
        };
        let keep = match &self.phone {
            None => true,
            Some(now) => now.reach() < before.reach() && now.agrees_with(before),
        };
        if keep {
            self.phone = Some(before.clone());
            if self.oaid.is_none() {
                self.oaid.clone_from(&stored.oaid);
            }
        }
    }
}

/// A stored status that is none of the spellings [`NeutralStatus::ALL`] has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown order status `{0}`")]
pub struct UnknownStatus(pub String);

impl TryFrom<String> for NeutralStatus {
    type Error = UnknownStatus;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        NeutralStatus::stored(text)
    }
}

/// A sold order in platform-neutral form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RawOrder {
    /// The platform's order id (always a string: ids exceed 2^53).
    pub order_id: String,
    pub status: NeutralStatus,
    /// The platform's own status code or name, as sent.
    pub platform_status: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_at: Option<DateTime<Utc>>,
    /// What the buyer paid, in fen.
    pub amount: Money,
    /// Whether a refund was requested or made.
    #[serde(default)]
    pub refunded: bool,
    /// A partial refund: what the refunded lines paid, when the platform says per line and only
    /// some lines are refunded ([`partial_refund`]). Absent when the refund is the whole order,
    /// or the platform says only per order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_refund: Option<Money>,
    #[serde(default)]
    pub buyer: BuyerRef,
    #[serde(default)]
    pub receiver: Receiver,
    #[serde(default)]
    pub items: Vec<OrderItem>,
}

impl RawOrder {
    /// A short product summary for lists: the first item's title, plus a count of the rest.
    pub fn product_summary(&self) -> String {
        match self.items.as_slice() {
            [] => String::new(),
            [only] => only.title.clone(),
            [first, rest @ ..] => format!("{} 等{}件商品", first.title, rest.len() + 1),
        }
    }

    /// The order with its display texts (status name, nick, region, titles, SKU ids)
    /// [`printable`]. Ids and contact values are left as sent: the platform reads them back.
    pub fn make_printable(&mut self) {
        let clean = |text: &mut String| {
            if let Cow::Owned(cleaned) = printable(text) {
                *text = cleaned;
            }
        };
        clean(&mut self.platform_status);
        clean(&mut self.receiver.region);
        if let Some(nick) = &mut self.buyer.nick {
            clean(nick);
        }
        for item in &mut self.items {
            clean(&mut item.title);
            if let Some(sku) = &mut item.sku_id {
                clean(sku);
            }
        }
    }

    /// The time the order is listed under: payment time when paid, else creation time.
    pub fn order_time(&self) -> DateTime<Utc> {
        self.paid_at.unwrap_or(self.created_at)
    }

    /// The first of the order's times no shop's order can have (before 1990, or more than a
    /// year after `now`), by field name: a platform's error, which the database might not even
    /// store (chrono reads years PostgreSQL refuses), and which would skew every time-based
    /// score. Such an order is unreadable: kept and counted, not stored as it says.
    pub fn implausible_time(&self, now: DateTime<Utc>) -> Option<&'static str> {
        let earliest = DateTime::<Utc>::from_timestamp(631_152_000, 0).unwrap_or_default();
        let latest = now + chrono::Duration::days(366);
        let wrong = |t: &DateTime<Utc>| *t < earliest || *t > latest;
        [
            ("createdAt", Some(&self.created_at)),
            ("paidAt", self.paid_at.as_ref()),
            ("modifiedAt", self.modified_at.as_ref()),
        ]
        .into_iter()
        .find_map(|(name, t)| t.filter(|t| wrong(t)).map(|_| name))
    }
}

/// `text` as it may be stored and shown: tabs and line breaks become spaces, and the other
/// control characters (NUL, which PostgreSQL refuses in text; escapes) and the bidirectional
/// overrides and isolates (which make a text display other than it reads) are dropped. A
/// platform may send any of them in a free text (a product title, a nick).
pub fn printable(text: &str) -> Cow<'_, str> {
    let unwanted =
        |c: char| c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(unwanted) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .filter_map(|c| match c {
                '\t' | '\n' | '\r' => Some(' '),
                c if unwanted(c) => None,
                c => Some(c),
            })
            .collect(),
    )
}

/// What an order refunded (or is asked to): the refunded lines of a partial refund, else the
/// whole amount; `None` without a refund. Never more than the amount, never negative.
pub fn refund_amount(amount: Money, refunded: bool, partial: Option<Money>) -> Option<Money> {
    let whole = amount.fen().max(0);
    refunded.then(|| Money::from_fen(partial.map_or(whole, |p| p.fen().clamp(0, whole))))
}

/// The partial refund of an order from its lines, each as (refund asked for or made, what the
/// line paid): the refunded lines' sum when some lines but not all are refunded and each of them
/// says what it paid; `None` otherwise (no refund, the whole order, or an amount unknown, which
/// counts as the whole order: the safe reading for a buyer's spend).
pub fn partial_refund(lines: impl IntoIterator<Item = (bool, Option<Money>)>) -> Option<Money> {
    let (mut refunded, mut kept, mut sum) = (0, 0, 0i64);
    for (is_refunded, paid) in lines {
        if !is_refunded {
            kept += 1;
            continue;
        }
        refunded += 1;
        sum = sum.checked_add(paid?.fen())?;
    }
    (refunded > 0 && kept > 0).then_some(Money::from_fen(sum))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_version_that_masks_or_drops_the_phone_keeps_the_one_that_reached() {
        let receiver = |phone: Option<ContactField>| Receiver {
            phone,
            ..Receiver::default()
        };
        let plain = ContactField::phone("13876771234");
        let masked = |m: &str| ContactField::text(m);
        // Shipped: PDD masks the phone; JD drops the receiver; a buyer id stands in.
        for later in [
            masked("1387677****"),
            masked("*******1234"),
            None,
            ContactField::open_id("jd_******"),
        ] {
            let mut now = receiver(later.clone());
            now.keep_reach_of(&receiver(plain.clone()));
            assert_eq!(now.phone, plain, "{later:?}");
        }
        // Another receiver: other digits, or a number or ciphertext of its own.
        for changed in [
            masked("1390000****"),
            ContactField::phone("13900001111"),
            ContactField::phone("~AgAAAAB1c2Vy~"),
        ] {
            let mut now = receiver(changed.clone());
            now.keep_reach_of(&receiver(plain.clone()));
            assert_eq!(now.phone, changed);
        }
        // A better value always wins; nothing stored keeps nothing.
        let mut better = receiver(plain.clone());
        better.keep_reach_of(&receiver(masked("1387677****")));
        assert_eq!(better.phone, plain);
        let mut none = receiver(None);
        none.keep_reach_of(&receiver(None));
        assert_eq!(none.phone, None);
    }

    /// A revealed number stays with its receiver: the same phone as sent and the same decrypt
    /// handle; an answer that leaves the handle out says nothing against it.
    #[test]
    fn a_revealed_phone_stays_with_the_receiver_it_was_decrypted_for() {
        let with = |phone: &str, oaid: Option<&str>| Receiver {
            phone: ContactField::text(phone),
            oaid: oaid.map(str::to_owned),
            ..Receiver::default()
        };
        let before = with("138****1234", Some("oaid-1"));
        assert!(with("138****1234", Some("oaid-1")).keeps_revealed_phone_of(&before));
        assert!(with("138****1234", None).keeps_revealed_phone_of(&before));
        assert!(!with("138****1234", Some("oaid-2")).keeps_revealed_phone_of(&before));
        assert!(!with("139****1234", Some("oaid-1")).keeps_revealed_phone_of(&before));
    }

    #[test]
    fn display_texts_keep_no_control_or_direction_characters() {
        assert!(matches!(printable("儿童保温杯 500ml"), Cow::Borrowed(_)));
        assert_eq!(printable("杯\u{0}子\u{202E}控制\u{2066}x"), "杯子控制x");
        assert_eq!(
            printable("第一行\r\n第二行\t\u{1b}[31m"),
            "第一行  第二行 [31m"
        );
        let mut order: RawOrder = serde_json::from_value(serde_json::json!({
            "orderId": "o\u{0}id", "status": "PAID", "platformStatus": "2\u{0}",
            "createdAt": "2026-01-01T00:00:00Z", "amount": 100,
            "buyer": {"openId": "id\u{0}", "nick": "t*\u{0}*1"},
            "receiver": {"region": "浙江省\u{0}杭州市"},
            "items": [{"skuId": "s\u{7}", "title": "\u{202e}品名", "quantity": 1, "price": 100}],
        }))
        .expect("order");
        order.make_printable();
        assert_eq!(
            (
                order.platform_status.as_str(),
                order.buyer.nick.as_deref(),
                order.receiver.region.as_str(),
                order.items[0].title.as_str(),
                order.items[0].sku_id.as_deref(),
            ),
            ("2", Some("t**1"), "浙江省杭州市", "品名", Some("s"))
        );
        // Ids are the platform's: read back as sent.
        assert_eq!(
            (order.order_id.as_str(), order.buyer.open_id.as_deref()),
            ("o\u{0}id", Some("id\u{0}"))
        );
    }

    #[test]
    fn a_partial_refund_is_the_refunded_lines_when_some_lines_are_kept() {
        let yuan = |y: i64| Some(Money::from_fen(y * 100));
        let lines = [(true, yuan(30)), (false, yuan(50)), (true, yuan(20))];
        assert_eq!(partial_refund(lines), yuan(50));
        assert_eq!(partial_refund([(true, yuan(30)), (true, yuan(50))]), None);
        assert_eq!(partial_refund([(false, yuan(30)), (false, yuan(50))]), None);
        assert_eq!(partial_refund([(true, None), (false, yuan(50))]), None);
        assert_eq!(partial_refund([]), None);
    }

    #[test]
    fn the_region_kept_in_clear_is_province_and_city() {
        let at = |region: &str| {
            Receiver {
                region: region.into(),
                ..Receiver::default()
            }
            .coarse_region()
        };
        assert_eq!(at("北京 北京市 朝阳区 三里屯街道"), "北京 北京市");
        assert_eq!(at("浙江省 杭州市 西湖区 三墩镇"), "浙江省 杭州市");
        assert_eq!(at("  广东  深圳市 "), "广东 深圳市");
        assert_eq!(at("上海"), "上海");
        assert_eq!(
            at("北京 朝阳区 三环以内"),
            "北京",
            "JD: a municipality's district"
        );
        assert_eq!(at("杭州市 西湖区 三墩镇"), "杭州市", "no province");
        assert_eq!(at("浙江 杭州市 桐庐县"), "浙江 杭州市");
        assert_eq!(
            at("内蒙古自治区 鄂尔多斯市 准格尔旗"),
            "内蒙古自治区 鄂尔多斯市"
        );
        assert_eq!(
            at("新疆维吾尔自治区 阿克苏地区 库车市"),
            "新疆维吾尔自治区 阿克苏地区"
        );
        assert_eq!(at("上海 浦东新区"), "上海");
        assert_eq!(at(""), "");
    }
}
