use chrono::TimeZone;

use super::*;
use crate::buyer::{OrderFacts, aggregate};
use crate::contact::ContactField;
use crate::money::Money;
use crate::order::NeutralStatus;
use crate::validity::filter_contact_info;

fn at(m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, m, d, 2, 0, 0).unwrap()
}

fn paid(id: &str, t: DateTime<Utc>, yuan: i64) -> OrderFacts {
    OrderFacts {
        platform_id: 1,
        order_id: id.into(),
        status: NeutralStatus::Completed,
        created_at: t,
        paid_at: Some(t),
        amount: Money(yuan * 100),
        refunded: false,
        partial_refund: None,
        product: format!("商品{id}"),
    }
}

/// The worked example of `docs/scoring.md`.
fn shop() -> (BuyerAggregate, Vec<BuyerAggregate>, DateTime<Utc>) {
    let a = aggregate(&[
        paid("a1", at(6, 1), 100),
        paid("a2", at(7, 1), 150),
        paid("a3", at(7, 31), 200),
    ])
    .unwrap();
    let b = aggregate(&[paid("b1", at(5, 1), 80)]).unwrap();
    let c = aggregate(&[paid("c1", at(7, 20), 300)]).unwrap();
    let mut unpaid = paid("d1", at(8, 10), 50);
    unpaid.status = NeutralStatus::Unpaid;
    unpaid.paid_at = None;
    let d = aggregate(&[unpaid]).unwrap();
    // 2026-08-20 00:00 Beijing time.
    let as_of = Utc.with_ymd_and_hms(2026, 8, 19, 16, 0, 0).unwrap();
    (a.clone(), vec![a, b, c, d], as_of)
}

#[test]
fn the_worked_example_scores_as_documented() {
    let (a, all, as_of) = shop();
    let dist = ShopDistribution::of(all.iter());
    let ranks = dist.ranks(&a);
    assert_eq!(
        ranks,
        Ranks {
            recency: 0.625,
            frequency: 0.875,
            monetary: 0.875
        }
    );
    let ratio = due_ratio(&a, as_of).unwrap();
    assert!((ratio - 19.583_333 / 30.0).abs() < 1e-3, "{ratio}");
    let intention = predict_intention(&a, ranks, as_of);
    assert_eq!(intention.value, 79);
    assert_eq!(
        intention.reasons,
        vec![Reason::new("REPEAT_2", "近90天复购2次")]
    );
    let contact = filter_contact_info(&ContactField::phone("13800000001").unwrap(), as_of);
    let assessment = assess(&a, ranks, &intention, &contact, as_of);
    assert_eq!(assessment.score, 83);
    assert_eq!(
        assessment.tags,
        vec![
            IntentionTag::High,
            IntentionTag::Purchased,
            IntentionTag::Repeat
        ]
    );
    assert_eq!(assessment.model_version, MODEL_VERSION);
    assert_eq!(assessment.reasons.last().unwrap().code, "MOBILE_VALID");
}

#[test]
fn refunds_lower_and_unpaid_orders_raise_intention() {
    let (a, all, as_of) = shop();
    let dist = ShopDistribution::of(all.iter());
    let base = predict_intention(&a, dist.ranks(&a), as_of).value;
    let mut refunded = a.clone();
    refunded.after_sale_count = 1;
    let lower = predict_intention(&refunded, dist.ranks(&refunded), as_of);
    assert_eq!(lower.value, base - 5, "one of three paid orders: 15 × 1/3");
    refunded.after_sale_count = 3;
    let all_refunded = predict_intention(&refunded, dist.ranks(&refunded), as_of);
    assert_eq!(
        all_refunded.value,
        base - 15,
        "every paid order refunded: the full penalty"
    );
    assert!(
        lower
            .reasons
            .iter()
            .any(|r| r.code == "REFUND" && r.text == "有退款售后（1笔）")
    );
    let mut waiting = a.clone();
    waiting.unpaid_count = 1;
    let higher = predict_intention(&waiting, dist.ranks(&waiting), as_of);
    assert_eq!(higher.value, base + 5);
    let d = &all[3];
    let never = predict_intention(d, dist.ranks(d), as_of);
    assert!(never.reasons.iter().any(|r| r.code == "UNPAID"));
}

#[test]
fn due_high_value_and_dormant_tags_follow_their_thresholds() {
    let (a, all, _) = shop();
    let dist = ShopDistribution::of(all.iter());
    let contact = filter_contact_info(&ContactField::phone("13800000001").unwrap(), at(8, 30));
    // 30 days after the last payment with a 30-day rhythm: due.
    let due_at = at(8, 30);
    let ranks = dist.ranks(&a);
    let i = predict_intention(&a, ranks, due_at);
    let tags = assess(&a, ranks, &i, &contact, due_at).tags;
    assert!(tags.contains(&IntentionTag::DueToRepurchase), "{tags:?}");
    assert!(i.reasons.iter().any(|r| r.code == "DUE"));
    // The top spender of a ten-buyer shop is high value.
    let mut buyers: Vec<BuyerAggregate> = (1..=9)
        .map(|k| aggregate(&[paid(&k.to_string(), at(7, 1), k)]).unwrap())
        .collect();
    buyers.push(a.clone());
    let big = ShopDistribution::of(buyers.iter());
    let r = big.ranks(&a);
    assert!(r.monetary >= HIGH_VALUE_RANK);
    let i = predict_intention(&a, r, due_at);
    assert!(
        assess(&a, r, &i, &contact, due_at)
            .tags
            .contains(&IntentionTag::HighValue)
    );
    // 120 days idle: dormant.
    let late = at(11, 28);
    let i = predict_intention(&a, ranks, late);
    assert!(
        assess(&a, ranks, &i, &contact, late)
            .tags
            .contains(&IntentionTag::Dormant)
    );
    assert!(i.reasons.iter().any(|r| r.code == "DORMANT"));
}

#[test]
fn percentiles_are_mid_ranks_and_compact_distributions_stay_close() {
    let d = Distribution::new(vec![1.0, 1.0, 2.0, 3.0]);
    assert_eq!(d.percentile(1.0), 0.25);
    assert_eq!(d.percentile(3.0), 0.875);
    assert_eq!(d.percentile(0.0), 0.0);
    assert_eq!(Distribution::default().percentile(5.0), 0.5);
    let many = Distribution::new((0..10_000).map(f64::from).collect());
    let compact = Distribution::new(many.quantiles(100));
    for x in [10.0, 2_500.0, 5_000.0, 9_990.0] {
        assert!(
            (many.percentile(x) - compact.percentile(x)).abs() < 0.011,
            "{x}"
        );
    }
}

#[test]
fn reachability_moves_the_score_not_the_intention() {
    let (a, all, as_of) = shop();
    let dist = ShopDistribution::of(all.iter());
    let ranks = dist.ranks(&a);
    let i = predict_intention(&a, ranks, as_of);
    let masked = filter_contact_info(&ContactField::phone("*******5678").unwrap(), as_of);
    let s = assess(&a, ranks, &i, &masked, as_of);
    assert_eq!(s.intention, 79);
    assert_eq!(s.score, 71, "0.8 × 79 + 20 × 0.4");
}

#[test]
fn recency_reads_in_beijing_calendar_days_and_names_what_happened() {
    let (_, all, as_of) = shop();
    let recent = Ranks {
        recency: 1.0,
        frequency: 0.5,
        monetary: 0.5,
    };
    let text = |a: &BuyerAggregate| {
        predict_intention(a, recent, as_of)
            .reasons
            .into_iter()
            .find(|r| r.code == "RECENT")
            .map(|r| r.text)
    };
    // Buyer D placed an order on 08-10 (10:00 Beijing) and never paid.
    assert_eq!(text(&all[3]).as_deref(), Some("10天前下单，近期活跃"));
    // 23:59 Beijing the evening before the day scored is yesterday, not "0 days ago".
    let yesterday = Utc.with_ymd_and_hms(2026, 8, 19, 15, 59, 0).unwrap();
    let late = aggregate(&[paid("y1", yesterday, 10)]).unwrap();
    assert_eq!(text(&late).as_deref(), Some("昨天有购买，近期活跃"));
    // Paid after the day's scoring instant: today.
    let today = Utc.with_ymd_and_hms(2026, 8, 19, 16, 30, 0).unwrap();
    let now = aggregate(&[paid("t1", today, 10)]).unwrap();
    assert_eq!(text(&now).as_deref(), Some("今天有购买，近期活跃"));
}

#[test]
fn the_due_sentence_rounds_the_mean_gap_half_up() {
    // Payments 4.5 days apart, then 4.5 days of quiet: due, every 5 days (not 4).
    let first = at(7, 1);
    let second = first + chrono::Duration::hours(108);
    let a = aggregate(&[paid("g1", first, 100), paid("g2", second, 100)]).unwrap();
    let dist = ShopDistribution::of([a.clone()].iter());
    let as_of = second + chrono::Duration::hours(108);
    let i = predict_intention(&a, dist.ranks(&a), as_of);
    let due = i.reasons.iter().find(|r| r.code == "DUE").expect("due");
    assert!(due.text.starts_with("平均每5天购买一次"), "{}", due.text);
}

/// Purchases an hour apart are not "every day": due a day later, the sentence says how close
/// together they were.
#[test]
fn purchases_hours_apart_are_not_called_daily() {
    let first = at(7, 1);
    let second = first + chrono::Duration::hours(1);
    let a = aggregate(&[paid("h1", first, 100), paid("h2", second, 100)]).unwrap();
    let dist = ShopDistribution::of([a.clone()].iter());
    let as_of = second + chrono::Duration::hours(30);
    let i = predict_intention(&a, dist.ranks(&a), as_of);
    let due = i.reasons.iter().find(|r| r.code == "DUE").expect("due");
    assert!(
        due.text.starts_with("多次购买间隔不足1天，"),
        "{}",
        due.text
    );
}

/// A checkout the platform split into two orders, paid at once (JD's 拆单), is one purchase: no
/// repeat, no mean gap, nobody "due"; a second checkout a month later is the repeat.
#[test]
fn a_checkout_split_into_orders_is_one_purchase_not_a_repeat() {
    let (_, all, as_of) = shop();
    let dist = ShopDistribution::of(all.iter());
    let split = aggregate(&[
        paid("s1", at(8, 18), 100),
        paid("s2", at(8, 18) + Duration::seconds(1), 60),
    ])
    .unwrap();
    assert_eq!((split.paid_order_count, split.purchases()), (2, 1));
    assert_eq!(split.mean_gap_days, None);
    let contact = filter_contact_info(&ContactField::phone("13800001111").unwrap(), as_of);
    let ranks = dist.ranks(&split);
    let intention = predict_intention(&split, ranks, as_of);
    let assessed = assess(&split, ranks, &intention, &contact, as_of);
    assert!(
        !assessed.tags.contains(&IntentionTag::Repeat),
        "{assessed:?}"
    );
    assert!(!assessed.tags.contains(&IntentionTag::DueToRepurchase));
    let codes: Vec<&str> = assessed.reasons.iter().map(|r| r.code.as_str()).collect();
    assert!(codes.contains(&"ONE_PURCHASE"), "{codes:?}");
    // Stored before purchases were occasions (its mean gap 0 days between the two payments):
    // scored as rebuilt, never "due".
    let stored = BuyerAggregate {
        mean_gap_days: Some(0.0),
        ..split.clone()
    };
    assert_eq!(due_ratio(&stored, as_of), None);
    let intention = predict_intention(&stored, ranks, as_of);
    assert!(
        intention.reasons.iter().all(|r| r.code != "DUE"),
        "{intention:?}"
    );
    let again = aggregate(&[
        paid("s1", at(7, 18), 100),
        paid("s2", at(7, 18) + Duration::minutes(3), 60),
        paid("s3", at(8, 18), 90),
    ])
    .unwrap();
    assert_eq!(again.purchases(), 2);
    assert_eq!(again.mean_gap_days, Some(31.0));
    let ranks = dist.ranks(&again);
    let intention = predict_intention(&again, ranks, as_of);
    let assessed = assess(&again, ranks, &intention, &contact, as_of);
    assert!(
        assessed.tags.contains(&IntentionTag::Repeat),
        "{assessed:?}"
    );
    let codes: Vec<&str> = assessed.reasons.iter().map(|r| r.code.as_str()).collect();
    assert!(codes.contains(&"REPEAT_1"), "{codes:?}");
}

/// `近90天复购N次` counts the window's purchases that follow an earlier one, whether that one
/// fell inside the window or before it.
#[test]
fn repeats_in_the_window_count_every_purchase_that_follows_an_earlier_one() {
    // 2026-08-20 00:00 Beijing time; the window starts on 2026-05-22.
    let as_of = Utc.with_ymd_and_hms(2026, 8, 19, 16, 0, 0).unwrap();
    let ranks = Ranks {
        recency: 0.5,
        frequency: 0.5,
        monetary: 0.5,
    };
    let repeat = |orders: &[OrderFacts]| {
        let a = aggregate(orders).unwrap();
        predict_intention(&a, ranks, as_of)
            .reasons
            .into_iter()
            .find(|r| r.code.starts_with("REPEAT"))
            .map(|r| (r.code, r.text))
    };
    let text = |code: &str, text: &str| Some((code.to_owned(), text.to_owned()));
    // 120, 60 and 30 days before: two repeats in the window.
    assert_eq!(
        repeat(&[
            paid("r1", at(4, 21), 10),
            paid("r2", at(6, 20), 10),
            paid("r3", at(7, 20), 10)
        ]),
        text("REPEAT_2", "近90天复购2次")
    );
    // 200 and 10 days before: the second is a repeat.
    assert_eq!(
        repeat(&[paid("s1", at(1, 31), 10), paid("s2", at(8, 9), 10)]),
        text("REPEAT_1", "近90天复购1次")
    );
    // All three in the window: the first is no repeat.
    assert_eq!(
        repeat(&[
            paid("t1", at(6, 20), 10),
            paid("t2", at(7, 10), 10),
            paid("t3", at(8, 9), 10)
        ]),
        text("REPEAT_2", "近90天复购2次")
    );
    // Both long before: no repeat in the window.
    assert_eq!(
        repeat(&[paid("u1", at(1, 1), 10), paid("u2", at(2, 1), 10)]),
        text("REPEAT", "累计购买2次")
    );
}

/// A buyer ranked among the shop's most recent is not called "近期活跃" when the buyer is
/// dormant (every buyer of the shop has been idle for long).
#[test]
fn a_dormant_buyer_is_never_called_recently_active() {
    let as_of = Utc.with_ymd_and_hms(2026, 8, 19, 16, 0, 0).unwrap();
    let a = aggregate(&[paid("d1", at(3, 1), 10)]).unwrap();
    let ranks = Ranks {
        recency: 1.0,
        frequency: 0.5,
        monetary: 0.5,
    };
    let codes: Vec<String> = predict_intention(&a, ranks, as_of)
        .reasons
        .into_iter()
        .map(|r| r.code)
        .collect();
    assert!(codes.contains(&"DORMANT".to_owned()), "{codes:?}");
    assert!(!codes.contains(&"RECENT".to_owned()), "{codes:?}");
}
