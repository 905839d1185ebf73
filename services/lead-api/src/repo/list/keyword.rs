//! How a statement asks for a contact keyword `k` (`contactInfo` below a full mobile):
//! `contact_masked LIKE '%k%'`, split into disjoint questions that each have an index, so that a
//! common search reads index entries and no heap page per match (`docs/lead-list.md`):
//!
//! - **prefix**: k starts the mask, `contact_masked LIKE 'k%'` (`ix_lead_list_contact_prefix`,
//!   migration 28);
//! - **a mobile's mask**: k occurs after the first character of a mask shaped like a mobile's
//!   (`138****5678`, `*******5678`: [`MOBILE_MASK`]), asked one of two ways ([`mobile_fit`]):
//!   - a keyword that reaches the four tail digits (`138`, `****5678`): the tails that can hold
//!     it are listed and looked up in `ix_lead_list_contact_tail`, a btree on the tail that
//!     covers every sort and filter column (migration 50);
//!   - a keyword with stars that stands from the mask's second character in its head and stars
//!     only (`38****`, `13*`): the eleven heads that can hold it, as ranges of the prefix index;
//!
//!   one that could stand from the third character (`8**`: a tenth of the masks, or all of
//!   them) or that more than [`MAX_TAILS`] tails could hold (`**5`) reads the tenant's whole
//!   tail index, still index-only;
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Keyword {
    /// `(contact_masked || '') LIKE '%k%'`, on the entries an index scan passes: out of the
    /// contact indexes' reach, and costed above the one-operator filters so that it is tested
    /// last, on the entries the shop, status, time and tags let through. (Written plainly it was
    /// tested first: the planner moves the equalities behind it. For `every filter` at page 20
    /// that was 64,000 `LIKE`s instead of 17,000: 13–16 ms instead of 8.)
    Tested,
    /// `contact_masked LIKE 'k%'`: k starts the mask.
    Prefix,
    /// k occurs after the first character of a mobile's mask, where [`mobile_fit`] says it
    /// can (never [`Fit::Never`]: that question is not asked).
    Mobile(Fit),
    /// k occurs after the first character of any other mask.
    OtherInner,
}

/// The disjoint branches that together find every mask containing `k` (three or more
/// characters): no mobile's mask can hold a keyword such as `张三丰` or `12345` after its first
/// character, so those skip the tail.
pub(super) fn branches(k: &str) -> Vec<Keyword> {
    let mut all = vec![Keyword::Prefix];
    match mobile_fit(k) {
        Fit::Never => {}
        fit => all.push(Keyword::Mobile(fit)),
    }
    all.push(Keyword::OtherInner);
    all
}

/// ` AND <condition>` testing keyword `k` the way `keyword` says.
pub(super) fn push(s: &mut Statement, k: &str, keyword: &Keyword) {
    let escaped = leadgen_db::escape_like(k);
    let after_first = |s: &mut Statement| {
        s.push(" AND substr(contact_masked, 2) LIKE ")
            .bind(Bind::Text(format!("%{escaped}%")))
            .push(" AND NOT contact_masked LIKE ")
            .bind(Bind::Text(format!("{escaped}%")));
    };
    match keyword {
        Keyword::Tested => {
            s.push(" AND (contact_masked || '') LIKE ")
                .bind(Bind::Text(format!("%{escaped}%")));
        }
        Keyword::Prefix => {
            s.push(" AND contact_masked LIKE ")
                .bind(Bind::Text(format!("{escaped}%")));
        }
        Keyword::Mobile(fit) => {
            s.push(&format!(" AND contact_masked ~ '{MOBILE_MASK}'"));
            match fit {
                Fit::Tails(tails) => {
                    s.push(" AND right(contact_masked, 4) = ANY(")
                        .bind(Bind::Texts(tails.clone()))
                        .push(")");
                }
                Fit::Heads(heads) => {
                    s.push(" AND (");
                    for (i, head) in heads.iter().enumerate() {
                        if i > 0 {
                            s.push(" OR ");
                        }
                        let head = leadgen_db::escape_like(head);
                        s.push("contact_masked LIKE ")
                            .bind(Bind::Text(format!("{head}%")));
                    }
                    s.push(")");
                }
                Fit::Never | Fit::Any => {}
            }
            after_first(s);
        }
        Keyword::OtherInner => {
            s.push(&format!(" AND NOT contact_masked ~ '{MOBILE_MASK}'"));
            after_first(s);
        }
    }
}

/// Where in a mobile's mask `k` can stand after the mask's first character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Fit {
    /// Nowhere: k does not fit the mask's shape after its first character.
    Never,
    /// Only in masks with one of these tails (four digits): it reaches the tail. The keyword
    /// is still tested on each entry, since it may set the head too (`38****5678`).
    Tails(Vec<String>),
    /// Only in masks beginning with one of these heads (three characters): it stands from the
    /// second character in the head and the stars (`38****`, `13*`). Such a keyword has only
    /// stars after its second character, so it never reaches the tail as well.
    Heads(Vec<String>),
    /// In any, or more tails than [`MAX_TAILS`]: k can stand from the third character in the
    /// head and stars (`8**`, `***`), sets only one tail digit (`**5`: a thousand tails), or
    /// is shorter than a trigram (never asked this way: such a keyword is [`Keyword::Tested`]).
    Any,
}

/// Where `k` can stand after the first character of a mask shaped as [`MOBILE_MASK`]:
/// positions 0–2 hold a digit or a star, 3–6 a star, 7–10 a digit.
pub(super) fn mobile_fit(k: &str) -> Fit {
    let k: Vec<char> = k.chars().collect();
    let fits = |at: usize, c: char| match at {
        0..=2 => c.is_ascii_digit() || c == '*',
        3..=6 => c == '*',
        _ => c.is_ascii_digit(),
    };
    let (mut tails, mut heads) = (BTreeSet::new(), BTreeSet::new());
    for start in 1..=11_usize.saturating_sub(k.len()) {
        if !k.iter().enumerate().all(|(i, &c)| fits(start + i, c)) {
            continue;
        }
        if start + k.len() <= 7 {
            // In the head and the stars. From the second character k sets the head's last two
            // (three or more characters reach the stars): any first one. From the third, one
            // or none of the head's.
            if start > 1 || k.len() < 3 {
                return Fit::Any;
            }
            heads.extend(
                ('0'..='9')
                    .chain(['*'])
                    .map(|first| format!("{first}{}{}", k[0], k[1])),
            );
            continue;
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
            return Fit::Any;
        }
    }
    match (tails.is_empty(), heads.is_empty()) {
        (true, true) => Fit::Never,
        (false, true) => Fit::Tails(tails.into_iter().collect()),
        (true, false) => Fit::Heads(heads.into_iter().collect()),
        // Cannot be (above); were it, reading every mask is still right.
        (false, false) => Fit::Any,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tails(fit: Fit) -> Vec<String> {
        match fit {
            Fit::Tails(tails) => tails,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_mobile_masks_tails_and_heads_that_can_hold_a_keyword_are_listed() {
        // Three digits: the tail's first three or its last three.
        let three = tails(mobile_fit("138"));
        assert_eq!(three.len(), 20);
        assert!(three.contains(&"1385".to_owned()) && three.contains(&"0138".to_owned()));
        assert_eq!(tails(mobile_fit("5678")), ["5678"]);
        // Across the stars: the tail is set, the head still has to be tested.
        assert_eq!(tails(mobile_fit("****5678")), ["5678"]);
        assert_eq!(tails(mobile_fit("38****5678")), ["5678"]);
        let two = tails(mobile_fit("*56"));
        assert_eq!(two.len(), 100);
        assert!(two.iter().all(|t| t.starts_with("56")));
        // From the second character in the head and the stars: eleven heads.
        for (k, second) in [("13*", "13"), ("38****", "38"), ("00*", "00")] {
            let Fit::Heads(heads) = mobile_fit(k) else {
                panic!("{k} fits the head");
            };
            assert_eq!(heads.len(), 11, "{k}");
            assert!(heads.iter().all(|h| h.ends_with(second)), "{k}: {heads:?}");
            assert!(heads.contains(&format!("*{second}")), "{k}");
        }
        // From the third character, or too loose to list.
        assert_eq!(mobile_fit("8**"), Fit::Any);
        assert_eq!(mobile_fit("***"), Fit::Any);
        assert_eq!(mobile_fit("**5"), Fit::Any);
        assert_eq!(mobile_fit("8"), Fit::Any);
        // Nowhere after the first character of such a mask.
        for never in ["12345", "张三", "1_8", "138****5678", "5678-1", "138****"] {
            assert_eq!(mobile_fit(never), Fit::Never, "{never}");
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
            [
                Keyword::Prefix,
                Keyword::Mobile(mobile_fit("138")),
                Keyword::OtherInner
            ]
        );
        assert!(matches!(mobile_fit("138"), Fit::Tails(_)));
        assert_eq!(branches("张三丰"), [Keyword::Prefix, Keyword::OtherInner]);
        assert!(matches!(
            &branches("13*")[1],
            Keyword::Mobile(Fit::Heads(heads)) if heads.len() == 11
        ));
    }
}
