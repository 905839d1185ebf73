//! order-processor: consumes `RawOrdersFetched`, cleans orders, identifies buyer-leads, and
//! announces them: `LeadIdentified` (v2, and v1 for subscribers not yet moved), `LeadUpdated`
//! when an announced field or the buyer's orders change, `LeadRemoved` when a retention
//! purge ends one.

use anyhow::Context as _;
use order_processor::{Application, Settings};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    leadgen_telemetry::exit_code(run().await)
}

async fn run() -> anyhow::Result<()> {
    let settings: Settings = leadgen_settings::load(&leadgen_settings::Sources::from_env())
        .context("loading configuration")?;
    let _telemetry = leadgen_telemetry::init(&settings.telemetry, "order-processor")?;
    let shutdown = leadgen_runtime::shutdown_on_signals();
    let app = Application::build(settings).await?;
    tracing::info!(port = app.port(), "order-processor started");
    app.run_until_stopped(shutdown).await
}
