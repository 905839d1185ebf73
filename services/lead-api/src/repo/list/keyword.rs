//! How a statement asks for a contact keyword `k` (`contactInfo` below a full mobile):
//! `contact_masked LIKE '%k%'`, split into disjoint questions that each have an index, so that a
//! common search reads index entries and no heap page per match (`docs/lead-list.md`):
//!
//! - **prefix**: k starts the mask, `contact_masked LIKE 'k%'` (`ix_lead_list_contact_prefix`,
//!   migration 28);
//! - **a mobile mask's tail**: k occurs after the first character of a mask shaped like a
//!   mobile's (`138****5678`, `*******5678`: [`MOBILE_MASK`]). There a keyword of digits can
//!   only stand in the four tail digits, so the tails that can hold it are listed
//!   ([`mobile_tails`]) and looked up in `ix_lead_list_contact_tail`, a btree on the tail that
//!   covers every sort and filter column (migration 50); one with stars that fits in the head
//!   and the stars (`8**`) reads the tenant's whole tail index, still index-only;
//! - **any other mask** (a privacy number with its extension, a landline, `******`, a name): k
//!   occurs after the first character, through the trigram index on the rest of those masks,
//!   `ix_lead_list_contact_other` (migration 50).
//!
//! A keyword shorter than a trigram, or one inside a statement that reads another index, is
//! tested on the entries that index passes ([`Keyword::Tested`]).

use std::collections::BTreeSet;

use super::sql::{Bind, Statement};

/// The shape of a mobile's mask, as the partial indexes of migration 50 write it (the SQL
/// must repeat it as a constant for the planner to use them): three characters that are digits
/// or stars, four stars, four digits. `mask_phone` writes a mobile this way, and the
/// platforms' own masks mostly are.
pub(super) const MOBILE_MASK: &str = r"^[0-9*]{3}\*{4}[0-9]{4}$";

/// At most this many tails are looked up one by one; a keyword that more tails could hold
/// (`**5`: a thousand) reads the tenant's whole tail index instead.
const MAX_TAILS: usize = 100;

/// How one statement, or one branch of it, tests the keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Keyword {
    /// `(contact_masked || '') LIKE '%k%'`, on the entries an index scan passes: out of the
    /// contact indexes' reach, and costed above the one-operator filters so that it is tested
    /// last, on the entries the shop, status, time and tags let through. (Written plainly it was
    /// tested first: the planner moves the equalities behind it. For `every filter` at page 20
    /// that was 64,000 `LIKE`s instead of 17,000: 13–16 ms instead of 8.)
    Tested,
    /// `contact_masked LIKE 'k%'`: k starts the mask.
    Prefix,
    /// k occurs after the first character of a mobile's mask, so in its tail.
    MobileTail,
    /// k occurs after the first character of any other mask.
    OtherInner,
}

/// The disjoint branches that together find every mask containing `k` (three or more
/// characters): no mobile's mask can hold a keyword such as `张三丰` or `12345` after its first
/// character, so those skip the tail.
pub(super) fn branches(k: &str) -> Vec<Keyword> {
    let mut all = vec![Keyword::Prefix];
    if mobile_tails(k) != Tails::Never {
        all.push(Keyword::MobileTail);
    }
    all.push(Keyword::OtherInner);
    all
}

/// ` AND <condition>` testing keyword `k` the way `keyword` says.
pub(super) fn push(s: &mut Statement, k: &str, keyword: Keyword) {
    let escaped = leadgen_db::escape_like(k);
    let anywhere = Bind::Text(format!("%{escaped}%"));
    let prefix = || Bind::Text(format!("{escaped}%"));
    match keyword {
        Keyword::Tested => {
            s.push(" AND (contact_masked || '') LIKE ").bind(anywhere);
        }
        Keyword::Prefix => {
            s.push(" AND contact_masked LIKE ").bind(prefix());
        }
        Keyword::MobileTail => {
            s.push(&format!(" AND contact_masked ~ '{MOBILE_MASK}'"));
            if let Tails::Among(tails) = mobile_tails(k) {
                s.push(" AND right(contact_masked, 4) = ANY(")
                    .bind(Bind::Texts(tails))
                    .push(")");
            }
            s.push(" AND substr(contact_masked, 2) LIKE ")
                .bind(anywhere)
                .push(" AND NOT contact_masked LIKE ")
                .bind(prefix());
        }
        Keyword::OtherInner => {
            s.push(&format!(" AND NOT contact_masked ~ '{MOBILE_MASK}'"))
                .push(" AND substr(contact_masked, 2) LIKE ")
                .bind(anywhere)
                .push(" AND NOT contact_masked LIKE ")
                .bind(prefix());
        }
    }
}

/// Which tails of a mobile's mask can hold `k` after the mask's first character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Tails {
    /// None can: k does not fit the mask's shape anywhere after its first character.
    Never,
    /// Only these (each four digits); the keyword is still tested on each entry, since its
    /// head may have to match too (`38****5678`).
    Among(Vec<String>),
    /// Any, or more than [`MAX_TAILS`] to list: k fits inside the head and the stars (`8**`),
    /// or sets only one tail digit (`**5`: a thousand tails).
    Any,
}

/// The tails that can hold `k` at some position after the first character of a mask shaped
/// as [`MOBILE_MASK`]: positions 0–2 hold a digit or a star, 3–6 a star, 7–10 a digit.
pub(super) fn mobile_tails(k: &str) -> Tails {
    let k: Vec<char> = k.chars().collect();
    let fits = |at: usize, c: char| match at {
        0..=2 => c.is_ascii_digit() || c == '*',
        3..=6 => c == '*',
        _ => c.is_ascii_digit(),
    };
    let mut tails = BTreeSet::new();
    for start in 1..=11_usize.saturating_sub(k.len()) {
        if !k.iter().enumerate().all(|(i, &c)| fits(start + i, c)) {
            continue;
        }
        if start + k.len() <= 7 {
            return Tails::Any;
        }
        // Each tail digit k sets, or every digit where it sets none.
        let mut partial = vec![String::new()];
        for at in 7..11_usize {
            let choices: Vec<char> = match at.checked_sub(start).and_then(|i| k.get(i)) {
                Some(&c) => vec![c],
                None => ('0'..='9').collect(),
            };
            partial = partial
                .iter()
                .flat_map(|p| choices.iter().map(move |c| format!("{p}{c}")))
                .collect();
        }
        tails.extend(partial);
        if tails.len() > MAX_TAILS {
            return Tails::Any;
        }
    }
    if tails.is_empty() {
        Tails::Never
    } else {
        Tails::Among(tails.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn among(tails: &[&str]) -> Tails {
        let mut all: Vec<String> = tails.iter().map(|t| (*t).to_owned()).collect();
        all.sort();
        Tails::Among(all)
    }

    #[test]
    fn a_mobile_masks_tails_that_can_hold_a_keyword_are_listed() {
        // Three digits: the tail's first three or its last three.
        let Tails::Among(tails) = mobile_tails("138") else {
            panic!("138 fits the tail");
        };
        assert_eq!(tails.len(), 20);
        assert!(tails.contains(&"1385".to_owned()) && tails.contains(&"0138".to_owned()));
        assert_eq!(mobile_tails("5678"), among(&["5678"]));
        // Across the stars: the tail is set, the head still has to be tested.
        assert_eq!(mobile_tails("****5678"), among(&["5678"]));
        assert_eq!(mobile_tails("38****5678"), among(&["5678"]));
        let Tails::Among(two) = mobile_tails("*56") else {
            panic!("*56 sets two tail digits");
        };
        assert_eq!(two.len(), 100);
        assert!(two.iter().all(|t| t.starts_with("56")));
        // In the head and the stars, or too loose to list.
        assert_eq!(mobile_tails("8**"), Tails::Any);
        assert_eq!(mobile_tails("***"), Tails::Any);
        assert_eq!(mobile_tails("**5"), Tails::Any);
        assert_eq!(mobile_tails("13*"), Tails::Any);
        // Nowhere after the first character of such a mask.
        for never in ["12345", "张三", "1_8", "138****5678", "5678-1"] {
            assert_eq!(mobile_tails(never), Tails::Never, "{never}");
        }
    }

    #[test]
    fn the_partial_indexes_hold_the_shape_the_statements_write() {
        let migration = include_str!(
            "../../../../../crates/db/migrations/2026-12-06-000050_lead_contact_tail/up.sql"
        );
        let shape = format!("contact_masked ~ '{MOBILE_MASK}'");
        assert_eq!(migration.matches(&shape).count(), 2, "{migration}");
        // The tail index holds the shape, the trigram index the rest.
        assert_eq!(
            migration.matches(&format!("AND NOT {shape}")).count(),
            1,
            "{migration}"
        );
    }

    #[test]
    fn the_branches_skip_the_tail_where_no_mobile_mask_can_hold_the_keyword() {
        assert_eq!(
            branches("138"),
            [Keyword::Prefix, Keyword::MobileTail, Keyword::OtherInner]
        );
        assert_eq!(branches("张三丰"), [Keyword::Prefix, Keyword::OtherInner]);
    }
}
