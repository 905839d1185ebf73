//! lead-api: the leads identified from orders, for sales staff.

use anyhow::Context as _;
use lead_api::{Application, Settings};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    leadgen_telemetry::exit_code(run().await)
}

async fn run() -> anyhow::Result<()> {
    let settings: Settings = leadgen_settings::load(&leadgen_settings::Sources::from_env())
        .context("loading configuration")?;
    let _telemetry = leadgen_telemetry::init(&settings.telemetry, "lead-api")?;
    let shutdown = leadgen_runtime::shutdown_on_signals();
    let app = Application::build(settings).await?;
    tracing::info!(port = app.port(), "lead-api listening");
    app.run_until_stopped(shutdown).await
}
