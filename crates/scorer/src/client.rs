//! The HTTP client: admission by the breaker, retries with backoff, a concurrency limit and a
//! timeout per attempt.

use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use leadgen_domain::scoring::Intention;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use tokio::sync::Semaphore;

use crate::breaker::{Breaker, Transition};
use crate::contract::{PredictRequest, PredictResponse};
use crate::{ScorerError, ScorerSettings};

/// Answers larger than this are garbage (a real one is well under 4 KiB).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// What the settings do not expose: the breaker's cooldown below a second and the backoff
/// delays (tests shorten them).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tuning {
    pub(crate) breaker_cooldown: Duration,
    pub(crate) min_delay: Duration,
    pub(crate) max_delay: Duration,
}

impl Tuning {
    fn of(settings: &ScorerSettings) -> Self {
        Tuning {
            breaker_cooldown: settings.breaker_cooldown(),
            min_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(400),
        }
    }
}

/// A client of the external scorer. One per process: its concurrency limit and breaker are
/// shared by every call made through it.
#[derive(Debug)]
pub struct Scorer {
    client: reqwest::Client,
    url: reqwest::Url,
    timeout: Duration,
    retries: usize,
    tuning: Tuning,
    permits: Semaphore,
    breaker: Breaker,
    stands: chrono::Duration,
}

impl Scorer {
    /// A client for `settings`, or `None` when no URL is configured (the scorer is disabled).
    pub fn new(settings: &ScorerSettings) -> Result<Option<Scorer>, ScorerError> {
        Scorer::with_tuning(settings, Tuning::of(settings))
    }

    pub(crate) fn with_tuning(
        settings: &ScorerSettings,
        tuning: Tuning,
    ) -> Result<Option<Scorer>, ScorerError> {
        let Some(url) = settings.enabled_url() else {
            return Ok(None);
        };
        let url = reqwest::Url::parse(url)
            .map_err(|e| ScorerError::Config(format!("url `{url}`: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ScorerError::Config(format!(
                "url scheme `{}` is not http(s)",
                url.scheme()
            )));
        }
        if settings.timeout_ms == 0 {
            return Err(ScorerError::Config(
                "timeout_ms must be at least 1".to_owned(),
            ));
        }
        if settings.max_concurrency == 0 {
            return Err(ScorerError::Config(
                "max_concurrency must be at least 1".to_owned(),
            ));
        }
        if settings.breaker_failures == 0 {
            return Err(ScorerError::Config(
                "breaker_failures must be at least 1".to_owned(),
            ));
        }
        if settings.stands_days == 0 {
            return Err(ScorerError::Config(
                "stands_days must be at least 1".to_owned(),
            ));
        }
        let timeout = settings.timeout();
        let client = reqwest::Client::builder()
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(settings.max_concurrency)
            .user_agent(concat!("leadgen-scorer/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ScorerError::Config(format!("HTTP client: {}", chain(&e))))?;
        Ok(Some(Scorer {
            client,
            url,
            timeout,
            retries: settings.retries,
            tuning,
            permits: Semaphore::new(settings.max_concurrency),
            breaker: Breaker::new(settings.breaker_failures, tuning.breaker_cooldown),
            stands: settings.stands(),
        }))
    }

    /// How long an answer stands before the lead is asked again ([`ScorerSettings::stands_days`]).
    pub fn answer_stands(&self) -> chrono::Duration {
        self.stands
    }

    /// The external `predictIntention`: the intention, its reasons and the external model's
    /// version, or why there is none (then use the built-in model).
    #[tracing::instrument(
        name = "scorer.predict",
        skip_all,
        fields(lead_id = req.model_input.lead_id, tenant_id = req.model_input.tenant_id)
    )]
    pub async fn predict(&self, req: &PredictRequest) -> Result<Intention, ScorerError> {
        let started = Instant::now();
        let outcome = self.predict_once(req).await;
        let label = match &outcome {
            Ok(_) => "ok",
            Err(e) => e.metric_label(),
        };
        metrics::counter!("leadgen_scorer_calls_total", "outcome" => label).increment(1);
        let elapsed = started.elapsed();
        // A call the open circuit refused was never sent: timed, it would read as a fast scorer
        // exactly while it is down.
        if !matches!(outcome, Err(ScorerError::CircuitOpen)) {
            metrics::histogram!("leadgen_scorer_duration_seconds").record(elapsed.as_secs_f64());
        }
        // The interaction log (design 7: 与 AI 服务的交互日志), under this call's span (the
        // lead and tenant): a failed call at warn, with its reason; an answered one, or one the
        // open circuit never sent (a rescore would write thousands), at debug.
        let duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        match &outcome {
            Ok(_) | Err(ScorerError::CircuitOpen) => {
                tracing::debug!(outcome = label, duration_ms, "Scorer call");
            }
            Err(e) => {
                tracing::warn!(outcome = label, duration_ms, error = %e, "Scorer call failed")
            }
        }
        outcome
    }

    async fn predict_once(&self, req: &PredictRequest) -> Result<Intention, ScorerError> {
        let body = serde_json::to_vec(req)
            .map_err(|e| ScorerError::Transport(format!("encoding the request: {e}")))?;
        let admission = self
            .breaker
            .admit(Instant::now())
            .ok_or(ScorerError::CircuitOpen)?;
        if admission.is_trial() {
            tracing::info!("Scorer circuit half-open: sending a trial call");
        }
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.tuning.min_delay)
            .with_max_delay(self.tuning.max_delay)
            .with_max_times(self.retries)
            .with_jitter();
        let outcome = (|| self.attempt(&body))
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(ScorerError::is_retryable)
            .notify(|e, d| {
                tracing::debug!(
                    error = %e,
                    retry_in_ms = d.as_millis() as u64,
                    "Scorer call failed; retrying"
                );
            })
            .await;
        let transition = match &outcome {
            Ok(_) => admission.succeeded(),
            Err(_) => admission.failed(Instant::now()),
        };
        match transition {
            Transition::Opened => tracing::warn!(
                cooldown_ms = self.tuning.breaker_cooldown.as_millis() as u64,
                "Scorer circuit opened: calls fall back to the built-in model"
            ),
            Transition::Closed => tracing::info!("Scorer circuit closed"),
            Transition::None => {}
        }
        outcome
    }

    /// One attempt: a slot under the concurrency limit, then the exchange within the timeout.
    async fn attempt(&self, body: &[u8]) -> Result<Intention, ScorerError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ScorerError::Transport("the scorer client is closed".to_owned()))?;
        tokio::time::timeout(self.timeout, self.exchange(body))
            .await
            .map_err(|_| ScorerError::Timeout)?
    }

    async fn exchange(&self, body: &[u8]) -> Result<Intention, ScorerError> {
        let mut response = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(body.to_vec())
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(ScorerError::Status(status.as_u16()));
        }
        let mut answer = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if answer.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(ScorerError::Garbage(format!(
                    "answer larger than {MAX_RESPONSE_BYTES} bytes"
                )));
            }
            answer.extend_from_slice(&chunk);
        }
        PredictResponse::parse(&answer)
    }
}

fn transport(e: reqwest::Error) -> ScorerError {
    if e.is_timeout() {
        ScorerError::Timeout
    } else {
        ScorerError::Transport(chain(&e.without_url()))
    }
}

/// An error and its sources, `a: b: c` (reqwest's own message omits the cause).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
