use super::*;

fn at(day: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .to_utc()
        + Duration::days(day)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// 2·AUC − 1 by the Mann–Whitney mid-rank formula, normalized by the perfect ranking's Gini:
/// an independent check of [`Gains::gini`].
fn auc_gini(items: &[(f64, bool)]) -> f64 {
    let mut sorted: Vec<(f64, bool)> = items.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j < sorted.len() && sorted[j].0 == sorted[i].0 {
            j += 1;
        }
        let mid = (i + 1 + j) as f64 / 2.0;
        rank_sum += mid * sorted[i..j].iter().filter(|x| x.1).count() as f64;
        i = j;
    }
    let p = items.iter().filter(|x| x.1).count() as f64;
    let n = items.len() as f64 - p;
    let auc = (rank_sum - p * (p + 1.0) / 2.0) / (p * n);
    2.0 * auc - 1.0
}

#[test]
fn a_perfect_ranking_lifts_the_top_to_all_buyers_again() {
    // 20 buyers, 4 buy again; the top 10 % (2 buyers) are both buyers again.
    let items: Vec<(f64, bool)> = (0..20).map(|i| (f64::from(i), i >= 16)).collect();
    let g = Gains::new(items.clone());
    assert!(close(g.base_rate(), 0.2));
    assert!(close(g.lift(0.1), 5.0), "{}", g.lift(0.1));
    assert!(close(g.lift(0.2), 5.0));
    assert!(close(g.lift(1.0), 1.0));
    let perfect = Gains::perfect(items.iter().map(|i| i.1));
    assert!(close(g.gini(), perfect.gini()));
    assert!(
        close(perfect.gini(), 1.0 - 0.2),
        "Gini of perfect = 1 − base rate"
    );
    assert!(close(g.gini() / perfect.gini(), auc_gini(&items)));
}

#[test]
fn a_reversed_ranking_lifts_nothing() {
    let items: Vec<(f64, bool)> = (0..20).map(|i| (f64::from(i), i < 4)).collect();
    let g = Gains::new(items.clone());
    assert!(close(g.lift(0.1), 0.0));
    let perfect = Gains::perfect(items.iter().map(|i| i.1));
    assert!(close(g.gini() / perfect.gini(), -1.0));
    assert!(close(auc_gini(&items), -1.0));
}

#[test]
fn ties_count_fractionally_at_the_boundary() {
    // Everyone tied: whatever the order, the top holds the base rate.
    let all_tied: Vec<(f64, bool)> = (0..10).map(|i| (1.0, i < 3)).collect();
    let g = Gains::new(all_tied.clone());
    assert!(close(g.lift(0.1), 1.0));
    assert!(close(g.gini(), 0.0));
    assert!(close(auc_gini(&all_tied), 0.0));
    // One leader who buys again, then 4 tied buyers of whom 2 buy again, then 5 who do not.
    // Top 3 of 10: the leader plus half of the tied group (2 of 4): 1 + 2·(2/4) = 2 captured.
    let mut items = vec![(9.0, true)];
    items.extend([(5.0, true), (5.0, true), (5.0, false), (5.0, false)]);
    items.extend((0..5).map(|i| (f64::from(i), false)));
    let g = Gains::new(items.clone());
    let cut = g.cut(0.3);
    assert!(close(cut.captured, 2.0), "{cut:?}");
    assert_eq!((cut.boundary_group, cut.boundary_positives), (4, 2));
    assert!(close(cut.included, 0.5));
    assert!(close(cut.boundary_score, 5.0));
    // base 3/10; top share 2/3 → lift 20/9.
    assert!(close(g.lift(0.3), (2.0 / 3.0) / 0.3));
    let perfect = Gains::perfect(items.iter().map(|i| i.1));
    assert!(close(g.gini() / perfect.gini(), auc_gini(&items)));
    // A boundary that ends exactly at a group's end includes all of it.
    let cut = g.cut(0.5);
    assert!(
        close(cut.included, 1.0) && close(cut.captured, 3.0),
        "{cut:?}"
    );
}

#[test]
fn gini_matches_the_auc_on_an_irregular_ranking() {
    let items: Vec<(f64, bool)> = (0..97u32)
        .map(|i| (f64::from((i * 37) % 11), (i * 13) % 7 < 2 || i % 11 == 3))
        .collect();
    let g = Gains::new(items.clone());
    let perfect = Gains::perfect(items.iter().map(|i| i.1));
    let ours = g.gini() / perfect.gini();
    assert!(
        close(ours, auc_gini(&items)),
        "{ours} vs {}",
        auc_gini(&items)
    );
}

fn order(
    buyer: &str,
    id: &str,
    day: i64,
    status: NeutralStatus,
    paid: Option<i64>,
) -> DatasetOrder {
    DatasetOrder {
        buyer_id: buyer.into(),
        order_id: id.into(),
        status,
        created_at: at(day),
        paid_at: paid.map(at),
        amount_fen: 10_000,
        refunded: false,
        product: "茶叶".into(),
    }
}

fn tiny() -> Dataset {
    use NeutralStatus::{Closed, Completed, Paid, Unpaid};
    Dataset {
        source: "hand-made".into(),
        anchor: at(60),
        orders: vec![
            // a: three purchases before the cut-off (day 30), buys again on day 40.
            order("a", "a1", 1, Completed, Some(1)),
            order("a", "a2", 10, Completed, Some(10)),
            order("a", "a3", 20, Completed, Some(20)),
            order("a", "a4", 40, Paid, Some(40)),
            // b: one purchase; an order after the cut-off that was never paid does not count.
            order("b", "b1", 5, Completed, Some(5)),
            order("b", "b2", 45, Closed, None),
            // c: placed before the cut-off, paid after it: unpaid as of the cut-off. No outcome.
            order("c", "c1", 29, Completed, Some(31)),
            // d: one purchase, buys again after the horizon only.
            order("d", "d1", 12, Completed, Some(12)),
            order("d", "d2", 61, Paid, Some(61)),
            // e: first order after the cut-off: not scored.
            order("e", "e1", 35, Unpaid, None),
        ],
        buyers: None,
    }
}

#[test]
fn buyers_are_scored_on_their_history_as_of_the_cutoff() {
    let d = tiny();
    let (cutoff, end) = window(&d, &Options::default()).unwrap();
    assert_eq!((cutoff, end), (at(30), at(60)));
    let (rows, aggregates) = histories(&d, cutoff, end);
    let ids: Vec<&str> = rows.iter().map(|r| r.buyer_id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "c", "d"]);
    let outcomes: Vec<bool> = rows.iter().map(|r| r.buys_again).collect();
    assert_eq!(outcomes, [true, false, false, false]);
    assert_eq!(aggregates[0].paid_order_count, 3);
    assert_eq!(aggregates[2].paid_order_count, 0, "paid after the cut-off");
    assert_eq!(aggregates[2].unpaid_count, 1);
    let rows = builtin_scores(&d, cutoff, end);
    let best = rows
        .iter()
        .max_by(|x, y| x.score.total_cmp(&y.score))
        .unwrap();
    assert_eq!(best.buyer_id, "a", "{rows:?}");
    let report = measure(&rows, cutoff, end, 0.25).unwrap();
    assert_eq!((report.buyers, report.buyers_buying_again), (4, 1));
    assert_eq!(report.ceiling, Ceiling::Outcome);
    assert!(close(report.model_lift, 4.0) && close(report.ratio, 1.0));
    assert!(close(report.normalized_gini, 1.0));
}

#[test]
fn true_rates_make_the_ceiling_and_must_cover_every_buyer() {
    let mut d = tiny();
    let rates = [
        ("a", 0.01),
        ("b", 0.2),
        ("c", 0.03),
        ("d", 0.02),
        ("e", 0.5),
    ];
    d.buyers = Some(
        rates
            .iter()
            .map(|(b, r)| DatasetBuyer {
                buyer_id: (*b).into(),
                true_rate_per_day: *r,
            })
            .collect(),
    );
    let report = evaluate(
        &d,
        &Options {
            top: 0.25,
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(report.ceiling, Ceiling::TrueRate);
    // By true rate b ranks first and does not buy again: the ceiling lift is 0 here.
    assert!(close(report.ceiling_lift, 0.0));
    assert!(close(report.perfect_lift, 4.0));
    if let Some(buyers) = d.buyers.as_mut() {
        buyers.retain(|b| b.buyer_id != "c");
    }
    let err = evaluate(&d, &Options::default()).unwrap_err();
    assert!(err.to_string().contains("all or none"), "{err}");
}

#[test]
fn windows_must_end_by_the_anchor() {
    let d = tiny();
    let late = Options {
        cutoff: Some(at(40)),
        ..Options::default()
    };
    assert!(window(&d, &late).is_err());
    let short = Options {
        cutoff: Some(at(40)),
        horizon_days: 20,
        ..Options::default()
    };
    assert_eq!(window(&d, &short).unwrap(), (at(40), at(60)));
    for bad in [0.0, 1.5] {
        let o = Options {
            top: bad,
            ..Options::default()
        };
        assert!(window(&d, &o).is_err());
    }
}

#[test]
fn the_documented_format_parses() {
    let text = r#"{
        "source": "x", "anchor": "2026-03-01T00:00:00Z",
        "orders": [{"buyerId": "b", "orderId": "1", "status": "COMPLETED",
                    "createdAt": "2026-01-01T00:00:00Z", "paidAt": null, "amountFen": 19900,
                    "refunded": false, "product": "p"}],
        "buyers": [{"buyerId": "b", "trueRatePerDay": 0.013, "gapShape": 2.0}]
    }"#;
    let d: Dataset = serde_json::from_str(text).unwrap();
    assert_eq!(d.orders[0].status, NeutralStatus::Completed);
    assert_eq!(d.buyers.unwrap()[0].true_rate_per_day, 0.013);
    let bare: Dataset =
        serde_json::from_str(r#"{"anchor": "2026-03-01T00:00:00Z", "orders": []}"#).unwrap();
    assert!(bare.buyers.is_none());
}

/// The experiment behind `docs/model-quality.md`: the built-in formula (a copy, so weights can
/// change here without touching `leadgen_domain::scoring`) with other weights, on every
/// platform's simulated shop. Prints a table; run with
/// `cargo test -p leadctl --bin leadctl weights -- --ignored --nocapture`.
mod weights {
    use std::path::PathBuf;
    use std::process::Command;

    use leadgen_domain::scoring::{
        AFTER_SALE_PENALTY, ALL_REFUNDED_PENALTY, DUE_FROM, DUE_TO, Distribution,
        MAX_AFTER_SALE_PENALTY, NEVER_PAID_PENALTY, UNPAID_BONUS, W_DUE, W_FREQUENCY, W_MONETARY,
        W_RECENCY, due_ratio,
    };

    use super::*;

    /// A copy of the built-in `due_signal`.
    fn due_signal(ratio: Option<f64>) -> f64 {
        match ratio {
            None => 0.0,
            Some(r) if r < 0.5 => 0.4,
            Some(r) if r < DUE_FROM => 0.7,
            Some(r) if r <= DUE_TO => 1.0,
            Some(r) if r < 3.0 => (3.0 - r) / (3.0 - DUE_TO),
            Some(_) => 0.0,
        }
    }

    #[derive(Clone, Copy)]
    struct Variant {
        name: &'static str,
        frequency: f64,
        recency: f64,
        monetary: f64,
        due: f64,
        /// After-sale and never-paid penalties, unpaid bonus.
        adjustments: bool,
        /// Frequency counts every order placed, not only paid ones.
        placed: bool,
    }

    const BUILTIN: Variant = Variant {
        name: "built-in copy (45/25/15/15, adjustments)",
        frequency: W_FREQUENCY,
        recency: W_RECENCY,
        monetary: W_MONETARY,
        due: W_DUE,
        adjustments: true,
        placed: false,
    };

    const VARIANTS: &[Variant] = &[
        BUILTIN,
        Variant {
            name: "45/25/15/15, no adjustments",
            adjustments: false,
            ..BUILTIN
        },
        Variant {
            name: "70/5/10/15, no adjustments",
            frequency: 70.0,
            recency: 5.0,
            monetary: 10.0,
            due: 15.0,
            adjustments: false,
            placed: false,
        },
        Variant {
            name: "70/5/10/15 on orders placed, no adjustments",
            frequency: 70.0,
            recency: 5.0,
            monetary: 10.0,
            due: 15.0,
            adjustments: false,
            placed: true,
        },
        Variant {
            name: "frequency (paid) only",
            frequency: 100.0,
            recency: 0.0,
            monetary: 0.0,
            due: 0.0,
            adjustments: false,
            placed: false,
        },
        Variant {
            name: "frequency (placed) only",
            frequency: 100.0,
            recency: 0.0,
            monetary: 0.0,
            due: 0.0,
            adjustments: false,
            placed: true,
        },
    ];

    fn intention(
        v: &Variant,
        a: &BuyerAggregate,
        ranks: Ranks,
        placed_rank: f64,
        as_of: DateTime<Utc>,
    ) -> f64 {
        let frequency = if v.placed {
            placed_rank
        } else {
            ranks.frequency
        };
        let mut value = v.frequency * frequency
            + v.recency * ranks.recency
            + v.monetary * ranks.monetary
            + v.due * due_signal(due_ratio(a, as_of));
        if v.adjustments {
            if a.after_sale_count > 0 {
                value -= (AFTER_SALE_PENALTY * f64::from(a.after_sale_count))
                    .min(MAX_AFTER_SALE_PENALTY);
                if a.paid_order_count > 0 && a.after_sale_count >= a.paid_order_count {
                    value -= ALL_REFUNDED_PENALTY;
                }
            }
            if a.unpaid_count > 0 {
                value += UNPAID_BONUS;
            }
            if a.paid_order_count == 0 && a.unpaid_count == 0 {
                value -= NEVER_PAID_PENALTY;
            }
        }
        // Whole points, as the built-in model answers (ties matter).
        value.round().clamp(0.0, 100.0)
    }

    fn datasets() -> Vec<(String, Dataset)> {
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let status = Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "platform-sim"])
            .current_dir(&repo)
            .status()
            .unwrap();
        assert!(status.success());
        let dir = std::env::temp_dir().join(format!("leadctl-weights-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut out = Vec::new();
        for platform in ["TAOBAO", "JD", "PDD", "DOUYIN", "KUAISHOU"] {
            let file = dir.join(format!("{platform}.json"));
            let status = Command::new(repo.join("target/debug/platform-sim"))
                .args([
                    "dataset",
                    "--platform",
                    platform,
                    "--seed",
                    "42",
                    "--orders",
                    "5000",
                ])
                .args(["--anchor-time", "2026-03-01T00:00:00Z", "--out"])
                .arg(&file)
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap();
            assert!(status.success());
            out.push((platform.to_owned(), load(&file).unwrap()));
        }
        std::fs::remove_dir_all(&dir).ok();
        out
    }

    #[test]
    #[ignore = "an experiment that prints a table (docs/model-quality.md)"]
    fn weights() {
        for (platform, d) in datasets() {
            let (cutoff, end) = window(&d, &Options::default()).unwrap();
            let (rows, aggregates) = histories(&d, cutoff, end);
            let placed = Distribution::new(
                aggregates
                    .iter()
                    .map(|a| f64::from(a.order_count))
                    .collect(),
            );
            let builtin = measure(&builtin_scores(&d, cutoff, end), cutoff, end, 0.1).unwrap();
            println!(
                "{platform}: buyers {}, base rate {:.3}, ceiling lift {:.2} (Gini {:.3}), \
                 perfect {:.2}",
                builtin.buyers,
                builtin.base_rate,
                builtin.ceiling_lift,
                builtin.ceiling_normalized_gini,
                builtin.perfect_lift
            );
            println!(
                "  {:<46} lift {:.2}  ratio {:.3}  Gini {:.3}",
                "built-in predict_intention",
                builtin.model_lift,
                builtin.ratio,
                builtin.normalized_gini
            );
            for v in VARIANTS {
                let mut scored = rows.clone();
                score_with(&mut scored, &aggregates, |a, ranks| {
                    let placed_rank = placed.percentile(f64::from(a.order_count));
                    intention(v, a, ranks, placed_rank, cutoff)
                });
                let r = measure(&scored, cutoff, end, 0.1).unwrap();
                if v.name == BUILTIN.name {
                    assert!(close(r.model_lift, builtin.model_lift), "the copy is exact");
                }
                println!(
                    "  {:<46} lift {:.2}  ratio {:.3}  Gini {:.3}",
                    v.name, r.model_lift, r.ratio, r.normalized_gini
                );
            }
        }
    }
}
