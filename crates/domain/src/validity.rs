//! `filterContactInfo` (design 4.5): whether a contact value can reach the buyer, and why.
//!
//! Every kind a platform sends gets a verdict with a machine code and a short Chinese reason.
//! Unreachable buyers are marked, never dropped.
//!
//! Plain numbers are checked against the mainland numbering plan (libphonenumber's metadata,
//! through the `phonenumber` crate): an 11-digit value that starts with `1` is a mobile only when
//! its prefix is allocated, and a landline needs a real area code and a subscriber number of the
//! right length for it.
//!
//! | kind | verdict | code |
//! |---|---|---|
//! | plain mainland mobile (`+86`, `0086`, `86` prefixes allowed) | `VALID` | `MOBILE_VALID` |
//! | plain mainland landline (`0571-88886666`, with an extension `…-801`, `…转801`) | `VALID` | `LANDLINE` |
//! | plain, valid in the plan but neither (400, 95 numbers) | `INVALID` | `NOT_PERSONAL_NUMBER` |
//! | plain, anything else (unallocated, too short, letters) | `INVALID` | `INVALID_NUMBER` |
//! | privacy number (`18877771111-123`, PDD `$13812345678$#1234#`) before `expires_at` | `VALID` | `VIRTUAL_NUMBER` |
//! | privacy number at or past `expires_at` | `EXPIRED` | `VIRTUAL_EXPIRED` |
//! | platform ciphertext | `NEEDS_DECRYPT` | `PLATFORM_ENCRYPTED` |
//! | masked, with the platform's decrypt handle on its order (Taobao `oaid`) | `NEEDS_DECRYPT` | `MASKED_DECRYPTABLE` |
//! | masked, no way to the full number | `MASKED` | `MASKED` |
//! | open id only | `PLATFORM_ONLY` | `PLATFORM_ONLY` |
//! | nothing at all ([`no_contact`]) | `INVALID` | `NO_CONTACT` |

use chrono::{DateTime, Utc};
use phonenumber::{PhoneNumber, Type};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::contact::{ContactField, ContactKind, split_virtual};
use crate::time::beijing;

/// The verdict on one contact value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Validity {
    /// A number that can be dialled as it is.
    Valid,
    /// The platform's ciphertext: reachable after the platform's decrypt API (reveal).
    NeedsDecrypt,
    /// Masked by the platform; only the platform can tell the full value.
    Masked,
    /// Only a platform buyer id: reachable through the platform's own messaging.
    PlatformOnly,
    /// A privacy number past its expiry.
    Expired,
    /// Not a usable number.
    Invalid,
}

impl Validity {
    pub fn as_str(self) -> &'static str {
        match self {
            Validity::Valid => "VALID",
            Validity::NeedsDecrypt => "NEEDS_DECRYPT",
            Validity::Masked => "MASKED",
            Validity::PlatformOnly => "PLATFORM_ONLY",
            Validity::Expired => "EXPIRED",
            Validity::Invalid => "INVALID",
        }
    }

    /// How reachable the buyer is, 0–1 (the score's reachability feature).
    pub fn reachability(self) -> f64 {
        match self {
            Validity::Valid => 1.0,
            Validity::NeedsDecrypt => 0.8,
            Validity::Masked => 0.4,
            Validity::PlatformOnly => 0.3,
            Validity::Expired => 0.2,
            Validity::Invalid => 0.0,
        }
    }

    /// Which of two contacts a salesperson should use: the more reachable one.
    pub fn rank(self) -> u8 {
        match self {
            Validity::Valid => 5,
            Validity::NeedsDecrypt => 4,
            Validity::Masked => 3,
            Validity::PlatformOnly => 2,
            Validity::Expired => 1,
            Validity::Invalid => 0,
        }
    }
}

/// A verdict with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactValidity {
    pub validity: Validity,
    /// Machine code, e.g. `MOBILE_VALID`, `VIRTUAL_EXPIRED`.
    pub code: String,
    /// A short Chinese sentence for sales staff.
    pub reason: String,
}

impl ContactValidity {
    fn new(validity: Validity, code: &str, reason: impl Into<String>) -> Self {
        ContactValidity {
            validity,
            code: code.to_owned(),
            reason: reason.into(),
        }
    }

    fn invalid_number() -> Self {
        ContactValidity::new(Validity::Invalid, "INVALID_NUMBER", "号码格式无效")
    }
}

/// Mainland China's country calling code.
const CN_CODE: u16 = 86;

/// What a mainland number is, per the numbering plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CnLine {
    Mobile,
    Landline,
    /// Valid, but not a person's line: 400/800 numbers, 95 numbers, VoIP and the like.
    Service,
}

/// A mainland value reduced to `+86` and its national significant number.
#[derive(Debug)]
struct CnDigits {
    e164: String,
    /// Written with `+86`, `0086` or `86`, or with the trunk `0`: a landline needs one of
    /// these, since a bare `10012345678` is a mistyped mobile, not Beijing.
    prefixed: bool,
}

/// Reduces a mainland value to `+86` and its national significant number, or `None` when
/// `value` holds anything but digits and separators.
///
/// Accepts `+86`, `0086` and (before an 11-digit mobile) `86` prefixes, the trunk `0` of a
/// landline, spaces, dashes and parentheses. Letters are refused here, because the parser
/// would otherwise read them as a vanity number's keypad digits.
fn cn_digits(value: &str) -> Option<CnDigits> {
    let compact: String = value
        .chars()
        .map(half_width)
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '\u{3000}'))
        .collect();
    let (national, prefixed) = if let Some(rest) = compact
        .strip_prefix("+86")
        .or_else(|| compact.strip_prefix("0086"))
    {
        // `+86 0571 …` is a common slip: a national number never starts with the trunk 0.
        (rest.strip_prefix('0').unwrap_or(rest), true)
    } else if let Some(rest) = compact
        .strip_prefix("86")
        .filter(|rest| rest.len() == 11 && rest.starts_with('1'))
    {
        (rest, true)
    } else if let Some(rest) = compact.strip_prefix('0') {
        (rest, true)
    } else {
        (compact.as_str(), false)
    };
    let digits = !national.is_empty() && national.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| CnDigits {
        e164: format!("+86{national}"),
        prefixed,
    })
}

/// `text` with its full-width digits, plus signs, hyphens and parentheses (what a Chinese input
/// method types: `１３８…`) as their ASCII forms.
pub fn to_half_width(text: &str) -> String {
    text.chars().map(half_width).collect()
}

/// A full-width digit, plus sign, hyphen or parenthesis as its ASCII form; anything else as it is.
fn half_width(c: char) -> char {
    match c {
        '\u{FF10}'..='\u{FF19}' | '\u{FF0B}' | '\u{FF0D}' | '\u{FF08}' | '\u{FF09}' => {
            char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)
        }
        c => c,
    }
}

/// Parses and checks a mainland number against the numbering plan.
fn cn_number(value: &str) -> Option<(PhoneNumber, CnLine)> {
    let digits = cn_digits(value)?;
    let number = phonenumber::parse(None, &digits.e164).ok()?;
    if number.code().value() != CN_CODE || number.extension().is_some() || !number.is_valid() {
        return None;
    }
    let line = match number.number_type(&phonenumber::metadata::DATABASE) {
        Type::Mobile => CnLine::Mobile,
        Type::FixedLine => CnLine::Landline,
        Type::FixedLineOrMobile => {
            if number.national().value() / 10_000_000_000 == 1 {
                CnLine::Mobile
            } else {
                CnLine::Landline
            }
        }
        Type::TollFree
        | Type::PremiumRate
        | Type::SharedCost
        | Type::PersonalNumber
        | Type::Voip
        | Type::Pager
        | Type::Uan
        | Type::Emergency
        | Type::Voicemail
        | Type::ShortCode
        | Type::StandardRate
        | Type::Carrier
        | Type::NoInternational
        | Type::Unknown => CnLine::Service,
    };
    if line == CnLine::Landline && !digits.prefixed {
        return None;
    }
    Some((number, line))
}

/// `+86` and the 11 digits of a mainland mobile, or `None` when `value` is not one.
///
/// The number must be allocated to mobiles in the numbering plan; `+86`, `0086` and `86`
/// prefixes, spaces and dashes are accepted.
pub fn normalize_mainland_mobile(value: &str) -> Option<String> {
    match cn_number(value)? {
        (number, CnLine::Mobile) => Some(format!("+86{}", number.national().value())),
        (_, CnLine::Landline | CnLine::Service) => None,
    }
}

/// A privacy number's main number and extension: `18877771111-123`, or PDD's decrypted form
/// `$13812345678$#1234#` (main may also be a 95 number there).
fn virtual_parts(value: &str) -> Option<(&str, &str)> {
    if let Some(parts) = split_virtual(value) {
        return Some(parts);
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (main, ext) = match value.strip_prefix('$') {
        Some(rest) => {
            let (main, ext) = rest.split_once("$#")?;
            (main, ext.strip_suffix('#')?)
        }
        None => value.split_once('-')?,
    };
    (digits(main) && digits(ext) && ext.len() <= 8).then_some((main, ext))
}

/// Whether `value` is PDD's decrypted privacy form, `$<main>$#<ext>#`.
fn is_pdd_decrypted_virtual(value: &str) -> bool {
    value.starts_with('$') && value.ends_with('#') && virtual_parts(value).is_some()
}

/// Beijing wall-clock time to the minute, `2026-12-03 10:00`.
fn beijing_minute(t: DateTime<Utc>) -> String {
    t.with_timezone(&beijing())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// The verdict on a privacy number: its main number must be in the plan, and it forwards
/// until `expires_at` (exclusive) when the platform said when.
fn virtual_verdict(
    value: &str,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> ContactValidity {
    let Some((main, _ext)) = virtual_parts(value) else {
        return ContactValidity::invalid_number();
    };
    if cn_number(main).is_none() {
        return ContactValidity::invalid_number();
    }
    match expires_at {
        Some(at) if now >= at => {
            ContactValidity::new(Validity::Expired, "VIRTUAL_EXPIRED", "隐私号已过期")
        }
        Some(at) => ContactValidity::new(
            Validity::Valid,
            "VIRTUAL_NUMBER",
            format!("隐私号，需拨分机号，有效期至{}", beijing_minute(at)),
        ),
        None => ContactValidity::new(Validity::Valid, "VIRTUAL_NUMBER", "隐私号，需拨分机号"),
    }
}

/// The verdict on a plain value.
fn plain_verdict(contact: &ContactField, now: DateTime<Utc>) -> ContactValidity {
    if is_pdd_decrypted_virtual(&contact.value) {
        return virtual_verdict(&contact.value, contact.expires_at, now);
    }
    match cn_number(&contact.value) {
        Some((_, CnLine::Mobile)) => {
            ContactValidity::new(Validity::Valid, "MOBILE_VALID", "手机号有效")
        }
        Some((_, CnLine::Landline)) => {
            ContactValidity::new(Validity::Valid, "LANDLINE", "固定电话")
        }
        Some((_, CnLine::Service)) => ContactValidity::new(
            Validity::Invalid,
            "NOT_PERSONAL_NUMBER",
            "非手机或固定电话（如400、95号码）",
        ),
        None => match landline_extension(&contact.value) {
            Some(extension) => ContactValidity::new(
                Validity::Valid,
                "LANDLINE",
                format!("固定电话，分机{extension}"),
            ),
            None => ContactValidity::invalid_number(),
        },
    }
}

/// The separators a landline's extension is written after: `0571-88886666-801`,
/// `…转801`, `…分机801`, `…#801`, `… ext. 801` (full-width forms read as ASCII first).
pub const EXTENSION_SEPARATORS: [&str; 7] = ["转", "分机", "#", "ext.", "ext", "EXT", "-"];

/// The extension of a landline written with one ([`EXTENSION_SEPARATORS`], 1 to 6 digits
/// after a valid mainland landline); `None` for anything else (a mobile takes no extension).
pub fn landline_extension(value: &str) -> Option<String> {
    let value = to_half_width(value.trim());
    EXTENSION_SEPARATORS.iter().find_map(|sep| {
        let (line, extension) = value.rsplit_once(sep)?;
        let extension = extension.trim();
        let digits =
            (1..=6).contains(&extension.len()) && extension.bytes().all(|b| b.is_ascii_digit());
        (digits && matches!(cn_number(line), Some((_, CnLine::Landline))))
            .then(|| extension.to_owned())
    })
}

/// `filterContactInfo`: the verdict on one contact value at `now`.
pub fn filter_contact_info(contact: &ContactField, now: DateTime<Utc>) -> ContactValidity {
    match contact.kind {
        ContactKind::Plain => plain_verdict(contact, now),
        ContactKind::Virtual => virtual_verdict(&contact.value, contact.expires_at, now),
        ContactKind::PlatformEncrypted => ContactValidity::new(
            Validity::NeedsDecrypt,
            "PLATFORM_ENCRYPTED",
            "号码已加密，点击“查看号码”后可拨打",
        ),
        ContactKind::Masked if contact.decryptable => ContactValidity::new(
            Validity::NeedsDecrypt,
            "MASKED_DECRYPTABLE",
            "号码已隐藏部分数字，点击“查看号码”后可拨打",
        ),
        ContactKind::Masked => ContactValidity::new(
            Validity::Masked,
            "MASKED",
            "号码已隐藏部分数字，无法查看完整号码",
        ),
        ContactKind::OpenId => ContactValidity::new(
            Validity::PlatformOnly,
            "PLATFORM_ONLY",
            "无电话，仅可通过平台消息联系",
        ),
    }
}

/// The verdict for a buyer with no contact at all.
pub fn no_contact() -> ContactValidity {
    ContactValidity::new(Validity::Invalid, "NO_CONTACT", "无任何联系方式")
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
    }

    fn verdict_of(contact: &ContactField) -> (Validity, String) {
        let v = filter_contact_info(contact, now());
        (v.validity, v.code)
    }

    fn phone(value: &str) -> (Validity, String) {
        verdict_of(&ContactField::phone(value).unwrap())
    }

    fn valid(code: &str) -> (Validity, String) {
        (Validity::Valid, code.to_owned())
    }

    fn invalid() -> (Validity, String) {
        (Validity::Invalid, "INVALID_NUMBER".to_owned())
    }

    #[test]
    fn mobiles_in_the_plan_are_valid_with_or_without_the_country_code() {
        for (value, e164) in [
            ("13812345678", "+8613812345678"),
            ("+8613812345678", "+8613812345678"),
            ("+86 138 1234 5678", "+8613812345678"),
            ("0086-138-1234-5678", "+8613812345678"),
            ("8613812345678", "+8613812345678"),
            ("19912345678", "+8619912345678"),
            ("17012345678", "+8617012345678"),
        ] {
            assert_eq!(phone(value), valid("MOBILE_VALID"), "{value}");
            assert_eq!(
                normalize_mainland_mobile(value).as_deref(),
                Some(e164),
                "{value}"
            );
        }
        // Typed with a Chinese input method's full-width digits.
        for value in [
            "１３８１２３４５６７８",
            "＋８６ １３８－１２３４－５６７８",
        ] {
            assert_eq!(
                normalize_mainland_mobile(value).as_deref(),
                Some("+8613812345678"),
                "{value}"
            );
        }
        let v = filter_contact_info(&ContactField::phone("13812345678").unwrap(), now());
        assert_eq!(v.reason, "手机号有效");
    }

    #[test]
    fn landlines_are_valid_but_are_not_mobiles() {
        for value in [
            "0571-88886666",
            "010-12345678",
            "020 8888 6666",
            "+86 571 8888 6666",
        ] {
            assert_eq!(phone(value), valid("LANDLINE"), "{value}");
            assert_eq!(normalize_mainland_mobile(value), None, "{value}");
        }
        let v = filter_contact_info(&ContactField::phone("0571-88886666").unwrap(), now());
        assert_eq!(v.reason, "固定电话");
    }

    /// A landline written with its extension is dialable: valid, the extension in the reason.
    /// A mobile takes none, and an extension after anything but a landline is no number.
    #[test]
    fn a_landline_with_its_extension_is_valid() {
        for value in [
            "0571-88886666-801",
            "0571-88886666转801",
            "0571 8888 6666 分机 801",
            "010-12345678#801",
            "+86 571 8888 6666 ext. 801",
            "０５７１－８８８８６６６６－８０１",
        ] {
            let contact = ContactField {
                kind: ContactKind::Plain,
                value: value.into(),
                masked: None,
                expires_at: None,
                decryptable: false,
            };
            let v = filter_contact_info(&contact, now());
            assert_eq!(
                (v.validity, v.code.as_str()),
                (Validity::Valid, "LANDLINE"),
                "{value}"
            );
            assert_eq!(v.reason, "固定电话，分机801", "{value}");
        }
        for value in [
            "13812345678转801",
            "0571-88886666-1234567",
            "400-800-8888转1",
            "转801",
        ] {
            assert_eq!(landline_extension(value), None, "{value}");
        }
    }

    #[test]
    fn mobile_lookalikes_outside_the_plan_are_invalid() {
        // `10012345678` would be Beijing with a trunk 0; bare, it is a mistyped mobile.
        for value in ["12000000000", "11012345678", "10012345678", "88886666"] {
            assert_eq!(phone(value), invalid(), "{value}");
            assert_eq!(normalize_mainland_mobile(value), None, "{value}");
        }
        let v = filter_contact_info(&ContactField::phone("12000000000").unwrap(), now());
        assert_eq!(v.reason, "号码格式无效");
    }

    #[test]
    fn short_long_and_lettered_values_are_invalid() {
        for value in [
            "1381234567",
            "138123456789",
            "12345",
            "1",
            "138abcd5678",
            "phone",
            "张三",
            "138-1234-567x",
            "+1 650 253 0000",
        ] {
            assert_eq!(phone(value), invalid(), "{value}");
            assert_eq!(normalize_mainland_mobile(value), None, "{value}");
        }
    }

    #[test]
    fn service_numbers_are_not_a_buyer_line() {
        assert_eq!(
            phone("400-123-4567"),
            (Validity::Invalid, "NOT_PERSONAL_NUMBER".to_owned())
        );
    }

    #[test]
    fn privacy_numbers_are_valid_until_they_expire() {
        let mut virt = ContactField::phone("18877771111-123").unwrap();
        assert_eq!(virt.kind, ContactKind::Virtual);
        let v = filter_contact_info(&virt, now());
        assert_eq!(v.validity, Validity::Valid);
        assert_eq!(v.code, "VIRTUAL_NUMBER");
        assert_eq!(v.reason, "隐私号，需拨分机号");

        // 02:00 UTC is 10:00 in Beijing.
        virt.expires_at = Some(Utc.with_ymd_and_hms(2026, 12, 3, 2, 0, 0).unwrap());
        let v = filter_contact_info(&virt, now());
        assert_eq!(v.validity, Validity::Valid);
        assert_eq!(v.code, "VIRTUAL_NUMBER");
        assert_eq!(v.reason, "隐私号，需拨分机号，有效期至2026-12-03 10:00");

        virt.expires_at = Some(now() - chrono::Duration::minutes(1));
        let v = filter_contact_info(&virt, now());
        assert_eq!(v.validity, Validity::Expired);
        assert_eq!(v.code, "VIRTUAL_EXPIRED");
        assert_eq!(v.reason, "隐私号已过期");

        virt.expires_at = Some(now());
        assert_eq!(
            verdict_of(&virt).0,
            Validity::Expired,
            "expiry is exclusive"
        );
    }

    #[test]
    fn privacy_numbers_need_a_main_number_in_the_plan() {
        let virt = ContactField::phone("12000000000-123").unwrap();
        assert_eq!(virt.kind, ContactKind::Virtual);
        assert_eq!(verdict_of(&virt), invalid());
    }

    #[test]
    fn pdd_decrypted_privacy_form_is_a_privacy_number() {
        let pdd = ContactField::phone("$13812345678$#1234#").unwrap();
        assert_eq!(verdict_of(&pdd), valid("VIRTUAL_NUMBER"));
        let expired = ContactField {
            expires_at: Some(now() - chrono::Duration::hours(1)),
            ..pdd
        };
        assert_eq!(
            verdict_of(&expired),
            (Validity::Expired, "VIRTUAL_EXPIRED".to_owned())
        );
        // As the PDD adapter stores it: kind Virtual, `main-ext`.
        let stored = ContactField {
            kind: ContactKind::Virtual,
            value: "13812345678-1234".to_owned(),
            masked: None,
            expires_at: None,
            decryptable: false,
        };
        assert_eq!(verdict_of(&stored), valid("VIRTUAL_NUMBER"));
    }

    #[test]
    fn masked_ciphertext_and_open_ids_keep_their_verdicts() {
        let masked = filter_contact_info(&ContactField::phone("138****5678").unwrap(), now());
        assert_eq!(masked.validity, Validity::Masked);
        assert_eq!(masked.code, "MASKED");
        assert_eq!(masked.reason, "号码已隐藏部分数字，无法查看完整号码");
        // With the order's decrypt handle (Taobao's oaid), a reveal gets the full number.
        let receiver = crate::Receiver {
            phone: ContactField::phone("*******5678"),
            oaid: Some("1TQfv6Y8pZ9kxqdfoZ7".to_owned()),
            ..crate::Receiver::default()
        };
        let decryptable = filter_contact_info(&receiver.phone_contact().unwrap(), now());
        assert_eq!(decryptable.validity, Validity::NeedsDecrypt);
        assert_eq!(decryptable.code, "MASKED_DECRYPTABLE");
        assert_eq!(
            decryptable.reason,
            "号码已隐藏部分数字，点击“查看号码”后可拨打"
        );
        let without = crate::Receiver {
            oaid: None,
            ..receiver
        };
        assert_eq!(
            filter_contact_info(&without.phone_contact().unwrap(), now()).validity,
            Validity::Masked
        );

        let cipher = ContactField::phone("$zHXCmB7iB0T8$AgAAAAFYg4ABX2hUqQDAbXq4uO7j$0$$")
            .unwrap()
            .with_masked(Some("138****5678"));
        let cipher = filter_contact_info(&cipher, now());
        assert_eq!(cipher.validity, Validity::NeedsDecrypt);
        assert_eq!(cipher.code, "PLATFORM_ENCRYPTED");
        assert_eq!(cipher.reason, "号码已加密，点击“查看号码”后可拨打");

        let open = filter_contact_info(&ContactField::open_id("AAHxyz-open-uid").unwrap(), now());
        assert_eq!(open.validity, Validity::PlatformOnly);
        assert_eq!(open.code, "PLATFORM_ONLY");
        assert_eq!(open.reason, "无电话，仅可通过平台消息联系");

        let none = no_contact();
        assert_eq!(none.validity, Validity::Invalid);
        assert_eq!(none.code, "NO_CONTACT");
    }

    #[test]
    fn verdicts_serialize_in_camel_case_and_expiry_is_optional() {
        let json = serde_json::to_value(filter_contact_info(
            &ContactField::phone("13812345678").unwrap(),
            now(),
        ))
        .unwrap();
        assert_eq!(json["validity"], "VALID");
        assert_eq!(json["code"], "MOBILE_VALID");

        let plain = serde_json::to_value(ContactField::phone("13812345678").unwrap()).unwrap();
        assert!(plain.get("expiresAt").is_none());
        let mut virt = ContactField::phone("18877771111-123").unwrap();
        virt.expires_at = Some(Utc.with_ymd_and_hms(2026, 12, 3, 2, 0, 0).unwrap());
        let json = serde_json::to_value(&virt).unwrap();
        assert_eq!(json["expiresAt"], "2026-12-03T02:00:00Z");
        let back: ContactField = serde_json::from_value(json).unwrap();
        assert_eq!(back, virt);
    }
}
