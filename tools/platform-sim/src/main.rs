//! `platform-sim`: a strict simulator of the e-commerce platforms' OAuth, order and
//! receiver-decrypt APIs, for local runs and end-to-end tests. One process serves every platform,
//! each under its own path prefix (`/taobao/…`); `/_sim/…` holds the test-only admin endpoints.
//! What the decrypt APIs share (quota, scenes, privacy numbers) is in [`reveal`]. One app key is
//! authorized by many sellers: the consent page's `seller` field decides whose shop a code and its
//! tokens belong to, each (app key, seller) its own shop with its own orders ([`shop`],
//! [`consent`]).
//!
//! `platform-sim dataset …` instead writes one shop's orders and its buyers' truth to a file
//! (see [`dataset`]); who buys when is planned by [`behaviour`].

#![recursion_limit = "256"]

mod admin;
mod behaviour;
mod change;
mod cli;
mod consent;
mod dataset;
mod douyin;
mod faults;
mod gateway;
mod http_util;
mod jd;
mod kuaishou;
mod pdd;
mod reveal;
mod shop;
mod state;
mod stats;
mod taobao;
#[cfg(test)]
mod test_support;
mod tokens;

use std::io::Write as _;

use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use clap::Parser as _;

use cli::{Args, SimCommand};
use state::SimState;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    if let Some(SimCommand::Dataset(dataset)) = &args.command {
        return dataset::run(dataset, chrono::Utc::now());
    }
    let config = args.config(chrono::Utc::now())?;
    let state = web::Data::new(SimState::new(config, args.registry(), args.faults()?));
    for app in state.apps.all() {
        tracing::info!(platform = %app.platform, app_key = %app.key, "registered app");
    }
    tracing::info!(anchor = %state.config.anchor, seed = state.config.seed, "generating orders on first use");
    let data = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .configure(admin::configure)
    })
    .workers(2)
    .shutdown_timeout(5)
    .bind(args.listen)
    .with_context(|| format!("binding {}", args.listen))?;
    let addr = server
        .addrs()
        .first()
        .copied()
        .context("the server bound no address")?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "platform-sim listening on http://{addr}")?;
    stdout.flush()?;
    drop(stdout);
    // actix-server stops gracefully on SIGINT and SIGTERM.
    server.run().await.context("running the HTTP server")?;
    tracing::info!("platform-sim stopped");
    Ok(())
}
