//! What every unit of work shares: the sealer, the blind indexer and the scoring clock.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use leadgen_crypto::{BlindIndexer, Sealer};
use leadgen_scorer::Scorer;

use crate::batch::Context;

#[derive(Clone)]
pub struct Processor {
    pub sealer: Arc<Sealer>,
    pub indexer: Arc<BlindIndexer>,
    /// Fixed scoring instant (tests, replays); otherwise the start of the current Beijing day.
    pub as_of: Option<DateTime<Utc>>,
    /// The external scorer, when configured: the rescore asks it for leads whose buyer changed.
    pub scorer: Option<Arc<Scorer>>,
}

impl Processor {
    /// The instant scores are computed as of: the same all day, so arrival order never matters.
    pub fn as_of(&self) -> DateTime<Utc> {
        self.as_of
            .unwrap_or_else(|| leadgen_domain::time::start_of_beijing_day(Utc::now()))
    }

    pub fn context(&self) -> Context<'_> {
        Context {
            sealer: &self.sealer,
            indexer: &self.indexer,
            as_of: self.as_of(),
            external_scorer: self.scorer.is_some(),
        }
    }
}
