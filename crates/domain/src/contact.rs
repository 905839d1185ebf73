//! Buyer contact data as the platforms send it today, and how we show it.
//!
//! Platforms rarely send a plain mobile any more: Taobao masks it (`*******5678`), PDD and
//! Douyin send their own ciphertext (`$…$…$0$$`, `~…~0~`, `#…#…#1##`) next to a masked copy,
//! privacy (virtual) numbers come as `18877771111-123`, and buyers are identified by open ids.
//! We keep what was sent, say which kind it is, and never invent a number.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What kind of value a contact field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ContactKind {
    /// The platform sent the value in clear, as the buyer entered it (a full mobile, landline
    /// or name). Stored sealed; every response and event shows it masked.
    Plain,
    /// Already masked by the platform (`*******5678`, `张*`).
    Masked,
    /// The platform's own ciphertext; only the platform's decrypt API can open it.
    PlatformEncrypted,
    /// A privacy (virtual) number: a main number plus an extension (`18877771111-123`).
    Virtual,
    /// A platform-scoped opaque buyer id (open id, open uid).
    OpenId,
}

/// How long a privacy number the platform sent without an expiry is taken to forward after its
/// order. The platforms bind one to an order's fulfilment and say no more in the order lists
/// (Kuaishou, Douyin send the number in clear with no date); their decrypt APIs answer expiries
/// of about two weeks (Kuaishou 15 days). Taken as live forever, a months-old privacy number
/// scored as reachable, outranked the buyer's newer real number, and was dialled into whoever
/// holds it now: the safe reading is that it has lapsed.
pub const ASSUMED_PRIVACY_NUMBER_DAYS: i64 = 15;

/// One contact value with its kind and, when the platform sends one, its masked companion.
/// Its `Debug` never shows the value (a phone, name or address, or a ciphertext), nor do the
/// `Debug`s of the types that hold it ([`crate::order::Receiver`], [`crate::order::BuyerRef`]),
/// so a `tracing::debug!(?order)` cannot log a buyer's details.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactField {
    pub kind: ContactKind,
    /// Exactly what the platform sent.
    pub value: String,
    /// The platform's own masked rendering, when it sends one beside a ciphertext.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked: Option<String>,
    /// When a privacy (virtual) number stops forwarding: when the platform says so, else
    /// [`ASSUMED_PRIVACY_NUMBER_DAYS`] after its order ([`ContactField::with_assumed_expiry`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// A masked value whose full number the platform's decrypt API returns for its order (the
    /// order carries the platform's handle for it: Taobao's `oaid`). See
    /// [`crate::Receiver::phone_contact`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub decryptable: bool,
}

impl std::fmt::Debug for ContactField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContactField")
            .field("kind", &self.kind)
            .field(
                "value",
                &format_args!("<{} chars>", self.value.chars().count()),
            )
            .field("masked", &self.masked)
            .field("expires_at", &self.expires_at)
            .field("decryptable", &self.decryptable)
            .finish()
    }
}

impl ContactField {
    /// A privacy number sent without an expiry, given [`ASSUMED_PRIVACY_NUMBER_DAYS`] after
    /// `ordered` (its order's time); anything else as it is.
    pub fn with_assumed_expiry(mut self, ordered: DateTime<Utc>) -> Self {
        if self.kind == ContactKind::Virtual && self.expires_at.is_none() {
            self.expires_at = Some(ordered + chrono::Duration::days(ASSUMED_PRIVACY_NUMBER_DAYS));
        }
        self
    }

    /// Classifies a phone value as the platform sent it; `None` when it is empty.
    pub fn phone(value: &str) -> Option<Self> {
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        let kind = if is_platform_ciphertext(value) {
            ContactKind::PlatformEncrypted
        } else if value.contains('*') {
            ContactKind::Masked
        } else if split_virtual(value).is_some() {
            ContactKind::Virtual
        } else {
            ContactKind::Plain
        };
        Some(ContactField {
            kind,
            value: value.to_owned(),
            masked: None,
            expires_at: None,
            decryptable: false,
        })
    }

    /// Classifies a name or address value; `None` when it is empty.
    pub fn text(value: &str) -> Option<Self> {
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        let kind = if is_platform_ciphertext(value) {
            ContactKind::PlatformEncrypted
        } else if value.contains('*') {
            ContactKind::Masked
        } else {
            ContactKind::Plain
        };
        Some(ContactField {
            kind,
            value: value.to_owned(),
            masked: None,
            expires_at: None,
            decryptable: false,
        })
    }

    /// An open id; `None` when empty.
    pub fn open_id(value: &str) -> Option<Self> {
        let value = value.trim();
        (!value.is_empty()).then(|| ContactField {
            kind: ContactKind::OpenId,
            value: value.to_owned(),
            masked: None,
            expires_at: None,
            decryptable: false,
        })
    }

    /// Attaches the platform's masked companion (PDD `*_mask`, Douyin `mask_*`), if not empty.
    pub fn with_masked(mut self, masked: Option<&str>) -> Self {
        self.masked = masked
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_owned);
        self
    }

    /// How far this value lets a salesperson reach the buyer: a plain number, then a privacy
    /// number (it lapses), then what the platform's decrypt API opens (a ciphertext, or a mask
    /// with the order's decrypt handle), then a mask or a buyer id.
    pub fn reach(&self) -> u8 {
        match self.kind {
            ContactKind::Plain => 4,
            ContactKind::Virtual => 3,
            ContactKind::PlatformEncrypted => 2,
            ContactKind::Masked if self.decryptable => 2,
            ContactKind::Masked | ContactKind::OpenId => 1,
        }
    }

    /// Whether this value, a later version of an order's contact, says nothing against `stored`:
    /// a buyer id instead of a phone, or a mask whose visible digits `stored`'s number has at the
    /// same places (counted from its end). A ciphertext or a number of its own is the platform's
    /// current word, never in agreement.
    pub fn agrees_with(&self, stored: &ContactField) -> bool {
        match self.kind {
            ContactKind::OpenId => true,
            ContactKind::Masked => {
                let known = match stored.kind {
                    ContactKind::Plain => Some(stored.value.as_str()),
                    ContactKind::Virtual => split_virtual(&stored.value).map(|(main, _)| main),
                    _ => stored.masked.as_deref(),
                };
                known.is_none_or(|known| visible_digits_match(&self.value, known))
            }
            ContactKind::Plain | ContactKind::Virtual | ContactKind::PlatformEncrypted => false,
        }
    }

    /// Whether a salesperson could call this value (after platform decryption where needed).
    pub fn is_phone_reachable(&self) -> bool {
        matches!(
            self.kind,
            ContactKind::Plain | ContactKind::Virtual | ContactKind::PlatformEncrypted
        )
    }

    /// The phone as shown in responses (and stored as the lead's masked contact): never the
    /// full number, never a ciphertext, never a control character.
    pub fn display_phone(&self) -> String {
        let shown = match self.kind {
            ContactKind::Plain => mask_phone(&self.value),
            ContactKind::Masked => shown_masked(&self.value),
            ContactKind::Virtual => match split_virtual(&self.value) {
                Some((main, ext)) => format!("{}-{ext}", mask_phone(main)),
                None => mask_phone(&self.value),
            },
            // The platform's masked companion, shown as sent only when masked already; a
            // buyer's nick beside an open id only when mostly hidden ([`shown_nick`]).
            ContactKind::PlatformEncrypted => self.masked_or(mask_phone, "******"),
            ContactKind::OpenId => self
                .masked
                .as_deref()
                .map_or_else(|| "******".to_owned(), shown_nick),
        };
        crate::printable(&shown).into_owned()
    }

    fn masked_or(&self, mask: fn(&str) -> String, none: &str) -> String {
        match self.masked.as_deref() {
            Some(m) if m.contains('*') => shown_masked(m),
            Some(m) => mask(m),
            None => none.to_owned(),
        }
    }

    /// A name as shown in responses (`张*`), without control characters.
    pub fn display_name(&self) -> String {
        let shown = match self.kind {
            ContactKind::Plain => mask_name(&self.value),
            ContactKind::Masked => self.value.clone(),
            ContactKind::OpenId => self
                .masked
                .as_deref()
                .map_or_else(|| "*".to_owned(), shown_nick),
            ContactKind::Virtual | ContactKind::PlatformEncrypted => {
                self.masked.clone().unwrap_or_else(|| "*".to_owned())
            }
        };
        crate::printable(&shown).into_owned()
    }
}

/// A buyer's nick beside an open id, fit to show: as sent when the platform hid at least half
/// of it (`t**1`, `jd_******`), else masked as a name is (`zhangsan*` is hardly hidden).
fn shown_nick(nick: &str) -> String {
    let stars = nick.chars().filter(|c| *c == '*').count();
    if stars > 0 && stars * 2 >= nick.chars().count() {
        shown_masked(nick)
    } else {
        mask_name(nick)
    }
}

/// The most digits a masked phone may show (`138****5678`).
const MAX_VISIBLE_DIGITS: usize = 7;

/// A value the platform sent masked, fit to show: a `*` does not make it masked enough
/// (`13812345678*`, `+86-13812345678*`), so one showing more than [`MAX_VISIBLE_DIGITS`] digits
/// is masked again. A phone's mask (digits and stars) shows its digits only where our own mask
/// does, the first three and the last four ([`mask_phone`]): two masks of one number, PDD's
/// `1387677****` and ours `138****1234` (a buyer's orders list each), would together show all
/// eleven.
fn shown_masked(value: &str) -> String {
    let number = masked_number(value);
    if number.chars().filter(char::is_ascii_digit).count() > MAX_VISIBLE_DIGITS {
        return mask_phone(value);
    }
    // A separator with nothing after it (`1387677****转`) is no extension: left after the mask.
    let core = number.trim_end_matches(['-', '转', '#', ' ']);
    if !core.is_empty() && core.chars().all(|c| c.is_ascii_digit() || c == '*') {
        return format!("{}{}", mask_phone(core), &value[core.len()..]);
    }
    value.to_owned()
}

/// The number part of a masked value: a privacy number's extension (`184****3965-7576`,
/// `…转7576`, `…#7576`) is not the number's, so it is left out, but only when the extension is
/// 1–8 digits after the last separator and the number before it hides at least
/// [`MIN_HIDDEN`] characters. Anything else (`+86-13812345678*`, `1381234*-5678`) is read whole.
fn masked_number(value: &str) -> &str {
    let Some((number, extension)) = value.rsplit_once(['-', '转', '#']) else {
        return value;
    };
    let is_extension =
        (1..=8).contains(&extension.len()) && extension.bytes().all(|b| b.is_ascii_digit());
    let hides_enough = number.chars().filter(|c| *c == '*').count() >= MIN_HIDDEN;
    if is_extension && hides_enough {
        number
    } else {
        value
    }
}

/// Whether every digit `masked` shows stands at the same place in `known`, both read from their
/// ends (`1387677****` and `13876771234`; `*******1234` and `138****1234`). A mask showing no
/// digit agrees with anything.
fn visible_digits_match(masked: &str, known: &str) -> bool {
    let known: Vec<char> = known
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '*')
        .collect();
    let masked: Vec<char> = masked
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '*')
        .collect();
    masked
        .iter()
        .rev()
        .zip(known.iter().rev().map(Some).chain(std::iter::repeat(None)))
        .all(|(m, k)| match (m, k) {
            ('*', _) | (_, Some('*')) => true,
            (m, Some(k)) => m == k,
            (_, None) => false,
        })
}

/// PDD (`~…~`, `$…$`) and Douyin (`#…#`, `$…$`) ciphertexts start with their delimiter.
/// Detected by delimiter, never parsed.
fn is_platform_ciphertext(value: &str) -> bool {
    let mut chars = value.chars();
    match (chars.next(), value.chars().last()) {
        (Some(first @ ('~' | '$' | '#')), Some(last)) => first == last && value.len() > 2,
        _ => false,
    }
}

/// `18877771111-123` → (`18877771111`, `123`): an 11-digit mobile and a 1–8 digit extension.
pub fn split_virtual(value: &str) -> Option<(&str, &str)> {
    let (main, ext) = value.split_once('-')?;
    let mobile =
        main.len() == 11 && main.starts_with('1') && main.bytes().all(|b| b.is_ascii_digit());
    let extension = (1..=8).contains(&ext.len()) && ext.bytes().all(|b| b.is_ascii_digit());
    (mobile && extension).then_some((main, ext))
}

/// `text` with every phone number in it masked (`已联系13812345678` → `已联系138****5678`): a
/// mobile (eleven digits from `1`, after `86` or `0086` or not), or a landline with its area code
/// (ten to twelve digits from `0`), its digits written together or in groups split by a space
/// or a hyphen. A free text a salesperson types (a status note, a reveal's reason) is stored
/// and shown, and contact details are masked wherever they are stored or shown (design §9).
/// Other digits are kept: dates (`2026-12-06`), amounts, order ids (sixteen digits or more).
pub fn mask_phones_in(text: &str) -> std::borrow::Cow<'_, str> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut i = 0;
    while i < chars.len() {
        if digit(chars[i]).is_none() || (i > 0 && digit(chars[i - 1]).is_some()) {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // The digit groups from here: a single space or hyphen between two digits separates
        // two groups of one run.
        let mut groups: Vec<(usize, usize)> = Vec::new();
        let mut at = i;
        while at < chars.len() && digit(chars[at]).is_some() {
            let from = at;
            while at < chars.len() && digit(chars[at]).is_some() {
                at += 1;
            }
            groups.push((from, at));
            let joins = matches!(chars.get(at), Some(' ' | '-'))
                && chars.get(at + 1).is_some_and(|c| digit(*c).is_some());
            if !joins {
                break;
            }
            at += 1;
        }
        // From each group, the longest run of groups that is a phone is masked; a group that
        // starts none is kept (`电话13812345678 3次`: the mobile, then ` 3次`).
        let mut g = 0;
        while g < groups.len() {
            let found = (g..groups.len()).rev().find_map(|last| {
                let digits: String = groups[g..=last]
                    .iter()
                    .flat_map(|&(from, to)| chars[from..to].iter().filter_map(|c| digit(*c)))
                    .collect();
                let prefix_len = digits.len() - phone_in(&digits)?.len();
                Some((last, prefix_len, digits))
            });
            let (first, _) = groups[g];
            let next = match found {
                Some((last, prefix_len, digits)) => {
                    // A country code stays, apart: `+86 139****1111`.
                    let (prefix, number) = digits.split_at(prefix_len);
                    if !prefix.is_empty() {
                        out.push_str(prefix);
                        out.push(' ');
                    }
                    out.push_str(&mask_phone(number));
                    changed = true;
                    last + 1
                }
                None => {
                    out.extend(&chars[first..groups[g].1]);
                    g + 1
                }
            };
            // The separator after what was written, when a group follows it.
            if let Some(&(from, _)) = groups.get(next) {
                out.push(chars[from - 1]);
            }
            i = groups[next - 1].1;
            g = next;
        }
    }
    if changed {
        std::borrow::Cow::Owned(out)
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// A digit as ASCII, the full-width ones (`１３８`, typed with a Chinese input method) too.
fn digit(c: char) -> Option<char> {
    match c {
        '0'..='9' => Some(c),
        '０'..='９' => char::from_u32(u32::from(c) - u32::from('０') + u32::from('0')),
        _ => None,
    }
}

/// The phone number a run of digits is, if it is one ([`mask_phones_in`]).
fn phone_in(digits: &str) -> Option<&str> {
    let number = digits
        .strip_prefix("0086")
        .or_else(|| digits.strip_prefix("86"))
        .filter(|rest| rest.len() == 11 && rest.starts_with('1'))
        .unwrap_or(digits);
    let mobile = number.len() == 11 && number.starts_with('1');
    let landline = (10..=12).contains(&number.len()) && number.starts_with('0');
    (mobile || landline).then_some(number)
}

/// At least this many characters of a phone are hidden, whatever its length.
const MIN_HIDDEN: usize = 4;

/// `13800000001` → `138****0001`: the first three and the last four of a mobile-length value
/// (eleven or more); a shorter one (a landline without its area code) keeps only its tail, and
/// at least [`MIN_HIDDEN`] characters are always hidden (`88886666` → `****6666`, `8888666` →
/// `****666`); four or fewer become all stars.
pub fn mask_phone(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let len = chars.len();
    let head = if len >= 11 { 3 } else { 0 };
    let tail = 4.min(len.saturating_sub(MIN_HIDDEN + head));
    if tail == 0 {
        return "*".repeat(len.max(1));
    }
    let shown_head: String = chars[..head].iter().collect();
    let shown_tail: String = chars[len - tail..].iter().collect();
    format!("{shown_head}{}{shown_tail}", "*".repeat(len - head - tail))
}

/// `张三` → `张*`, `欧阳娜娜` → `欧***`.
pub fn mask_name(value: &str) -> String {
    let mut chars = value.chars();
    match chars.next() {
        Some(first) => format!("{first}{}", "*".repeat(chars.count().max(1))),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    /// A nick beside an open id is shown as sent only when the platform hid at least half of
    /// it; a nick with a star somewhere is not thereby hidden.
    #[test]
    fn a_nick_is_shown_as_sent_only_when_mostly_hidden() {
        let nick = |n: &str| {
            super::ContactField::open_id("open-1")
                .unwrap()
                .with_masked(Some(n))
        };
        assert_eq!(nick("t**1").display_phone(), "t**1");
        assert_eq!(nick("jd_******").display_phone(), "jd_******");
        assert_eq!(nick("zhangsan*").display_phone(), "z********");
        assert_eq!(nick("zhangsan").display_phone(), "z*******");
        assert_eq!(nick("zhangsan*").display_name(), "z********");
        assert_eq!(nick("t**1").display_name(), "t**1");
        assert_eq!(
            super::ContactField::open_id("open-1")
                .unwrap()
                .display_name(),
            "*"
        );
    }

    #[test]
    fn a_masked_value_is_shown_masked_enough_and_printable() {
        let sent = super::ContactField::phone("13812345678*").unwrap();
        assert_eq!(sent.kind, super::ContactKind::Masked);
        let shown = sent.display_phone();
        assert!(
            shown.chars().filter(char::is_ascii_digit).count() <= 7,
            "{shown}"
        );
        let with_nul = super::ContactField::phone("138****\u{0}5678").unwrap();
        assert_eq!(with_nul.display_phone(), "138****5678");
        assert_eq!(
            super::ContactField::phone("138****5678")
                .unwrap()
                .display_phone(),
            "138****5678"
        );
        // A masked privacy number keeps its extension and its tail.
        let masked_virtual = super::ContactField {
            masked: Some("184****3965-7576".into()),
            ..super::ContactField::phone("$enc$").unwrap()
        };
        assert_eq!(masked_virtual.display_phone(), "184****3965-7576");
        // A prefix or a short "number" before a separator does not hide a full mobile.
        for sent in [
            "+86-13812345678*",
            "138-1234-5678*",
            "1381234*-5678",
            "13812345678*#1",
        ] {
            let shown = super::ContactField::phone(sent).unwrap().display_phone();
            let digits: String = shown.chars().filter(char::is_ascii_digit).collect();
            assert!(!digits.contains("13812345678"), "{sent} → {shown}");
            assert!(
                shown.chars().filter(|c| *c == '*').count() >= super::MIN_HIDDEN,
                "{sent} → {shown}"
            );
        }
        // Whatever places a platform's mask shows, only the first three and last four are shown.
        for (sent, shown) in [
            ("1387677****", "138********"),
            ("*******5678", "*******5678"),
            ("1387677****-7576", "138********-7576"),
            ("1387677****转", "138********转"),
            ("1387677****-", "138********-"),
        ] {
            assert_eq!(
                super::ContactField::phone(sent).unwrap().display_phone(),
                shown
            );
        }
        for kept in ["184****3965转7576", "184****3965#7576", "*******5678"] {
            let sent = super::ContactField::phone(kept).unwrap();
            assert_eq!(sent.display_phone(), kept);
        }
    }

    use chrono::TimeZone;

    use super::*;

    #[test]
    fn a_contact_is_never_shown_by_its_debug_form() {
        let phone = ContactField::phone("13812345678").unwrap();
        let receiver = crate::Receiver {
            name: ContactField::text("张三丰"),
            phone: Some(phone.clone()),
            region: "浙江省杭州市西湖区三墩镇".into(),
            oaid: Some("oaid-7QZ".into()),
            ..Default::default()
        };
        let buyer = crate::BuyerRef {
            open_id: Some("AAHx-open".into()),
            nick: Some("小明同学".into()),
        };
        let key = crate::buyer::IdentityKey::phone("13812345678").unwrap();
        let shown = format!("{phone:?} {receiver:?} {buyer:?} {key:?}");
        for private in ["1234", "张三", "西湖", "oaid-7QZ", "AAHx", "小明"] {
            assert!(!shown.contains(private), "{private}: {shown}");
        }
        assert!(shown.contains("<11 chars>"), "{shown}");
    }

    #[test]
    fn a_privacy_number_without_an_expiry_lapses_two_weeks_after_its_order() {
        let ordered = Utc.with_ymd_and_hms(2026, 10, 5, 2, 0, 0).unwrap();
        let assumed = ContactField::phone("17012349030-7841")
            .unwrap()
            .with_assumed_expiry(ordered);
        assert_eq!(assumed.kind, ContactKind::Virtual);
        assert_eq!(
            assumed.expires_at,
            Some(ordered + chrono::Duration::days(ASSUMED_PRIVACY_NUMBER_DAYS))
        );
        // What the platform said is kept; other kinds have no expiry.
        let said = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        let dated = ContactField {
            expires_at: Some(said),
            ..assumed.clone()
        };
        assert_eq!(dated.with_assumed_expiry(ordered).expires_at, Some(said));
        let mobile = ContactField::phone("13800000001").unwrap();
        assert_eq!(mobile.with_assumed_expiry(ordered).expires_at, None);
    }

    #[test]
    fn a_phone_of_any_length_hides_at_least_four_characters() {
        assert_eq!(mask_phone("13800000001"), "138****0001");
        assert_eq!(mask_phone("057188886666"), "057*****6666");
        assert_eq!(mask_phone("88886666"), "****6666");
        assert_eq!(mask_phone("8888666"), "****666");
        assert_eq!(mask_phone("12345"), "****5");
        assert_eq!(mask_phone("1234"), "****");
        for len in 1..=20 {
            let value: String = "9".repeat(len);
            let masked = mask_phone(&value);
            let hidden = masked.chars().filter(|c| *c == '*').count();
            assert!(hidden >= MIN_HIDDEN.min(len), "{value} → {masked}");
            assert_eq!(masked.chars().count(), len.max(1), "{value} → {masked}");
        }
    }

    #[test]
    fn phones_in_a_free_text_are_masked_and_nothing_else() {
        for (typed, stored) in [
            ("已联系13812345678，明天回电", "已联系138****5678，明天回电"),
            ("手机 138 1234 5678", "手机 138****5678"),
            (
                "138-1234-5678 / +86 13900001111",
                "138****5678 / +86 139****1111",
            ),
            ("008613900001111", "0086 139****1111"),
            ("座机010-62345678", "座机010****5678"),
            ("0086139000011112", "0086139000011112"),
            // A phone beside other numbers is found alone.
            ("电话13812345678 3次", "电话138****5678 3次"),
            ("2026-12-06 13812345678", "2026-12-06 138****5678"),
            ("13812345678-1", "138****5678-1"),
            ("06 13812345678", "06 138****5678"),
            ("手机１３８１２３４５６７８", "手机138****5678"),
        ] {
            assert_eq!(mask_phones_in(typed), stored, "{typed}");
        }
        for kept in [
            "2026-12-06 回访",
            "订单 2385123456789012 已退款",
            "金额 1999 元",
            "分机 8001",
            "",
        ] {
            assert!(
                matches!(mask_phones_in(kept), std::borrow::Cow::Borrowed(_)),
                "{kept}"
            );
        }
    }

    #[test]
    fn a_companion_or_a_nick_is_shown_masked() {
        let nick = ContactField::open_id("AAHx9")
            .unwrap()
            .with_masked(Some("jd_buyer01"));
        assert_eq!(nick.display_phone(), "j*********");
        let masked_nick = ContactField::open_id("AAHx9")
            .unwrap()
            .with_masked(Some("t**1"));
        assert_eq!(masked_nick.display_phone(), "t**1");
        let sealed = ContactField::phone("$zHXCmB7iB0T8$AgAAAAFYg4ABX2hUqQDAbXq4uO7j$0$$")
            .unwrap()
            .with_masked(Some("13800000001"));
        assert_eq!(sealed.display_phone(), "138****0001");
        assert_eq!(
            ContactField::open_id("AAHx9").unwrap().display_phone(),
            "******"
        );
    }

    #[test]
    fn classifies_what_platforms_send() {
        let kind = |v: &str| ContactField::phone(v).map(|c| c.kind);
        assert_eq!(kind("13800000001"), Some(ContactKind::Plain));
        assert_eq!(kind("*******5678"), Some(ContactKind::Masked));
        assert_eq!(kind("138****5678"), Some(ContactKind::Masked));
        assert_eq!(kind("18877771111-123"), Some(ContactKind::Virtual));
        assert_eq!(
            kind("$zHXCmB7iB0T8$AgAAAAFYg4ABX2hUqQDAbXq4uO7j$0$$"),
            Some(ContactKind::PlatformEncrypted)
        );
        assert_eq!(kind("#Kc8#abc#1##"), Some(ContactKind::PlatformEncrypted));
        assert_eq!(kind("0571-88886666"), Some(ContactKind::Plain));
        assert_eq!(kind("  "), None);
        let name = ContactField::text("~AgAAAAFYg4ABX2hUqQCr2kQXk2Pzh5e4eI6hwzs=~0~").unwrap();
        assert_eq!(name.kind, ContactKind::PlatformEncrypted);
    }

    #[test]
    fn display_never_shows_a_full_number_or_a_ciphertext() {
        let plain = ContactField::phone("13800000001").unwrap();
        assert_eq!(plain.display_phone(), "138****0001");
        let virt = ContactField::phone("18877771111-123").unwrap();
        assert_eq!(virt.display_phone(), "188****1111-123");
        let enc = ContactField::phone("$abc$def$0$$")
            .unwrap()
            .with_masked(Some("138****5678"));
        assert_eq!(enc.display_phone(), "138****5678");
        let enc_bare = ContactField::phone("$abc$def$0$$").unwrap();
        assert_eq!(enc_bare.display_phone(), "******");
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name("李"), "李*");
    }
}
