//! Controlling the local RabbitMQ from tests with `rabbitmqctl`: finding and force-closing a
//! test's own connections (the broker names each connection after its test's prefix).

use std::time::Duration;

/// Runs `rabbitmqctl` with `args` on a blocking thread; its stdout.
pub async fn rabbitmqctl(args: Vec<String>) -> String {
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("rabbitmqctl")
            .args(&args)
            .output()
    })
    .await
    .expect("rabbitmqctl thread")
    .expect("run rabbitmqctl");
    assert!(
        output.status.success(),
        "rabbitmqctl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The pids of the open connections whose `connection_name` is `name` (the broker names its
/// connection after the prefix, so this finds only this test's connections).
pub async fn connections_named(name: &str) -> Vec<String> {
    let listing = rabbitmqctl(
        [
            "-q",
            "list_connections",
            "--no-table-headers",
            "pid",
            "client_properties",
        ]
        .map(str::to_owned)
        .to_vec(),
    )
    .await;
    let needle = format!("{{\"connection_name\",\"{name}\"}}");
    listing
        .lines()
        .filter(|line| line.contains(&needle))
        .filter_map(|line| line.split('\t').next())
        .map(|pid| pid.trim().to_owned())
        .collect()
}

/// Force-closes every connection named `name` (waiting up to 10 s for one to be listed); how
/// many there were.
pub async fn close_connections_named(name: &str) -> usize {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut pids = connections_named(name).await;
    while pids.is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        pids = connections_named(name).await;
    }
    for pid in &pids {
        rabbitmqctl(vec!["close_connection".into(), pid.clone(), "test".into()]).await;
    }
    pids.len()
}

/// Force-closes both of a process's connections: the publishing one, named `prefix` (waiting up
/// to 10 s for it to be listed), and the consuming one, once a consumer opened it; how many.
pub async fn close_process_connections(prefix: &str) -> usize {
    let publishing = close_connections_named(prefix).await;
    let consuming = leadgen_messaging::Topology::connection_name_of(prefix, true);
    let mut closed = publishing;
    for pid in connections_named(&consuming).await {
        rabbitmqctl(vec!["close_connection".into(), pid, "test".into()]).await;
        closed += 1;
    }
    closed
}

/// How the committed broker definitions (`deploy/rabbitmq/definitions.json`, which operators
/// import and the KEDA ScaledObjects take their queue names from) differ from what the code
/// declares for `queues`, with `config/base.toml`'s prefix and delivery limit: empty when they
/// agree ([`leadgen_messaging::Topology::drift_from`]).
pub fn committed_definitions_drift(queues: &[leadgen_messaging::QueueSpec]) -> Vec<String> {
    let file: serde_json::Value =
        serde_json::from_str(include_str!("../../../deploy/rabbitmq/definitions.json"))
            .expect("deploy/rabbitmq/definitions.json");
    let topology = leadgen_messaging::Topology {
        prefix: "leadgen".into(),
        delivery_limit: 5,
    };
    topology.drift_from(&file, queues)
}
