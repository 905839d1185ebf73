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
        partial_refund_fen: None,
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
                active_until: None,
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

#[test]
fn a_buyer_who_stopped_buying_before_the_cutoff_has_no_true_rate() {
    let mut d = tiny();
    let buyer = |id: &str, rate: f64, until: Option<i64>| DatasetBuyer {
        buyer_id: id.into(),
        true_rate_per_day: rate,
        active_until: until.map(at),
    };
    // b has the highest rate but stopped buying on day 5, before the cut-off (day 30): rate 0.
    // a stopped on day 40, after the cut-off: still active then. c and d never stopped.
    d.buyers = Some(vec![
        buyer("a", 0.01, Some(40)),
        buyer("b", 0.2, Some(5)),
        buyer("c", 0.003, None),
        buyer("d", 0.002, None),
    ]);
    let (cutoff, end) = window(&d, &Options::default()).unwrap();
    let (rows, _) = histories(&d, cutoff, end);
    let rates: Vec<Option<f64>> = rows.iter().map(|r| r.true_rate).collect();
    assert_eq!(rates, [Some(0.01), Some(0.0), Some(0.003), Some(0.002)]);
    let report = evaluate(
        &d,
        &Options {
            top: 0.25,
            ..Options::default()
        },
    )
    .unwrap();
    // By true rate at the cut-off a ranks first and buys again: the ceiling is perfect.
    assert!(close(report.ceiling_lift, 4.0), "{report:?}");
    // The stop is exclusive: a buyer whose last purchase was at the cut-off is inactive.
    assert_eq!(buyer("x", 0.5, Some(30)).rate_at(at(30)), 0.0);
    assert_eq!(buyer("x", 0.5, Some(30)).rate_at(at(29)), 0.5);
    let text = r#"{"buyerId": "b", "trueRatePerDay": 0.1, "activeUntil": null}"#;
    let parsed: DatasetBuyer = serde_json::from_str(text).unwrap();
    assert_eq!(parsed.active_until, None);
    let text = r#"{"buyerId": "b", "trueRatePerDay": 0.1, "activeUntil": "2026-01-02T00:00:00Z"}"#;
    let parsed: DatasetBuyer = serde_json::from_str(text).unwrap();
    assert_eq!(parsed.active_until, Some(at(1)));
}

/// The study behind `docs/model-quality.md`: the built-in formula (a copy, so it can change here
/// without touching `leadgen_domain::scoring`) and variants of it, on every platform's simulated
/// shop and four seeds (5000 orders over a year, the `make model-quality` setting). Prints a
/// table; run with `cargo test -p leadctl --bin leadctl study -- --ignored --nocapture`.
mod study {
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};

    use leadgen_domain::scoring::{
        DUE_FROM, DUE_TO, NEVER_PAID_PENALTY, UNPAID_BONUS, W_DUE, W_FREQUENCY, W_MONETARY,
        W_RECENCY, due_ratio,
    };

    /// `builtin-rfm-2`'s refund rules, studied here: −10 per after-sale order up to −30, and −10
    /// more when every paid order went to after-sales (`builtin-rfm-3` counts a share instead).
    const AFTER_SALE_PENALTY: f64 = 10.0;
    const MAX_AFTER_SALE_PENALTY: f64 = 30.0;
    const ALL_REFUNDED_PENALTY: f64 = 10.0;

    use super::*;

    const SEEDS: [u64; 4] = [42, 1, 2, 3];
    const PLATFORMS: [&str; 5] = ["TAOBAO", "JD", "PDD", "DOUYIN", "KUAISHOU"];

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

    /// How refunds and after-sales move the intention.
    #[derive(Clone, Copy, PartialEq)]
    enum AfterSale {
        /// The built-in: −10 per after-sale order (at most −30), −10 more when all were.
        PerOrder,
        /// Only the −10 when every paid order went to after-sale.
        AllRefunded,
        /// −10 × the after-sale share of paid orders, and −10 more when all were.
        Share,
        /// Nothing.
        Ignored,
    }

    /// The built-in formula's shape with other weights and adjustments.
    #[derive(Clone, Copy)]
    struct Points {
        name: &'static str,
        frequency: f64,
        recency: f64,
        monetary: f64,
        due: f64,
        after_sale: AfterSale,
        /// The unpaid bonus (+5) and the never-paid penalty (−10).
        payment: bool,
    }

    const BUILTIN: Points = Points {
        name: "built-in copy (45/25/15/15, all adjustments)",
        frequency: W_FREQUENCY,
        recency: W_RECENCY,
        monetary: W_MONETARY,
        due: W_DUE,
        after_sale: AfterSale::PerOrder,
        payment: true,
    };

    /// The recommendation: the built-in without the per-order after-sale penalty.
    const RECOMMENDED: Points = Points {
        name: "RECOMMENDED: built-in, no per-order after-sale",
        after_sale: AfterSale::AllRefunded,
        ..BUILTIN
    };

    const VARIANTS: &[Points] = &[
        BUILTIN,
        RECOMMENDED,
        Points {
            name: "built-in weights, after-sale share",
            after_sale: AfterSale::Share,
            ..BUILTIN
        },
        Points {
            name: "built-in weights, no adjustments",
            after_sale: AfterSale::Ignored,
            payment: false,
            ..BUILTIN
        },
        Points {
            name: "50/30/0/20, no per-order after-sale",
            frequency: 50.0,
            recency: 30.0,
            monetary: 0.0,
            due: 20.0,
            ..RECOMMENDED
        },
        Points {
            name: "60/40/0/0 (F, R), no adjustments",
            frequency: 60.0,
            recency: 40.0,
            monetary: 0.0,
            due: 0.0,
            after_sale: AfterSale::Ignored,
            payment: false,
        },
        Points {
            name: "frequency only",
            frequency: 100.0,
            recency: 0.0,
            monetary: 0.0,
            due: 0.0,
            after_sale: AfterSale::Ignored,
            payment: false,
        },
        Points {
            name: "recency only",
            frequency: 0.0,
            recency: 100.0,
            monetary: 0.0,
            due: 0.0,
            after_sale: AfterSale::Ignored,
            payment: false,
        },
    ];

    fn points(v: &Points, a: &BuyerAggregate, ranks: Ranks, as_of: DateTime<Utc>) -> f64 {
        let mut value = v.frequency * ranks.frequency
            + v.recency * ranks.recency
            + v.monetary * ranks.monetary
            + v.due * due_signal(due_ratio(a, as_of));
        let all_refunded = a.paid_order_count > 0 && a.after_sale_count >= a.paid_order_count;
        if a.after_sale_count > 0 {
            match v.after_sale {
                AfterSale::PerOrder => {
                    value -= (AFTER_SALE_PENALTY * f64::from(a.after_sale_count))
                        .min(MAX_AFTER_SALE_PENALTY);
                }
                AfterSale::Share if a.paid_order_count > 0 => {
                    let share = f64::from(a.after_sale_count) / f64::from(a.paid_order_count);
                    value -= AFTER_SALE_PENALTY * share.min(1.0);
                }
                AfterSale::Share | AfterSale::AllRefunded | AfterSale::Ignored => {}
            }
            if all_refunded && v.after_sale != AfterSale::Ignored {
                value -= ALL_REFUNDED_PENALTY;
            }
        }
        if v.payment {
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

    fn days(d: Duration) -> f64 {
        d.num_seconds() as f64 / 86_400.0
    }

    /// Purchases per day of tenure, shrunk toward the shop's mean: (x + 0.25) / (T + 30 days),
    /// x paid orders, T days since the first one (the NBD posterior mean rate, r = 0.25 and
    /// α = 30 days).
    fn tenure_rate(a: &BuyerAggregate, as_of: DateTime<Utc>) -> f64 {
        let first = a.first_paid_time.unwrap_or(a.first_order_time);
        (f64::from(a.paid_order_count) + 0.25) / (days(as_of - first).max(0.0) + 30.0)
    }

    /// The tenure rate times a "still active" term: exp(−idle · rate), the chance of no purchase
    /// in the idle days at that rate (how many of the buyer's own gaps have passed).
    fn tenure_rate_alive(a: &BuyerAggregate, as_of: DateTime<Utc>) -> f64 {
        let rate = tenure_rate(a, as_of);
        let idle = days(as_of - a.last_activity()).max(0.0);
        rate * (-idle * rate).exp()
    }

    /// Reference, not a candidate: the MBG/NBD posterior chance that the buyer buys within 30
    /// days, P(active) · (1 − ((α + T) / (α + T + 30))^(r + x)), with the simulator's own
    /// parameters (a real shop would have to fit them) and every order placed (x repeat orders,
    /// T days since the first, t_x days from the first to the last). What a model that knows the
    /// process can reach from the history.
    fn posterior(a: &BuyerAggregate, as_of: DateTime<Utc>) -> f64 {
        let (r, alpha, da, db) = (0.243, 4.414 * 7.0, 0.793, 2.426);
        let x = f64::from(a.order_count.saturating_sub(1));
        let t = days(as_of - a.first_order_time).max(0.0);
        let tx = days(a.last_order_time - a.first_order_time).max(0.0);
        let odds = da / (db + x) * ((alpha + t) / (alpha + tx)).powf(r + x);
        (1.0 - ((alpha + t) / (alpha + t + 30.0)).powf(r + x)) / (1.0 + odds)
    }

    fn export(sim: &Path, dir: &Path, platform: &str, seed: u64) -> (PathBuf, Child) {
        let file = dir.join(format!("{platform}-{seed}.json"));
        let child = Command::new(sim)
            .args([
                "dataset",
                "--platform",
                platform,
                "--seed",
                &seed.to_string(),
            ])
            .args(["--orders", "5000", "--history-days", "365"])
            .args(["--anchor-time", "2026-03-01T00:00:00Z", "--out"])
            .arg(&file)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        (file, child)
    }

    fn datasets() -> Vec<(String, Dataset)> {
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let status = Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "platform-sim"])
            .current_dir(&repo)
            .status()
            .unwrap();
        assert!(status.success());
        let sim = repo.join("target/debug/platform-sim");
        let dir = std::env::temp_dir().join(format!("leadctl-study-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut out = Vec::new();
        for seed in SEEDS {
            let runs: Vec<_> = PLATFORMS
                .iter()
                .map(|p| (*p, export(&sim, &dir, p, seed)))
                .collect();
            for (platform, (file, mut child)) in runs {
                assert!(child.wait().unwrap().success());
                out.push((format!("{platform} seed {seed}"), load(&file).unwrap()));
            }
        }
        std::fs::remove_dir_all(&dir).ok();
        out
    }

    /// A score from the aggregate and `as_of` alone.
    type Formula = fn(&BuyerAggregate, DateTime<Utc>) -> f64;

    /// Per variant: (shop, lift, ratio, normalized Gini).
    type Results = Vec<(String, f64, f64, f64)>;

    #[test]
    #[ignore = "a study that prints tables (docs/model-quality.md)"]
    fn variants() {
        let mut names: Vec<&str> = vec!["built-in predict_intention"];
        names.extend(VARIANTS.iter().map(|v| v.name));
        let formulas: [(&str, Formula); 3] = [
            ("tenure rate (x + 0.25) / (T + 30 d)", tenure_rate),
            ("tenure rate × exp(−idle · rate)", tenure_rate_alive),
            ("reference: MBG/NBD posterior, true parameters", posterior),
        ];
        names.extend(formulas.iter().map(|f| f.0));
        let mut results: Vec<Results> = vec![Vec::new(); names.len()];
        for (shop, d) in datasets() {
            let (cutoff, end) = window(&d, &Options::default()).unwrap();
            let (rows, aggregates) = histories(&d, cutoff, end);
            let builtin = measure(&builtin_scores(&d, cutoff, end), cutoff, end, 0.1).unwrap();
            println!(
                "{shop}: buyers {}, base rate {:.3}, ceiling lift {:.2} (Gini {:.3}), perfect {:.2}",
                builtin.buyers,
                builtin.base_rate,
                builtin.ceiling_lift,
                builtin.ceiling_normalized_gini,
                builtin.perfect_lift
            );
            let mut reports = vec![builtin];
            for v in VARIANTS {
                let mut scored = rows.clone();
                score_with(&mut scored, &aggregates, |a, ranks| {
                    points(v, a, ranks, cutoff)
                });
                reports.push(measure(&scored, cutoff, end, 0.1).unwrap());
            }
            for (_, formula) in &formulas {
                let mut scored = rows.clone();
                score_with(&mut scored, &aggregates, |a, _| formula(a, cutoff));
                reports.push(measure(&scored, cutoff, end, 0.1).unwrap());
            }
            assert!(
                close(reports[0].model_lift, reports[1].model_lift),
                "the copy is exact"
            );
            for ((name, r), out) in names.iter().zip(&reports).zip(&mut results) {
                println!(
                    "  {name:<48} lift {:.2}  ratio {:.3}  Gini {:.3}",
                    r.model_lift, r.ratio, r.normalized_gini
                );
                out.push((shop.clone(), r.model_lift, r.ratio, r.normalized_gini));
            }
        }
        println!(
            "\n| variant | ratio mean | ratio min | lift mean | lift min | Gini mean | Taobao ratio \
             (seeds {SEEDS:?}) |"
        );
        println!("|---|---|---|---|---|---|---|");
        for (name, rows) in names.iter().zip(&results) {
            let n = rows.len() as f64;
            let mean = |f: fn(&(String, f64, f64, f64)) -> f64| rows.iter().map(f).sum::<f64>() / n;
            let min = |f: fn(&(String, f64, f64, f64)) -> f64| {
                rows.iter().map(f).fold(f64::INFINITY, f64::min)
            };
            let taobao: Vec<String> = rows
                .iter()
                .filter(|r| r.0.starts_with("TAOBAO"))
                .map(|r| format!("{:.3}", r.2))
                .collect();
            println!(
                "| {name} | {:.3} | {:.3} | {:.2} | {:.2} | {:.3} | {} |",
                mean(|r| r.2),
                min(|r| r.2),
                mean(|r| r.1),
                min(|r| r.1),
                mean(|r| r.3),
                taobao.join(" / ")
            );
        }
    }
}
