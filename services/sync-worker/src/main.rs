//! sync-worker: consumes `SyncRequested`, pulls orders from the platform, stores them raw and
//! announces them with `RawOrdersFetched`; schedules periodic syncs.

use anyhow::Context as _;
use sync_worker::{Application, Settings};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    leadgen_telemetry::exit_code(run().await)
}

async fn run() -> anyhow::Result<()> {
    let settings: Settings = leadgen_settings::load(&leadgen_settings::Sources::from_env())
        .context("loading configuration")?;
    let _telemetry = leadgen_telemetry::init(&settings.telemetry, "sync-worker")?;
    let shutdown = leadgen_runtime::shutdown_on_signals();
    let app = Application::build(settings).await?;
    tracing::info!(port = app.port(), "sync-worker started");
    app.run_until_stopped(shutdown).await
}
