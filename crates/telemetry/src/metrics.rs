//! Prometheus metrics: one recorder per process behind the [`metrics`] facade, rendered by
//! `GET /metrics` (`leadgen_http::server`). Crates record with `metrics::counter!` and friends
//! under the names of `docs/metrics.md`; nothing else needs to know the exporter.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Histogram buckets, in seconds: from a quick HTTP answer to a slow platform call, and to a
/// sync message handled for minutes (a long backfill).
const BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
    600.0,
];

/// Installs the process's recorder, labelling every series with `service` (when given). Only
/// the first call installs; later ones return the same handle (tests build several apps in one
/// process).
pub fn install(service: Option<&'static str>) -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        // Buckets for every histogram (`set_buckets` only refuses an empty list).
        let mut builder = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        if let Some(service) = service {
            builder = builder.add_global_label("service", service);
        }
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Fails only when another recorder is installed (then ours just renders nothing).
        let _ = metrics::set_global_recorder(recorder);
        describe();
        handle
    })
}

/// The current metrics in the Prometheus text format.
pub fn render() -> String {
    install(None).render()
}

/// HELP lines for every metric of `docs/metrics.md`.
fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!("http_server_requests_total", "HTTP requests answered");
    describe_counter!(
        "leadgen_http_requests_throttled_total",
        "Authenticated requests refused because their tenant was past its share of the process"
    );
    describe_histogram!(
        "http_server_request_duration_seconds",
        Unit::Seconds,
        "Time to the HTTP response head"
    );
    describe_counter!("leadgen_messages_delivered_total", "Deliveries received");
    describe_counter!("leadgen_messages_acked_total", "Deliveries acknowledged");
    describe_counter!(
        "leadgen_messages_requeued_total",
        "Deliveries returned to their queue for another attempt"
    );
    describe_counter!(
        "leadgen_messages_dead_lettered_total",
        "Deliveries sent to their queue's dead-letter queue"
    );
    describe_gauge!(
        "leadgen_queue_messages",
        "Messages ready in a consumed queue, sampled every 15 s"
    );
    describe_gauge!(
        "leadgen_dead_letter_messages",
        "Messages waiting in a consumed queue's dead-letter queue, sampled every 15 s"
    );
    describe_gauge!(
        "leadgen_unrouted_parked_messages",
        "Events no queue was bound for, parked, sampled every 15 s"
    );
    describe_histogram!(
        "leadgen_message_handle_duration_seconds",
        Unit::Seconds,
        "Handler time per delivery"
    );
    describe_gauge!(
        "leadgen_dependency_up",
        "1 when the dependency answered the process's last check (every 15 s), else 0"
    );
    describe_histogram!(
        "leadgen_db_pool_wait_seconds",
        Unit::Seconds,
        "Time to check a connection out of the database pool"
    );
    describe_counter!(
        "leadgen_db_pool_checkout_failures_total",
        "Checkouts that got no connection (timeout: every connection stayed in use)"
    );
    describe_gauge!(
        "leadgen_db_pool_connections",
        "Pooled database connections by state (in_use, idle), sampled every 15 s"
    );
    describe_gauge!(
        "leadgen_db_pool_waiting",
        "Callers waiting for a pooled connection, sampled every 15 s"
    );
    describe_gauge!("leadgen_outbox_backlog", "Events waiting in the outbox");
    describe_gauge!(
        "leadgen_outbox_oldest_age_seconds",
        Unit::Seconds,
        "Age of the oldest unpublished event"
    );
    describe_counter!(
        "leadgen_outbox_published_total",
        "Events published and confirmed"
    );
    describe_counter!("leadgen_sync_windows_total", "Sync windows fully stored");
    describe_counter!(
        "leadgen_sync_windows_short_total",
        "Sync windows left after their last walk read fewer distinct orders than the platform's total"
    );
    describe_counter!(
        "leadgen_sync_requests_deferred_total",
        "Sync requests sent back to the queue because the worker ran as many syncs as it may, or the tenant its share"
    );
    describe_counter!("leadgen_sync_pages_total", "Order pages fetched and stored");
    describe_counter!("leadgen_sync_orders_total", "Orders stored, by change");
    describe_counter!(
        "leadgen_sync_tasks_finished_total",
        "Sync tasks ended, by status and, when failed, whose the failure is"
    );
    describe_gauge!("leadgen_shops", "Shops per platform and status");
    describe_gauge!(
        "leadgen_sync_watermark_lag_seconds",
        Unit::Seconds,
        "How far behind now the ACTIVE shop whose stored order changes lag most is"
    );
    describe_gauge!(
        "leadgen_raw_orders_pending",
        "Raw orders stored and not yet processed, sampled every 15 s"
    );
    describe_gauge!(
        "leadgen_raw_orders_pending_oldest_age_seconds",
        Unit::Seconds,
        "Age of the oldest raw order not yet processed, sampled every 15 s"
    );
    describe_counter!(
        "leadgen_platform_calls_total",
        "Platform API calls, by outcome"
    );
    describe_histogram!(
        "leadgen_platform_call_duration_seconds",
        Unit::Seconds,
        "One platform API call"
    );
    describe_histogram!(
        "leadgen_platform_rate_limit_wait_seconds",
        Unit::Seconds,
        "Time a platform call waited for the rate limiter"
    );
    describe_counter!(
        "leadgen_platform_rate_limit_late_total",
        "Shared rate-limit slots given up because the call woke too late for them"
    );
    describe_counter!(
        "leadgen_platform_rate_gate_failures_total",
        "Platform calls not made because the shared rate gate could not give them a slot"
    );
    describe_counter!("leadgen_orders_processed_total", "Raw orders processed");
    describe_counter!(
        "leadgen_orders_fetched_unknown_total",
        "Raw order ids a RawOrdersFetched named that are not its tenant's stored orders"
    );
    describe_counter!("leadgen_leads_created_total", "Buyer-leads created");
    describe_counter!("leadgen_leads_updated_total", "Buyer-leads changed");
    describe_counter!("leadgen_leads_merged_total", "Leads merged into another");
    describe_counter!(
        "leadgen_leads_removed_total",
        "Leads deleted by the retention purge"
    );
    describe_histogram!(
        "leadgen_lead_batch_duration_seconds",
        Unit::Seconds,
        "One batch of orders processed into buyer-leads"
    );
    describe_histogram!(
        "leadgen_rescore_duration_seconds",
        Unit::Seconds,
        "One shop's rescore: its live leads ranked, scored and the changed ones written"
    );
    describe_counter!(
        "leadgen_scorer_calls_total",
        "External scorer calls, by outcome"
    );
    describe_counter!(
        "leadgen_contact_reveals_total",
        "Contact reveals answered, by business code (0: revealed)"
    );
    describe_counter!(
        "leadgen_scorer_fallbacks_total",
        "Leads scored by the built-in model because the external scorer did not answer"
    );
    describe_histogram!(
        "leadgen_scorer_duration_seconds",
        Unit::Seconds,
        "One external scorer call"
    );
    describe_counter!(
        "leadgen_platform_calls_held_total",
        "Platform calls not sent because the platform stated a ban that has not ended"
    );
    describe_counter!(
        "leadgen_token_store_failures_total",
        "Failed writes of a shop's refreshed tokens, each tried again under the renewal lock"
    );
    describe_counter!(
        "leadgen_sync_tasks_handed_on_total",
        "Running syncs a stopping process handed on to another worker between pages"
    );
    describe_counter!(
        "leadgen_processed_orders_unreadable_total",
        "Stored processed orders read around while their buyer's lead was rebuilt, by part"
    );
    describe_counter!(
        "leadgen_rescore_leads_skipped_total",
        "Leads a shop rescore left as they were because a stored value does not read"
    );
    describe_counter!(
        "leadgen_sweep_retries_total",
        "Raw orders the pending sweep processed alone that failed and wait to be tried again"
    );
    describe_counter!(
        "leadgen_retention_purge_failures_total",
        "Retention purge steps that failed on a due shop"
    );
    describe_counter!(
        "leadgen_platform_rate_limit_full_total",
        "Platform calls not made because the app key's calls already queued a minute ahead"
    );
    describe_counter!(
        "leadgen_housekeeping_deleted_total",
        "Rows housekeeping deleted past their retention, by table"
    );
    describe_counter!(
        "leadgen_tables_analyzed_total",
        "Tables analyzed because autovacuum does not look after them, by table"
    );
    describe_gauge!(
        "leadgen_retention_purges_due",
        "Disconnected shops past their retention period whose history is not purged yet"
    );
    describe_gauge!(
        "leadgen_retention_purges_failing",
        "Due shops whose last purge step failed"
    );
    describe_gauge!(
        "leadgen_retention_purge_overdue_seconds",
        Unit::Seconds,
        "How long ago the earliest due shop's purge became due"
    );
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    /// The metric names `docs/metrics.md` lists in its tables.
    fn documented() -> BTreeSet<String> {
        include_str!("../../../docs/metrics.md")
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .filter(|name| name.starts_with("leadgen_") || name.starts_with("http_"))
            .map(str::to_owned)
            .collect()
    }

    /// The names the workspace's code records: every string literal that is a metric's name
    /// (`"leadgen_…"`, `"http_server_…"`), whether written in a `counter!`, `gauge!` or
    /// `histogram!` or held in a variable first (a queue's requeued or dead-lettered counter).
    /// Not the HELP lines here, nor tests, nor benchmarks: those name metrics without recording
    /// them.
    fn recorded(dir: &Path, names: &mut BTreeSet<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let skipped = ["target", "tests", "benches"]
                .iter()
                .any(|d| path.ends_with(d))
                || path.ends_with("tests.rs")
                || path.ends_with("telemetry/src/metrics.rs");
            if skipped {
                continue;
            }
            if path.is_dir() {
                recorded(&path, names);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for prefix in ["\"leadgen_", "\"http_server_"] {
                    for (at, _) in text.match_indices(prefix) {
                        let name = text[at + 1..].split('"').next().unwrap_or_default();
                        // A name whole (a prefix a caller completes ends in `_`), and no test's.
                        let metric = !name.starts_with("leadgen_test_")
                            && !name.ends_with('_')
                            && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
                        if metric {
                            names.insert(name.to_owned());
                        }
                    }
                }
            }
        }
    }

    /// Every metric the code records is in `docs/metrics.md`, every documented one is recorded
    /// by the code, and has a HELP line here: a metric added, or left behind, in one place only
    /// fails this.
    #[test]
    fn every_recorded_metric_is_documented_and_described() {
        let documented = documented();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut used = BTreeSet::new();
        for dir in ["crates", "services", "tools"] {
            recorded(&root.join(dir), &mut used);
        }
        assert!(used.len() > 30, "{used:?}");
        // Held in a variable before it is recorded (`leadgen_messaging::consumer`).
        assert!(used.contains("leadgen_messages_requeued_total"), "{used:?}");
        let undocumented: Vec<_> = used.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "not in docs/metrics.md: {undocumented:?}"
        );
        let unrecorded: Vec<_> = documented.difference(&used).collect();
        assert!(
            unrecorded.is_empty(),
            "documented, recorded nowhere: {unrecorded:?}"
        );
        let source = include_str!("metrics.rs");
        let undescribed: Vec<_> = documented
            .iter()
            .filter(|name| !source.contains(&format!("\"{name}\"")))
            .collect();
        assert!(undescribed.is_empty(), "no HELP line: {undescribed:?}");
    }

    /// Every metric an alert rule reads is documented, so recorded (the test above): a name
    /// misspelt in `deploy/prometheus/alerts.yml` would pass promtool's own tests, which feed the
    /// rules made-up series, and never fire.
    #[test]
    fn every_metric_an_alert_reads_is_documented() {
        let documented = documented();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let rules = std::fs::read_to_string(root.join("deploy/prometheus/alerts.yml"))
            .unwrap_or_else(|e| panic!("deploy/prometheus/alerts.yml: {e}"));
        let read: BTreeSet<&str> = rules
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|word| word.starts_with("leadgen_") || word.starts_with("http_server_"))
            .map(|name| {
                ["_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix))
                    .unwrap_or(name)
            })
            .collect();
        assert!(read.len() > 10, "{read:?}");
        let unknown: Vec<_> = read
            .iter()
            .filter(|name| !documented.contains(**name))
            .collect();
        assert!(
            unknown.is_empty(),
            "alerts read undocumented metrics: {unknown:?}"
        );
    }

    #[test]
    fn a_counter_registered_at_zero_is_rendered() {
        // The alerts rely on it: a series created at 0 when a process starts shows its first
        // increment as an increase, even where the last process had left it at 1.
        super::install(None);
        metrics::counter!("leadgen_test_registered_total", "queue" => "q").increment(0);
        let text = super::render();
        assert!(
            text.lines()
                .any(|l| l.starts_with("leadgen_test_registered_total{") && l.ends_with(" 0")),
            "{text}"
        );
    }
}
