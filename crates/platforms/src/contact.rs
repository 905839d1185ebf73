//! Classifying the receiver values an order listing sends where no platform source fixes their
//! shape (JD's `consigneeInfo`, Taobao's `receiver_*`, and the plain fields PDD, Douyin and
//! Kuaishou send beside or instead of their ciphertexts): ciphertexts, placeholders
//! (`<encrypted>`), masks and privacy numbers all arrive in the same fields. Only a value that
//! reads as what it claims to be is [`ContactKind::Plain`]: a phone that parses as a phone
//! number, a name or address written in the buyer's characters. Anything unrecognised is opaque
//! ([`ContactKind::PlatformEncrypted`]): read as plain it would be stored and shown as the
//! buyer's contact, and the reveal through the platform's decrypt API would be refused as
//! needless.

use leadgen_domain::{ContactField, ContactKind, validity};

/// Whether `value` is written as a phone number: an optional leading `+`, then digits with the
/// usual separators (`-`, spaces, parentheses), 7 to 20 digits in all (`88886666`,
/// `0571-88886666`, `13812345678`, `+86 138 1234 5678`), full-width forms as their ASCII ones
/// (`１３８１２３４５６７８`, as a Chinese input method types them), or a landline with its
/// extension (`0571-88886666转801`, [`validity::landline_extension`]).
pub fn is_phone_number(value: &str) -> bool {
    if validity::landline_extension(value).is_some() {
        return true;
    }
    let value = validity::to_half_width(value.trim());
    let body = value.strip_prefix('+').unwrap_or(&value);
    let digits = body.bytes().filter(u8::is_ascii_digit).count();
    (7..=20).contains(&digits)
        && body.starts_with(|c: char| c.is_ascii_digit() || c == '(')
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b' ' | b'(' | b')'))
}

/// Whether `value` reads as a name or an address as a buyer writes one: it has characters
/// beyond ASCII (Chinese), and is no `<…>` placeholder. ASCII-only runs (Base64, Base64url,
/// hex, `<encrypted>`) are what ciphertexts and placeholders look like.
fn is_written_text(value: &str) -> bool {
    let value = value.trim();
    let placeholder = value.starts_with('<') && value.ends_with('>');
    !placeholder && !value.is_ascii()
}

/// A receiver phone from an order listing: masked, a privacy number, the platforms' delimited
/// ciphertexts ([`ContactField::phone`]), a phone number in clear ([`is_phone_number`]), and
/// anything else opaque. `None` when empty.
pub fn listed_phone(value: &str) -> Option<ContactField> {
    let mut field = ContactField::phone(value)?;
    if field.kind == ContactKind::Plain {
        if is_phone_number(&field.value) {
            // Kept in ASCII digits, as it is shown and searched (`１３８…` is `138…`).
            field.value = validity::to_half_width(&field.value);
        } else {
            field.kind = ContactKind::PlatformEncrypted;
        }
    }
    Some(field)
}

/// A receiver name or address from an order listing: masked or a delimited ciphertext
/// ([`ContactField::text`]), written text in clear, and anything else opaque. `None` when
/// empty.
pub fn listed_text(value: &str) -> Option<ContactField> {
    let mut field = ContactField::text(value)?;
    if field.kind == ContactKind::Plain && !is_written_text(&field.value) {
        field.kind = ContactKind::PlatformEncrypted;
    }
    Some(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone_kind(value: &str) -> Option<ContactKind> {
        listed_phone(value).map(|f| f.kind)
    }

    fn text_kind(value: &str) -> Option<ContactKind> {
        listed_text(value).map(|f| f.kind)
    }

    #[test]
    fn only_a_phone_number_is_a_plain_phone() {
        for plain in [
            "13812345678",
            " 13812345678 ",
            "0571-88886666",
            "88886666",
            "+86 138 1234 5678",
            "(0571) 8888 6666",
            "１３８１２３４５６７８",
            "0571-88886666转801",
            "010-12345678#801",
        ] {
            assert_eq!(phone_kind(plain), Some(ContactKind::Plain), "{plain}");
        }
        assert_eq!(phone_kind("138****5678"), Some(ContactKind::Masked));
        assert_eq!(phone_kind("*******5678"), Some(ContactKind::Masked));
        assert_eq!(phone_kind("18877771111-123"), Some(ContactKind::Virtual));
        for opaque in [
            "<encrypted>",
            "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e",
            "AQIDBAUGBwgJ-_",
            "QUJD==",
            "~AgAAAAFYg4ABX2hUqQCr2kQXk2Pzh5e4eI6hwzs=~0~",
            "$zHXCmB7iB0T8$AgAAAAFYg4ABX2hUqQDAbXq4uO7j$0$$",
            "abc",
            "123456",
            "123456789012345678901234",
            "138 1234 5678 转 12",
        ] {
            assert_eq!(
                phone_kind(opaque),
                Some(ContactKind::PlatformEncrypted),
                "{opaque}"
            );
        }
        assert_eq!(phone_kind("  "), None);
        assert_eq!(
            listed_phone("１３８１２３４５６７８").unwrap().value,
            "13812345678",
            "kept in ASCII digits"
        );
    }

    #[test]
    fn only_written_text_is_a_plain_name_or_address() {
        assert_eq!(text_kind("张三"), Some(ContactKind::Plain));
        assert_eq!(
            text_kind("浙江省杭州市西湖区 1 号"),
            Some(ContactKind::Plain)
        );
        assert_eq!(text_kind("张*"), Some(ContactKind::Masked));
        assert_eq!(text_kind("**********"), Some(ContactKind::Masked));
        for opaque in [
            "<encrypted>",
            "<已加密>",
            "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e",
            "AQIDBAUGBwgJ-_",
            "~AgAAAAFYg4ABX2hUqQBv6mY2~0~",
        ] {
            assert_eq!(
                text_kind(opaque),
                Some(ContactKind::PlatformEncrypted),
                "{opaque}"
            );
        }
        assert_eq!(text_kind(""), None);
    }
}
