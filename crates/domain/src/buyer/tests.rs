use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::contact::ContactField;
use crate::order::{BuyerRef, OrderItem, Receiver};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 1, 2, 0, 0).unwrap()
}

fn facts(id: &str, days: i64, status: NeutralStatus, fen: i64, refunded: bool) -> OrderFacts {
    let created = t0() + Duration::days(days);
    OrderFacts {
        platform_id: 1,
        order_id: id.into(),
        status,
        created_at: created,
        paid_at: (status.was_paid() || (status == NeutralStatus::Closed && refunded))
            .then_some(created + Duration::minutes(3)),
        amount: Money(fen),
        refunded,
        partial_refund: None,
        product: format!("商品{id}"),
    }
}

fn order(open_id: Option<&str>, phone: Option<&str>) -> RawOrder {
    RawOrder {
        order_id: "9001".into(),
        status: NeutralStatus::Paid,
        platform_status: "X".into(),
        created_at: t0(),
        paid_at: Some(t0()),
        modified_at: None,
        amount: Money(100),
        refunded: false,
        partial_refund: None,
        buyer: BuyerRef {
            open_id: open_id.map(str::to_owned),
            nick: None,
        },
        receiver: Receiver {
            phone: phone.and_then(ContactField::phone),
            ..Receiver::default()
        },
        items: vec![OrderItem {
            sku_id: None,
            title: "裙".into(),
            quantity: 1,
            price: Money(100),
        }],
    }
}

#[test]
fn identities_follow_what_each_platform_sends() {
    let taobao = identity_keys(
        PlatformType::Taobao,
        7,
        &order(Some("AAHx"), Some("*******5678")),
    );
    assert_eq!(taobao.len(), 1, "a masked phone is no identity");
    assert_eq!(taobao[0].kind, IdentityKind::PlatformBuyer);
    assert_eq!(taobao[0].material, "PLATFORM_BUYER:TAOBAO:AAHx");

    let jd_plain = identity_keys(
        PlatformType::Jd,
        7,
        &order(Some("oid"), Some("138 0000 0001")),
    );
    assert_eq!(
        jd_plain.iter().map(|k| k.kind).collect::<Vec<_>>(),
        vec![IdentityKind::PlatformBuyer, IdentityKind::Phone]
    );
    assert_eq!(jd_plain[1].material, "PHONE:CN:+8613800000001");

    let pdd_order = |phone: &str, mask: Option<&str>| {
        let mut o = order(None, Some(phone));
        if let Some(p) = o.receiver.phone.as_mut() {
            p.masked = mask.map(str::to_owned);
        }
        identity_keys(PlatformType::Pdd, 9, &o)
    };
    let searchable = "$zHXCmB7iB0T8$AgAAAAFYg4ABX2hUqQDAbXq4uO7j$0$$";
    let pdd = pdd_order(searchable, Some("138****5678"));
    assert_eq!(pdd.len(), 1);
    assert_eq!(
        pdd[0].material,
        "PHONE_SEARCH_INDEX:9:zHXCmB7iB0T8|138****5678"
    );
    // The index hashes the last four digits only: without the mask's other visible digits it
    // is no identity, nor is a mask that hides them.
    for mask in [None, Some(""), Some("*******5678")] {
        assert_eq!(
            pdd_order(searchable, mask)[0].kind,
            IdentityKind::Order,
            "{mask:?}"
        );
    }
    // The form that is not searchable starts with the number's first digits in clear.
    for not_searchable in [
        "$138$AgAAAAFYg4ABX2hUqQDAbXq4uO7j$0$",
        "$$AgAAAAFYg4ABX2hUqQDAbXq4uO7j$0$$",
        "$zHXCmB7iB0T8$AgAAAAFYg4ABX2hUqQDAbXq4uO7j$$",
    ] {
        assert_eq!(
            pdd_order(not_searchable, Some("138****5678"))[0].kind,
            IdentityKind::Order,
            "{not_searchable}"
        );
    }

    let douyin_cipher = identity_keys(
        PlatformType::Douyin,
        9,
        &order(None, Some("$Kg1E$AbZ1$1$$")),
    );
    assert_eq!(
        douyin_cipher[0].kind,
        IdentityKind::Order,
        "only PDD's index is used"
    );

    let nothing = identity_keys(
        PlatformType::Kuaishou,
        3,
        &order(None, Some("18877771111-123")),
    );
    assert_eq!(nothing.len(), 1);
    assert_eq!(nothing[0].material, "ORDER:3:9001");
}

/// A refund proves a payment: a closed, refunded order without a payment time (a PDD
/// `refund_status` 4, a Kuaishou 80 with refunds) is closed after payment, never unpaid.
#[test]
fn a_refunded_order_closed_without_a_payment_time_was_paid() {
    let mut refunded = facts("1", 0, NeutralStatus::Closed, 10_000, true);
    refunded.paid_at = None;
    let never_paid = facts("2", 5, NeutralStatus::Closed, 4_000, false);
    assert!(never_paid.paid_at.is_none());
    let a = aggregate(&[refunded, never_paid]).unwrap();
    assert_eq!(a.paid_order_count, 1);
    assert_eq!(a.after_sale_count, 1);
    assert_eq!(a.closed_unpaid_count, 1, "only the order never paid");
    assert_eq!(a.paid_total, Money(0));
}

#[test]
fn the_aggregate_sums_a_buyers_orders() {
    let orders = vec![
        facts("1", 0, NeutralStatus::Completed, 10_000, false),
        facts("2", 10, NeutralStatus::Completed, 5_000, false),
        facts("3", 30, NeutralStatus::Closed, 8_000, true),
        facts("4", 31, NeutralStatus::Unpaid, 3_000, false),
        facts("5", 32, NeutralStatus::Closed, 2_000, false),
    ];
    let a = aggregate(&orders).unwrap();
    assert_eq!(a.order_count, 5);
    assert_eq!(a.paid_order_count, 3);
    assert_eq!(
        a.paid_total,
        Money(15_000),
        "the refunded order is not kept spend"
    );
    assert_eq!(a.after_sale_count, 1);
    assert_eq!(a.unpaid_count, 1);
    assert_eq!(a.closed_unpaid_count, 1);
    assert_eq!(a.first_order_time, t0());
    assert_eq!(a.last_order_time, t0() + Duration::days(32));
    assert_eq!(a.mean_gap_days, Some(15.0));
    assert_eq!(a.latest_order_id, "5");
    assert_eq!(a.last_product, "商品5");
    assert_eq!(a.order_ids, vec!["5", "4", "3", "2", "1"]);
    assert!(aggregate(&[]).is_none());
}

#[test]
fn a_partial_refund_takes_only_the_refunded_lines_off_the_spend() {
    let partly = OrderFacts {
        partial_refund: Some(Money(3_000)),
        ..facts("1", 0, NeutralStatus::Completed, 10_000, true)
    };
    let whole = facts("2", 5, NeutralStatus::Shipped, 4_000, true);
    let more_than_paid = OrderFacts {
        partial_refund: Some(Money(9_000)),
        ..facts("3", 6, NeutralStatus::Paid, 2_000, true)
    };
    let a = aggregate(&[partly, whole, more_than_paid]).unwrap();
    assert_eq!(a.paid_total, Money(7_000));
    assert_eq!(a.paid_order_count, 3);
    assert_eq!(
        a.after_sale_count, 3,
        "a partial refund is an after-sale too"
    );
}

#[test]
fn buyers_group_transitively_and_merge_into_the_lowest_lead() {
    let o = |keys: &[&str], leads: &[i64]| OrderIdentities {
        keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        known_leads: leads.to_vec(),
    };
    let batch = vec![
        o(&["a"], &[]),
        o(&["b"], &[9]),
        o(&["a", "b"], &[]),
        o(&["c"], &[4]),
        o(&["d"], &[]),
        o(&["e"], &[4, 2]),
    ];
    let groups = group_buyers(&batch);
    assert_eq!(groups.len(), 3);
    assert_eq!(groups[0].orders, vec![0, 1, 2]);
    assert_eq!(groups[0].lead, Some(9));
    assert_eq!(groups[1].orders, vec![3, 5]);
    assert_eq!(groups[1].lead, Some(2));
    assert_eq!(groups[1].merged, vec![4]);
    assert_eq!(groups[2].lead, None);
    assert_eq!(groups[2].keys, vec!["d"]);
}

fn arb_order() -> impl Strategy<Value = OrderFacts> {
    (
        0u32..40,
        0i64..120,
        prop_oneof![
            Just(NeutralStatus::Unpaid),
            Just(NeutralStatus::Paid),
            Just(NeutralStatus::Shipped),
            Just(NeutralStatus::Completed),
            Just(NeutralStatus::Closed),
        ],
        1i64..100_000,
        any::<bool>(),
        0i64..3,
        proptest::option::of(0i64..100_000),
    )
        .prop_map(|(id, day, status, fen, refunded, shop, partly)| {
            let mut f = facts(&id.to_string(), day, status, fen, refunded);
            f.platform_id = shop;
            f.partial_refund = partly.filter(|_| refunded).map(Money);
            f
        })
}

proptest! {
    /// Any arrival order gives the same aggregate (it is a function of the buyer's set of
    /// orders). Batch boundaries are the processor's business: it rebuilds from every stored
    /// order of the buyer, which order-processor's determinism tests drive through the database.
    #[test]
    fn the_aggregate_does_not_depend_on_arrival_order(
        orders in proptest::collection::vec(arb_order(), 1..30),
        seed in any::<u64>(),
    ) {
        // One processed row per order: ids are unique, as in t_ecom_order_processed.
        let orders: Vec<OrderFacts> = orders
            .into_iter()
            .enumerate()
            .map(|(i, mut o)| {
                o.order_id = format!("{i}-{}", o.order_id);
                o
            })
            .collect();
        let expected = aggregate(&orders);
        let mut shuffled = orders.clone();
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            let j = usize::try_from(state % (i as u64 + 1)).unwrap();
            shuffled.swap(i, j);
        }
        prop_assert_eq!(aggregate(&shuffled), expected);
    }

    /// Grouping does not depend on the batch order: the same orders end in the same groups.
    #[test]
    fn grouping_does_not_depend_on_batch_order(
        links in proptest::collection::vec((0u8..8, 0u8..8, proptest::option::of(1i64..5)), 1..20),
        seed in any::<u64>(),
    ) {
        let batch: Vec<OrderIdentities> = links.iter().map(|(a, b, lead)| OrderIdentities {
            keys: vec![format!("k{a}"), format!("k{b}")],
            known_leads: lead.iter().copied().collect(),
        }).collect();
        let mut order: Vec<usize> = (0..batch.len()).collect();
        let mut state = seed | 1;
        for i in (1..order.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            let j = usize::try_from(state % (i as u64 + 1)).unwrap();
            order.swap(i, j);
        }
        let shuffled: Vec<OrderIdentities> = order.iter().map(|&i| batch[i].clone()).collect();
        let canon = |groups: Vec<BuyerGroup>, names: &dyn Fn(usize) -> usize| {
            let mut out: Vec<(Vec<usize>, Option<i64>, Vec<i64>)> = groups.into_iter().map(|g| {
                let mut orders: Vec<usize> = g.orders.into_iter().map(names).collect();
                orders.sort_unstable();
                (orders, g.lead, g.merged)
            }).collect();
            out.sort();
            out
        };
        let a = canon(group_buyers(&batch), &|i| i);
        let b = canon(group_buyers(&shuffled), &|i| order[i]);
        prop_assert_eq!(a, b);
    }
}
