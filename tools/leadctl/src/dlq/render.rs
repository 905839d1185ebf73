//! The text the `dlq` commands print: `list`'s table, `show`'s listing of dead letters and
//! `replay`'s summary. Pure functions of the commands' reports, so tests can check the output.

use std::fmt::Write as _;

use super::letter::{DeadLetter, format_time};
use super::{QueueCounts, ReplayReport, Shown};

/// `dlq list`'s table.
pub fn render_list(rows: &[QueueCounts]) -> String {
    let w_dlq = rows
        .iter()
        .map(|r| r.dead_letters.name.len())
        .fold("DEAD-LETTER QUEUE".len(), usize::max);
    let w_queue = rows
        .iter()
        .map(|r| r.queue.name.len())
        .fold("QUEUE".len(), usize::max);
    let mut out = format!(
        "{:<16} {:<w_dlq$} {:>6}  {:<w_queue$} {:>6} {:>9}\n",
        "CONSUMER", "DEAD-LETTER QUEUE", "DEAD", "QUEUE", "READY", "CONSUMERS"
    );
    for row in rows {
        let dead = row
            .dead_letters
            .counts
            .map_or_else(|| "absent".to_owned(), |c| c.messages.to_string());
        let (ready, consumers) = row.queue.counts.map_or_else(
            || ("absent".to_owned(), "-".to_owned()),
            |c| (c.messages.to_string(), c.consumers.to_string()),
        );
        let _ = writeln!(
            out,
            "{:<16} {:<w_dlq$} {:>6}  {:<w_queue$} {:>6} {:>9}",
            row.consumer, row.dead_letters.name, dead, row.queue.name, ready, consumers
        );
    }
    out
}

/// `dlq show`'s listing; bodies only with `body`.
pub fn render_show(shown: &Shown, body: bool) -> String {
    let mut out = format!(
        "{} of {} dead letters, oldest first\n",
        shown.letters.len(),
        shown.total
    );
    for (i, letter) in shown.letters.iter().enumerate() {
        render_letter(&mut out, i + 1, letter, body);
    }
    out
}

fn render_letter(out: &mut String, n: usize, letter: &DeadLetter, body: bool) {
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    let _ = writeln!(
        out,
        "#{n} message id {}  type {}  routing key {}",
        or_dash(&letter.message_id),
        or_dash(&letter.kind),
        or_dash(&letter.routing_key)
    );
    if let Some(cause) = &letter.cause {
        let _ = writeln!(
            out,
            "   dead-lettered by the consumer of {} after {} deliveries at {}: {}",
            cause.queue,
            cause.deliveries,
            cause.time.map_or_else(|| "-".to_owned(), format_time),
            cause.reason
        );
    }
    for death in &letter.deaths {
        let _ = writeln!(
            out,
            "   dead-lettered: {} x{} from {} (routing keys {}) at {}",
            death.reason,
            death.count,
            death.queue,
            death.routing_keys.join(","),
            death.time.map_or_else(|| "-".to_owned(), format_time)
        );
    }
    let _ = writeln!(
        out,
        "   first death: {}  published at: {}  body: {} bytes ({})",
        or_dash(&letter.first_death_reason),
        letter.timestamp.map_or_else(|| "-".to_owned(), format_time),
        letter.body.len(),
        or_dash(&letter.content_type)
    );
    if body {
        let text = serde_json::from_slice::<serde_json::Value>(&letter.body)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| String::from_utf8_lossy(&letter.body).into_owned());
        let _ = writeln!(out, "{text}");
    }
}

/// `dlq replay`'s summary.
pub fn render_replay(report: &ReplayReport) -> String {
    let mut out = format!(
        "replayed {} of {} dead letters examined\n",
        report.replayed.len(),
        report.examined
    );
    for id in &report.replayed {
        let _ = writeln!(out, "  replayed {id}");
    }
    for skipped in &report.skipped {
        let _ = writeln!(out, "  left {}: {}", skipped.message_id, skipped.reason);
    }
    out
}
