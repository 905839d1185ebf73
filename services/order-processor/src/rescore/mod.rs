//! The shop rescore: ranks every live lead of a shop against all of the shop's buyers (exact
//! percentiles), rescores them as of today, and stores the shop's compact distribution for the
//! provisional ranks of the batches that follow.
//!
//! A shop is rescored once its leads changed and then settled (no change for `settle`, or at the
//! latest every `max_wait` while changes keep coming), and every day (recency, "due" and dormancy
//! move with time). Because the final scores depend only on the final set of buyers, processing
//! the same orders in any order, batch split or number of replicas gives the same leads, tags and
//! scores once the shop has settled.
//!
//! When an external scorer is configured, leads whose buyer changed since it last scored them are
//! sent to it between the read and the write, outside any transaction; a lead it cannot score
//! (absent, slow, failing, circuit open) is scored by the built-in model and asked again at the
//! next rescore. `scored_by` records which one did.
//!
//! Reads happen in one short transaction, writes in another that locks the changed leads in id
//! order and skips any a batch changed in between (that batch marked the shop dirty again).
//!
//! A lead that no longer reads (its sealed contact does not open, its stored aggregate, intention
//! or reasons do not parse) is left as it is and counted (`leadgen_rescore_leads_skipped_total`);
//! the rest of its shop is rescored. A shop whose rescore fails all the same is not claimed again
//! for a while, longer after each failure in a row ([`FailedShops`]), so the shops behind it in
//! the claim order are rescored meanwhile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use leadgen_db::{DbPool, sealed};
use leadgen_domain::buyer::BuyerAggregate;
use leadgen_domain::scoring::{
    Assessment, Intention, Ranks, ShopDistribution, assess, predict_intention,
};
use leadgen_domain::validity::{ContactValidity, filter_contact_info, no_contact};
use leadgen_domain::{ContactField, LeadId};
use leadgen_events::ScoredBy;
use serde::Deserialize as _;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

mod external;
mod write;

use external::MAX_EXTERNAL_PER_RESCORE;
use write::write_chunk;

use crate::lead_record::standing_intention;
use crate::processor::Processor;
use crate::repo::leads::{self, LeadRow};
use crate::repo::shop_stats::{self, Claimed};
use crate::unreadable::Unreadable;

/// How long a shop whose rescore failed waits before it is claimed again, doubled after each
/// further failure in a row up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(3_600);

/// One live lead's inputs in a rescore.
struct Plan<'a> {
    row: &'a LeadRow,
    aggregate: BuyerAggregate,
    ranks: Ranks,
    validity: ContactValidity,
    builtin: Intention,
    /// The external scorer's intention, standing until the buyer changes (`external_pending`).
    external: Option<Intention>,
    /// The standing external intention is older than the scorer's `stands_days`: it is asked
    /// again, and stands until the answer comes.
    external_due: bool,
}

/// A lead whose score, tags, reasons, scorer or contact verdict changed.
struct Changed {
    row: LeadRow,
    aggregate: BuyerAggregate,
    validity: ContactValidity,
    assessment: Assessment,
    scored_by: ScoredBy,
    pending: bool,
    external_as_of: Option<DateTime<Utc>>,
}

pub struct Rescore {
    pub pool: DbPool,
    pub processor: Arc<Processor>,
    pub interval: Duration,
    pub settle: Duration,
    pub max_wait: Duration,
    pub lease: Duration,
    /// Leads read, scored and written at a time (bounds the memory of a large shop's rescore).
    pub chunk: i64,
    /// Shops whose rescore failed, and how many times in a row.
    pub failures: FailedShops,
    /// The process stops (the token [`Rescore::run`] is given): the loop ends, and a rescore under
    /// way stops after the chunk it is on (a shop of a million leads takes minutes, longer than
    /// the pod's grace).
    pub stop: CancellationToken,
}

/// How many rescores in a row each shop failed (this process's memory: after a restart a shop
/// that keeps failing starts again from the first backoff).
#[derive(Debug, Default)]
pub struct FailedShops(Mutex<HashMap<i64, u32>>);

impl FailedShops {
    /// Records one more failure of `shop`; answers how long it now waits.
    fn backoff(&self, shop: i64) -> Duration {
        let failed = self.0.lock().map_or(1, |mut counts| {
            let n = counts.entry(shop).or_default();
            *n = n.saturating_add(1);
            *n
        });
        FIRST_BACKOFF
            .saturating_mul(2_u32.saturating_pow(failed.saturating_sub(1)))
            .min(MAX_BACKOFF)
    }

    fn succeeded(&self, shop: i64) {
        if let Ok(mut counts) = self.0.lock() {
            counts.remove(&shop);
        }
    }
}

/// What one rescore did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rescored {
    pub platform_id: i64,
    pub leads: usize,
    pub changed: usize,
    /// Leads the external scorer still owes an intention (it failed, or the rescore's
    /// [`MAX_EXTERNAL_PER_RESCORE`] was reached): the shop is rescored again after
    /// [`EXTERNAL_AGAIN_AFTER`], or [`EXTERNAL_DOWN_AGAIN_AFTER`] when the scorer answered none.
    pub external_pending: usize,
    /// Intentions the external scorer answered in this rescore.
    pub external_answered: usize,
    /// Stopped between two chunks with its process ([`Rescore::stop`]), the shop left to the next
    /// rescore.
    pub stopped: bool,
}

/// How long a shop whose leads still wait for the external scorer waits for its next rescore
/// while the scorer answers: a backlog over [`MAX_EXTERNAL_PER_RESCORE`] is asked at about that
/// many leads a minute, and leads it failed for once are asked again soon.
pub const EXTERNAL_AGAIN_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// The same wait when the scorer answered none of the rescore's leads (down, or refusing them):
/// a whole shop's rescore reads every lead, so a scorer that is down is not asked again every
/// minute.
pub const EXTERNAL_DOWN_AGAIN_AFTER: std::time::Duration = std::time::Duration::from_secs(15 * 60);

impl Rescore {
    /// Rescores due shops until `shutdown`; errors are logged and retried later.
    pub async fn run(mut self, shutdown: CancellationToken) {
        self.stop = shutdown.clone();
        loop {
            match self.rescore_once().await {
                Ok(Some(done)) if done.stopped => {
                    tracing::info!(
                        platform.id = done.platform_id,
                        leads = done.leads,
                        "Rescore stopped with its process; the shop is rescored again"
                    );
                    return;
                }
                Ok(Some(done)) => {
                    tracing::info!(
                        platform.id = done.platform_id,
                        leads = done.leads,
                        leads.changed = done.changed,
                        "Rescored shop"
                    );
                    if shutdown.is_cancelled() {
                        return;
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "Rescore failed; retrying"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    /// Rescores one due shop, if any: a trace of its own once a shop is claimed (the loop's
    /// span lives as long as the process; an idle tick is no trace).
    pub async fn rescore_once(&self) -> anyhow::Result<Option<Rescored>> {
        let as_of = self.processor.as_of();
        let mut conn = leadgen_db::conn(&self.pool).await?;
        let Some(claim) =
            shop_stats::claim(&mut conn, as_of, self.settle, self.max_wait, self.lease).await?
        else {
            return Ok(None);
        };
        let started = std::time::Instant::now();
        let span = tracing::info_span!(
            parent: None,
            "leads.rescore",
            tenant_id = claim.tenant_id,
            platform_id = claim.platform_id
        );
        let rescored = self
            .rescore_shop(&mut conn, &claim, as_of)
            .instrument(span)
            .await;
        match rescored {
            Ok(done) if done.stopped => Ok(Some(done)),
            Ok(done) => {
                metrics::histogram!("leadgen_rescore_duration_seconds")
                    .record(started.elapsed().as_secs_f64());
                self.failures.succeeded(claim.platform_id);
                Ok(Some(done))
            }
            Err(e) => {
                // Released at once, the shop would be claimed again first (the claim orders by
                // `dirty_at`) and fail again, holding back every shop behind it: it waits, and
                // keeps its dirty mark so it is rescored once it may be claimed again.
                let wait = self.failures.backoff(claim.platform_id);
                if let Err(deferring) = shop_stats::defer(&mut conn, claim.platform_id, wait).await
                {
                    tracing::warn!(platform.id = claim.platform_id, error = %deferring, "Deferring a failed rescore failed; its lease runs out instead");
                }
                Err(e.context(format!(
                    "rescoring shop {}; tried again in {} s at the earliest",
                    claim.platform_id,
                    wait.as_secs()
                )))
            }
        }
    }

    /// Rescores a shop in two passes, so its memory stays bounded whatever its size: the rank
    /// distribution from each buyer's few rank features, then the leads in id-ordered chunks,
    /// each scored outside any transaction and written in its own.
    #[tracing::instrument(name = "leads.rescore_shop", skip_all, fields(platform_id = claim.platform_id))]
    async fn rescore_shop(
        &self,
        conn: &mut AsyncPgConnection,
        claim: &Claimed,
        as_of: DateTime<Utc>,
    ) -> anyhow::Result<Rescored> {
        let started = std::time::Instant::now();
        let features = leads::features_of_shop(conn, claim.platform_id).await?;
        // A lead whose last payment does not parse is left out of the ranks; its stored
        // aggregate does not parse either, so it is skipped (and counted) when its chunk is.
        let distribution = ShopDistribution::of_features(features.into_iter().filter_map(|f| {
            let lead = f.lead_id;
            f.into_domain()
                .map_err(|e| {
                    tracing::warn!(lead.id = lead, error = %e, "Lead's last payment unreadable; left out of the shop's ranks");
                })
                .ok()
        }));
        let mut outcome = Rescored {
            platform_id: claim.platform_id,
            ..Rescored::default()
        };
        let mut external_budget = MAX_EXTERNAL_PER_RESCORE;
        let mut after = 0;
        loop {
            if self.stop.is_cancelled() {
                // Its process stops: the chunks written stand, and the shop, still marked
                // changed, is left at once to another replica (or this one once it is back).
                shop_stats::defer(conn, claim.platform_id, Duration::ZERO).await?;
                outcome.stopped = true;
                return Ok(outcome);
            }
            let rows =
                leads::of_shop_after(conn, claim.platform_id, after, self.chunk.max(1)).await?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            outcome.leads += rows.len();
            // The external scorer's calls may take a while: the lease covers them too.
            shop_stats::extend(conn, claim.platform_id, self.lease).await?;
            let (changed, pending, answered) = self
                .score_chunk(
                    claim.tenant_id,
                    &rows,
                    &distribution,
                    as_of,
                    &mut external_budget,
                )
                .await?;
            outcome.changed += changed.len();
            outcome.external_pending += pending;
            outcome.external_answered += answered;
            write_chunk(conn, changed).await?;
            shop_stats::extend(conn, claim.platform_id, self.lease).await?;
        }
        let compact = serde_json::to_value(distribution.compact())?;
        let took = started.elapsed();
        shop_stats::finish(
            conn,
            claim.platform_id,
            claim.dirty_seq,
            as_of,
            compact,
            took,
        )
        .await?;
        if outcome.external_pending > 0 {
            let wait = if outcome.external_answered > 0 || external_budget == 0 {
                EXTERNAL_AGAIN_AFTER
            } else {
                EXTERNAL_DOWN_AGAIN_AFTER
            };
            // The rescore is done and recorded: failing to schedule the next one leaves it to
            // the daily rescore or the shop's next order, and is no failure of this one.
            if let Err(e) = shop_stats::again_after(conn, claim.platform_id, wait).await {
                tracing::warn!(platform.id = claim.platform_id, error = %e, "Could not schedule the rescore for the leads the scorer still owes");
            }
        }
        Ok(outcome)
    }

    /// Scores one chunk of leads (the external scorer first, for those it should score) and
    /// answers those whose score, tags, reasons, scorer or contact verdict changed, how many
    /// still wait for the external scorer, and how many it answered.
    async fn score_chunk(
        &self,
        tenant_id: i64,
        rows: &[LeadRow],
        distribution: &ShopDistribution,
        as_of: DateTime<Utc>,
        external_budget: &mut usize,
    ) -> anyhow::Result<(Vec<Changed>, usize, usize)> {
        let now = Utc::now();
        let mut plans = Vec::with_capacity(rows.len());
        // Left as they are, the rest of the shop rescored (a key gone for good must not stop a
        // shop's daily rescore): counted each, logged once per chunk, not once per lead (a data
        // key a replica lacks would otherwise write a line per lead on every rescore).
        let mut skipped = Skipped::default();
        for row in rows {
            match self.plan(row, distribution, as_of, now) {
                Ok(plan) => plans.push(plan),
                Err(e) => skipped.add(row.id, &e),
            }
        }
        skipped.report();
        let external = self
            .ask_external(tenant_id, &plans, as_of, external_budget)
            .await;
        let mut changed: Vec<Changed> = Vec::new();
        let mut still_pending = 0;
        for plan in plans {
            let answered = external.get(&plan.row.id);
            let (intention, scored_by, pending) = match answered.or(plan.external.as_ref()) {
                Some(i) => (i, ScoredBy::External, false),
                None => (&plan.builtin, ScoredBy::Builtin, plan.row.external_pending),
            };
            // Only a configured scorer is waited for (without one, nothing will answer).
            let owed = pending || (plan.external_due && answered.is_none());
            if owed && self.processor.scorer.is_some() {
                still_pending += 1;
            }
            let external_as_of = match answered {
                Some(_) => Some(as_of),
                None => plan.row.external_as_of,
            };
            let assessment = assess(
                &plan.aggregate,
                plan.ranks,
                intention,
                &plan.validity,
                as_of,
            );
            let row = plan.row;
            let labels: Vec<String> = assessment
                .tags
                .iter()
                .map(|t| t.label().to_owned())
                .collect();
            let reasons = serde_json::to_value(&assessment.reasons)?;
            let same = row.score == i16::from(assessment.score)
                && row.intention == i16::from(assessment.intention)
                && row.intention_tags == labels
                && row.score_reasons == reasons
                && row.model_version == assessment.model_version
                && row.scored_by == scored_by.as_str()
                && row.external_pending == pending
                && row.external_as_of == external_as_of
                && row.contact_validity == plan.validity.validity.as_str();
            if !same {
                changed.push(Changed {
                    row: row.clone(),
                    aggregate: plan.aggregate,
                    validity: plan.validity,
                    assessment,
                    scored_by,
                    pending,
                    external_as_of,
                });
            }
        }
        Ok((changed, still_pending, external.len()))
    }

    /// A lead's inputs, read from its row; an error for a lead that no longer reads.
    fn plan<'a>(
        &self,
        row: &'a LeadRow,
        distribution: &ShopDistribution,
        as_of: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Plan<'a>, Unreadable> {
        // An external intention stands until the buyer changes (external_pending), and for the
        // scorer's `stands_days` at most: it is a prediction as of the day it was asked for, so
        // it is asked again then (one asked before that day was recorded, at once), and stands
        // until the answer comes. The lead is still judged again: its contact (privacy numbers
        // expire), its time- and rank-based tags, and the reachability part of its score.
        let external = (row.scored_by == ScoredBy::External.as_str() && !row.external_pending)
            .then(|| standing_intention(row.intention, &row.score_reasons, &row.model_version))
            .transpose()?;
        let stands = self.processor.scorer.as_ref().map(|s| s.answer_stands());
        let external_due = external.is_some()
            && stands
                .is_some_and(|stands| row.external_as_of.is_none_or(|at| as_of - at >= stands));
        let a = BuyerAggregate::deserialize(&row.aggregate)?;
        let validity = self.validity_of(row, now)?;
        let ranks = distribution.ranks(&a);
        Ok(Plan {
            row,
            builtin: predict_intention(&a, ranks, as_of),
            aggregate: a,
            ranks,
            validity,
            external,
            external_due,
        })
    }

    /// The lead's contact judged again now (privacy numbers expire).
    fn validity_of(
        &self,
        row: &LeadRow,
        now: DateTime<Utc>,
    ) -> Result<ContactValidity, Unreadable> {
        let json = self.processor.sealer.open(
            &sealed::lead_contact(LeadId::new(row.id)),
            &row.contact_info,
        )?;
        let contact: Option<ContactField> = serde_json::from_str(&json)?;
        Ok(contact.map_or_else(no_contact, |c| filter_contact_info(&c, now)))
    }
}

/// Leaves a lead that no longer reads as it is: logged by its id alone (what did not read says
/// no value) and counted, so the rest of its shop is still rescored.
fn skip(lead: i64, why: &dyn std::fmt::Display) {
    metrics::counter!("leadgen_rescore_leads_skipped_total").increment(1);
    tracing::warn!(lead.id = lead, error = %why, "Lead unreadable; left as it is by the rescore");
}

/// The leads of a chunk a rescore left as they were because they do not read: counted each,
/// reported in one line (how many, the first one's id and why).
#[derive(Default)]
struct Skipped {
    count: u64,
    first: Option<(i64, String)>,
}

impl Skipped {
    fn add(&mut self, lead: i64, why: &dyn std::fmt::Display) {
        self.count += 1;
        self.first.get_or_insert_with(|| (lead, why.to_string()));
    }

    fn report(self) {
        let Some((lead, why)) = self.first else {
            return;
        };
        metrics::counter!("leadgen_rescore_leads_skipped_total").increment(self.count);
        tracing::warn!(
            leads.skipped = self.count,
            lead.id = lead,
            error = %why,
            "Leads unreadable; left as they are by the rescore (the first named)"
        );
    }
}
