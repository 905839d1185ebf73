//! Revealing a buyer's phone through the platform's own decrypt API, within the platform's rules.
//!
//! A salesperson reveals a contact for a [`RevealPurpose`]. Each adapter maps the purpose to what
//! its platform permits and refuses any other purpose with
//! [`PlatformError::PurposeNotPermitted`] before calling anything: a purpose is never sent as
//! another scene. [`DecryptRequest`] names the order and its ciphertext exactly as the order
//! listing sent them ([`DecryptRequest::for_order`] takes them from the neutral
//! [`RawOrder`]); [`RevealedContact`] is the answer, a mobile or a privacy (virtual) number with
//! its extension and expiry, wrapped so that `Debug` never prints it. The service calls
//! [`PlatformClient::decrypt_contact`](crate::PlatformClient::decrypt_contact), or
//! [`Session::decrypt_contact`](crate::session::Session::decrypt_contact) for the shared retry
//! and refresh policy.
//!
//! What each platform permits, and why ([doc]: the platform's documentation or SDK text;
//! [choice]: decided here, safe default = refuse what no source documents as permitted):
//!
//! | platform | API | after-sales | customer care | fulfilment |
//! |---|---|---|---|---|
//! | Taobao | `taobao.top.oaid.decrypt` | scene `2001` 客户售后服务 [doc] | scene `2002` 客户关怀 [doc] | scene `1006` 手工单发货 [doc; the code is a choice] |
//! | JD | `jingdong.jos.order.oaid.decrypt` | refused [choice] | refused [choice] | permitted, no `scenesType` sent [choice] |
//! | PDD | `pdd.open.decrypt.batch` | refused [choice] | refused [choice] | permitted [choice] |
//! | Douyin | `order.batchDecrypt` | refused [choice] | refused [choice] | permitted [choice] |
//! | Kuaishou | `open.order.decrypt.batch` | refused [choice] | refused [choice] | permitted [doc] |
//!
//! Taobao's documentation lists the scenes 1001–1007 (shipping: four electronic-waybill
//! scenes, offline-store shipping, 手工单发货 hand-made shipping, drop-shipping), 2001 and 2002;
//! a salesperson reaching a buyer about an order is neither a waybill printer, a store nor a
//! drop-shipper, so fulfilment is sent as 1006. Kuaishou's API text says the decrypt is "仅用于
//! 解密实物发货订单的密文数据" (only for shipping physical orders). JD names a `scenesType` field
//! but no source gives its values, and PDD and Douyin name no purposes at all; what their decrypt
//! APIs document is opening the order's receiver (收件人) fields, which exist to deliver the order,
//! so fulfilment is the one purpose permitted there. Each adapter module documents its API, its
//! errors and its quota.
//!
//! Quotas (the service's per-user and per-tenant limits must stay inside them; the adapters
//! surface the platform's refusals as [`PlatformError::Throttled`] and
//! [`PlatformError::QuotaExhausted`], keeping its code and message):
//!
//! | platform | per call | quota |
//! |---|---|---|
//! | Taobao | ≤ 20 queries [doc] | per-app API call counts set in the TOP console; code 7 "This ban will last for N more seconds" when spent [unverified number] |
//! | JD | (`orderInfos`, no limit in our sources) | per-app daily call count, JOS console; gateway code 2 when spent [3p] |
//! | PDD | ≤ 100 items [src] | app: 10,050 calls / 10 s and 1 / 10 s limiters; API total 19,500 / 10 s [src: lywzx]; daily amount unknown |
//! | Douyin | ≤ 50 items [src] | throttled as 60000; daily amount unknown |
//! | Kuaishou | ≤ 100 items [README] | per merchant, shared by the shop's PC and app clients and every API caller [doc]; amount unknown |
//!
//! One reveal is one item per call. Codes for the permission and quota refusals are not in our
//! sources for JD, PDD, Douyin and Kuaishou; the adapters read the ones the simulator answers
//! (marked [simulator choice] in each module) and must be checked against the live platforms.
//!
//! This crate never logs, stores or emits a decrypted value: adapters read it from the answer
//! straight into a [`RevealedContact`], and errors carry the platform's code and message only.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use leadgen_domain::platform::UnknownVariant;
use leadgen_domain::{ContactKind, PlatformType, RawOrder};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::client::PlatformError;

/// Why a salesperson reveals a buyer's contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RevealPurpose {
    /// After-sales service of an order (售后服务: returns, exchanges, complaints).
    AfterSales,
    /// Customer care (客户关怀): reaching a buyer about their experience or a next purchase.
    CustomerCare,
    /// Fulfilling the order itself (发货: delivery questions, address checks).
    Fulfilment,
}

impl RevealPurpose {
    /// Every purpose, in declaration order.
    pub const ALL: &'static [RevealPurpose] = &[
        RevealPurpose::AfterSales,
        RevealPurpose::CustomerCare,
        RevealPurpose::Fulfilment,
    ];

    /// The purpose as sales staff name it, for messages.
    pub fn name_zh(self) -> &'static str {
        match self {
            RevealPurpose::AfterSales => "售后服务",
            RevealPurpose::CustomerCare => "客户关怀",
            RevealPurpose::Fulfilment => "订单履约",
        }
    }

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RevealPurpose::AfterSales => "AFTER_SALES",
            RevealPurpose::CustomerCare => "CUSTOMER_CARE",
            RevealPurpose::Fulfilment => "FULFILMENT",
        }
    }
}

impl fmt::Display for RevealPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RevealPurpose {
    type Err = UnknownVariant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RevealPurpose::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownVariant {
                what: "purpose",
                value: s.to_owned(),
                expected: "AFTER_SALES CUSTOMER_CARE FULFILMENT",
            })
    }
}

/// One reveal: the order, what identifies its receiver's ciphertext, and why. Its `Debug` shows
/// no ciphertext.
#[derive(Clone, PartialEq, Eq)]
pub struct DecryptRequest {
    /// The platform's order id (Taobao `tid`, JD `orderId`, PDD `order_sn`, Douyin `order_id`,
    /// Kuaishou `oid`), as in [`RawOrder::order_id`].
    pub order_id: String,
    /// Taobao and JD: the receiver's `oaid`; PDD, Douyin, Kuaishou: the phone ciphertext exactly
    /// as the order listing sent it.
    pub ciphertext: String,
    pub purpose: RevealPurpose,
}

impl fmt::Debug for DecryptRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptRequest")
            .field("order_id", &self.order_id)
            .field(
                "ciphertext",
                &format_args!("<{} chars>", self.ciphertext.chars().count()),
            )
            .field("purpose", &self.purpose)
            .finish()
    }
}

impl DecryptRequest {
    /// The request for `order`'s receiver phone on `platform`: its `oaid` on Taobao and JD, its
    /// phone ciphertext elsewhere. An order without one has nothing to decrypt (a masked phone
    /// with no `oaid`, or a privacy number the platform already sent in clear, which needs no
    /// reveal): [`PlatformError::InvalidRequest`].
    pub fn for_order(
        platform: PlatformType,
        order: &RawOrder,
        purpose: RevealPurpose,
    ) -> Result<Self, PlatformError> {
        let ciphertext = match platform {
            PlatformType::Taobao | PlatformType::Jd => {
                order.receiver.oaid.clone().ok_or_else(|| {
                    PlatformError::InvalidRequest(format!(
                        "{} 订单 {} 没有可解密的 oaid（平台未随订单下发收货人密文）",
                        platform.name_zh(),
                        order.order_id
                    ))
                })?
            }
            PlatformType::Pdd | PlatformType::Douyin | PlatformType::Kuaishou => {
                match &order.receiver.phone {
                    Some(phone) if phone.kind == ContactKind::PlatformEncrypted => {
                        phone.value.clone()
                    }
                    other => {
                        let sent = match other.as_ref().map(|p| p.kind) {
                            None => "订单没有收货人手机号",
                            Some(ContactKind::Masked) => "平台只下发了脱敏号码",
                            Some(ContactKind::Plain) => "平台下发的是明文号码",
                            Some(ContactKind::Virtual) => "平台下发的是隐私号",
                            Some(_) => "平台下发的不是手机号",
                        };
                        return Err(PlatformError::InvalidRequest(format!(
                            "{} 订单 {} 没有可解密的手机号密文（{sent}）",
                            platform.name_zh(),
                            order.order_id
                        )));
                    }
                }
            }
        };
        Ok(DecryptRequest {
            order_id: order.order_id.clone(),
            ciphertext,
            purpose,
        })
    }
}

/// A revealed phone: a mobile (or landline), or a privacy number with its extension and expiry.
/// `Debug` shows the kind and expiry only; the number is reached through the `expose_*`
/// methods, and the value is zeroed when dropped.
pub struct RevealedContact {
    number: SecretString,
    extension: Option<SecretString>,
    expires_at: Option<DateTime<Utc>>,
}

impl RevealedContact {
    /// A real number as the buyer gave it.
    pub fn plain(number: impl Into<String>) -> Self {
        RevealedContact {
            number: SecretString::from(number.into()),
            extension: None,
            expires_at: None,
        }
    }

    /// A privacy number: the main number to dial, the extension, and when it stops forwarding
    /// (when the platform says).
    pub fn virtual_number(
        main: impl Into<String>,
        extension: impl Into<String>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Self {
        RevealedContact {
            number: SecretString::from(main.into()),
            extension: Some(SecretString::from(extension.into())),
            expires_at,
        }
    }

    /// [`ContactKind::Virtual`] for a privacy number, else [`ContactKind::Plain`].
    pub fn kind(&self) -> ContactKind {
        if self.extension.is_some() {
            ContactKind::Virtual
        } else {
            ContactKind::Plain
        }
    }

    /// The number to dial: the mobile, or a privacy number's main number.
    pub fn expose_number(&self) -> &str {
        self.number.expose_secret()
    }

    /// A privacy number's extension.
    pub fn expose_extension(&self) -> Option<&str> {
        self.extension.as_ref().map(ExposeSecret::expose_secret)
    }

    /// When a privacy number stops forwarding, if the platform says (or as assumed,
    /// [`RevealedContact::with_assumed_expiry`]).
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.expires_at
    }

    /// A privacy number the platform decrypted without its expiry, given the one assumed for a
    /// number sent in clear ([`leadgen_domain::ContactField::with_assumed_expiry`]:
    /// [`leadgen_domain::contact::ASSUMED_PRIVACY_NUMBER_DAYS`] after `ordered`, its order's
    /// time) while that lies after `now`. A platform decrypts a number that still forwards, so
    /// one past the assumption keeps no expiry rather than look lapsed; anything else stays as
    /// it is.
    #[must_use]
    pub fn with_assumed_expiry(mut self, ordered: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        let assumed =
            ordered + chrono::Duration::days(leadgen_domain::contact::ASSUMED_PRIVACY_NUMBER_DAYS);
        if self.extension.is_some() && self.expires_at.is_none() && assumed > now {
            self.expires_at = Some(assumed);
        }
        self
    }

    /// Why a salesperson could not dial this number at `now`, if so: the platform answered a
    /// text that is no number (still masked, `138****0000`), or a privacy number that no longer
    /// forwards. Never shows the number.
    pub fn undialable(&self, now: DateTime<Utc>) -> Option<String> {
        let number = self.expose_number();
        let digits = number.bytes().filter(u8::is_ascii_digit).count();
        let is_number = digits >= 5
            && number
                .bytes()
                .all(|b| b.is_ascii_digit() || b"+- ".contains(&b));
        if !is_number
            || self
                .expose_extension()
                .is_some_and(|e| !e.bytes().all(|b| b.is_ascii_digit()))
        {
            return Some("电商平台返回的不是可拨打的号码（仍为脱敏形式或格式不符）".to_owned());
        }
        match self.expires_at {
            Some(at) if at <= now => Some(format!(
                "电商平台返回的隐私号已于 {} 失效",
                leadgen_domain::time::format_beijing(at)
            )),
            _ => None,
        }
    }
}

impl fmt::Debug for RevealedContact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevealedContact")
            .field("kind", &self.kind())
            .field("number", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl PartialEq for RevealedContact {
    fn eq(&self, other: &Self) -> bool {
        self.expose_number() == other.expose_number()
            && self.expose_extension() == other.expose_extension()
            && self.expires_at == other.expires_at
    }
}

impl Eq for RevealedContact {}

/// `18877771111-123` (a privacy number as Taobao, JD and Douyin write it) → virtual; anything
/// else → plain.
pub(crate) fn contact_from_text(text: &str, expires_at: Option<DateTime<Utc>>) -> RevealedContact {
    match text.split_once('-') {
        Some((main, ext))
            if !main.is_empty()
                && !ext.is_empty()
                && main.bytes().all(|b| b.is_ascii_digit())
                && ext.bytes().all(|b| b.is_ascii_digit())
                && main.starts_with('1') =>
        {
            RevealedContact::virtual_number(main, ext, expires_at)
        }
        _ => RevealedContact::plain(text),
    }
}

#[cfg(test)]
mod tests {
    use leadgen_domain::{BuyerRef, ContactField, Money, NeutralStatus, Receiver};

    use super::*;

    fn order(phone: Option<ContactField>, oaid: Option<&str>) -> RawOrder {
        RawOrder {
            order_id: "42".into(),
            status: NeutralStatus::Paid,
            platform_status: "x".into(),
            created_at: Utc::now(),
            paid_at: None,
            modified_at: None,
            amount: Money(100),
            refunded: false,
            partial_refund: None,
            buyer: BuyerRef::default(),
            receiver: Receiver {
                phone,
                oaid: oaid.map(str::to_owned),
                ..Receiver::default()
            },
            items: Vec::new(),
        }
    }

    #[test]
    fn debug_never_shows_the_number() {
        let plain = RevealedContact::plain("13812345678");
        let shown = format!("{plain:?}");
        assert!(!shown.contains("1381234"), "{shown}");
        assert!(shown.contains("Plain"), "{shown}");
        let virt = RevealedContact::virtual_number("18877771111", "123", None);
        let shown = format!("{virt:?} {:?}", Some(&virt));
        assert!(
            !shown.contains("18877771111") && !shown.contains("123,"),
            "{shown}"
        );
        assert_eq!(virt.kind(), ContactKind::Virtual);
        assert_eq!(virt.expose_number(), "18877771111");
        assert_eq!(virt.expose_extension(), Some("123"));
        // Nor the ciphertext a reveal sends, nor an order's platform JSON.
        let request = DecryptRequest {
            order_id: "42".into(),
            ciphertext: "$138$AbZ1cipher$1$$".into(),
            purpose: RevealPurpose::Fulfilment,
        };
        let fetched = crate::FetchedOrder {
            order_id: Some("42".into()),
            raw: serde_json::json!({"receiver_mobile": "13912345678"}),
            parsed: Err("无法解析".into()),
        };
        let shown = format!("{request:?} {fetched:?}");
        assert!(
            !shown.contains("AbZ1") && !shown.contains("1391234"),
            "{shown}"
        );
        assert!(shown.contains("42"), "{shown}");
    }

    #[test]
    fn privacy_numbers_are_read_from_their_written_form() {
        let v = contact_from_text("18400913965-7576", None);
        assert_eq!(
            (v.kind(), v.expose_number(), v.expose_extension()),
            (ContactKind::Virtual, "18400913965", Some("7576"))
        );
        assert_eq!(
            contact_from_text("0571-88886666", None).kind(),
            ContactKind::Plain
        );
        assert_eq!(
            contact_from_text("13800000001", None).kind(),
            ContactKind::Plain
        );
    }

    #[test]
    fn a_masked_text_or_a_lapsed_privacy_number_is_not_dialable() {
        let now = Utc::now();
        let later = Some(now + chrono::Duration::days(3));
        assert_eq!(RevealedContact::plain("13800000000").undialable(now), None);
        assert_eq!(
            RevealedContact::plain("0571-88886666").undialable(now),
            None
        );
        assert_eq!(
            RevealedContact::virtual_number("18877771111", "123", later).undialable(now),
            None
        );
        for masked in ["138****0000", "", "******", "1380"] {
            assert!(
                RevealedContact::plain(masked).undialable(now).is_some(),
                "{masked}"
            );
        }
        let lapsed = RevealedContact::virtual_number(
            "18877771111",
            "123",
            Some(now - chrono::Duration::hours(1)),
        );
        let why = lapsed.undialable(now).unwrap_or_default();
        assert!(
            why.contains("失效") && !why.contains("18877771111"),
            "{why}"
        );
    }

    /// A privacy number decrypted without its expiry is given the one assumed for a number sent
    /// in clear (15 days after its order) while it lies ahead; past it, none (the platform just
    /// decrypted it: it forwards). A given expiry, and a real number, stay as they are.
    #[test]
    fn a_privacy_number_without_its_expiry_is_given_the_assumed_one_while_ahead() {
        let now = Utc::now();
        let recent = now - chrono::Duration::days(2);
        let assumed = RevealedContact::virtual_number("18877771111", "123", None)
            .with_assumed_expiry(recent, now);
        assert_eq!(
            assumed.expires_at(),
            Some(recent + chrono::Duration::days(15))
        );
        let old_order = now - chrono::Duration::days(20);
        let past = RevealedContact::virtual_number("18877771111", "123", None)
            .with_assumed_expiry(old_order, now);
        assert_eq!(past.expires_at(), None);
        assert_eq!(past.undialable(now), None, "never refused on an assumption");
        let given = Some(now + chrono::Duration::days(3));
        let kept = RevealedContact::virtual_number("18877771111", "123", given)
            .with_assumed_expiry(recent, now);
        assert_eq!(kept.expires_at(), given);
        let plain = RevealedContact::plain("13800000000").with_assumed_expiry(recent, now);
        assert_eq!(plain.expires_at(), None);
    }

    #[test]
    fn purposes_round_trip() {
        for p in RevealPurpose::ALL {
            assert_eq!(p.as_str().parse::<RevealPurpose>(), Ok(*p));
            assert_eq!(
                serde_json::to_value(p).unwrap(),
                serde_json::json!(p.as_str())
            );
        }
        assert!("MARKETING".parse::<RevealPurpose>().is_err());
    }

    #[test]
    fn requests_take_the_ciphertext_each_platform_needs() {
        let with_oaid = order(ContactField::phone("*******5678"), Some("oaid-1"));
        let r =
            DecryptRequest::for_order(PlatformType::Taobao, &with_oaid, RevealPurpose::AfterSales)
                .unwrap();
        assert_eq!(
            (r.order_id.as_str(), r.ciphertext.as_str()),
            ("42", "oaid-1")
        );
        assert!(
            DecryptRequest::for_order(PlatformType::Pdd, &with_oaid, RevealPurpose::Fulfilment)
                .is_err()
        );
        let cipher = order(ContactField::phone("$abc$def$0$$"), None);
        let r = DecryptRequest::for_order(PlatformType::Douyin, &cipher, RevealPurpose::Fulfilment)
            .unwrap();
        assert_eq!(r.ciphertext, "$abc$def$0$$");
        assert!(
            DecryptRequest::for_order(PlatformType::Jd, &cipher, RevealPurpose::Fulfilment)
                .is_err()
        );
        let virt = order(ContactField::phone("18877771111-123"), None);
        assert!(matches!(
            DecryptRequest::for_order(PlatformType::Kuaishou, &virt, RevealPurpose::Fulfilment),
            Err(PlatformError::InvalidRequest(_))
        ));
    }
}
