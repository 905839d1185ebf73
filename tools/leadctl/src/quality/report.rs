//! The report as text or JSON, and the bars the command is asked to hold.

use std::path::Path;

use super::{Ceiling, Dataset, Options, Report, evaluate, load};

fn pct(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}

/// The report as text, one measurement a line.
fn render(report: &Report, dataset: &Dataset, path: &Path) -> String {
    let top = pct(report.top);
    let ceiling = match report.ceiling {
        Ceiling::TrueRate => "ranking by true purchase rate at the cut-off, 0 once inactive",
        Ceiling::Outcome => "ranking by the outcome itself: no true rates in the file",
    };
    let lines = [
        (
            "dataset".to_owned(),
            format!("{} ({})", path.display(), dataset.source),
        ),
        (
            "cut-off".to_owned(),
            format!(
                "{} (outcome: a paid order created until {})",
                report.cutoff.to_rfc3339(),
                report.horizon_end.to_rfc3339()
            ),
        ),
        ("buyers scored".to_owned(), report.buyers.to_string()),
        (
            "buyers buying again".to_owned(),
            format!(
                "{} (base rate {})",
                report.buyers_buying_again,
                pct(report.base_rate)
            ),
        ),
        (
            format!("model lift, top {top}"),
            format!(
                "{:.2} (share {}; {} buyers tied at score {} on the boundary, {} of them \
                 included; any tie order gives {:.2}–{:.2})",
                report.model_lift,
                pct(report.model_top_share),
                report.boundary_group,
                report.boundary_score,
                pct(report.boundary_included),
                report.model_lift_ties_worst,
                report.model_lift_ties_best
            ),
        ),
        (
            format!("ceiling lift, top {top}"),
            format!(
                "{:.2} ({ceiling}); perfect hindsight {:.2}",
                report.ceiling_lift, report.perfect_lift
            ),
        ),
        (
            "ratio model/ceiling".to_owned(),
            format!("{:.3}", report.ratio),
        ),
        (
            "normalized Gini".to_owned(),
            format!(
                "model {:.3}, ceiling {:.3}",
                report.normalized_gini, report.ceiling_normalized_gini
            ),
        ),
    ];
    lines
        .iter()
        .map(|(label, value)| format!("{label:<26}{value}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `leadctl model-quality`.
pub fn run(
    path: &Path,
    options: &Options,
    require_ratio: Option<f64>,
    require_lift: Option<f64>,
    json: bool,
) -> anyhow::Result<()> {
    let dataset = load(path)?;
    let report = evaluate(&dataset, options)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", render(&report, &dataset, path));
    }
    let mut failures = Vec::new();
    if let Some(r) = require_ratio.filter(|r| report.ratio.is_nan() || report.ratio < *r) {
        failures.push(format!(
            "ratio model/ceiling {:.3} is below the required {r}",
            report.ratio
        ));
    }
    if let Some(l) = require_lift.filter(|l| report.model_lift.is_nan() || report.model_lift < *l) {
        failures.push(format!(
            "model lift {:.2} is below the required {l}",
            report.model_lift
        ));
    }
    if !failures.is_empty() {
        // A missed bar is a result, not a failure of the command: no error trace.
        eprintln!("FAILED: {}", failures.join("; "));
        std::process::exit(1);
    }
    Ok(())
}
