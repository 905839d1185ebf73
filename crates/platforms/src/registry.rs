//! The configured client of each platform.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use leadgen_domain::PlatformType;

use crate::client::{PlatformClient, PlatformError};
use crate::douyin::DouyinClient;
use crate::jd::JdClient;
use crate::kuaishou::KuaishouClient;
use crate::pdd::PddClient;
use crate::resilience::Limiter;
use crate::taobao::TaobaoClient;

/// Endpoints and limits of one platform (from `[platforms.<name>]`).
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub api_url: String,
    pub authorize_url: String,
    pub token_url: String,
    pub qps: u32,
    pub timeout: Duration,
}

/// What one adapter needs to make calls.
pub struct Transport {
    pub http: reqwest::Client,
    pub endpoint: Endpoint,
    pub limiter: Limiter,
}

impl Transport {
    pub fn new(endpoint: Endpoint) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(endpoint.timeout)
            .build()?;
        let limiter = Limiter::per_second(endpoint.qps);
        Ok(Transport {
            http,
            endpoint,
            limiter,
        })
    }

    /// One gateway call as Taobao, JD and PDD make it: wait for `app_key`'s rate limit at
    /// `api`, only then build the signed parameters with `sign` (their timestamp is the moment
    /// the call leaves, however long the wait: Taobao and PDD refuse one more than 10 minutes
    /// off, JD one more than 6), POST them as a form to the API URL, read the JSON answer, and
    /// turn the platform's error envelope (read by `platform_error`) into its typed error,
    /// which the app key's limiter learns from ([`Transport::learn`]) with the scope
    /// `app_wide_ban` reads in the answer.
    pub async fn post_form(
        &self,
        app_key: &str,
        api: &str,
        sign: impl FnOnce() -> std::collections::BTreeMap<String, String>,
        platform_error: fn(&serde_json::Value) -> Option<PlatformError>,
        app_wide_ban: fn(&serde_json::Value) -> Option<crate::resilience::BanScope>,
    ) -> Result<serde_json::Value, PlatformError> {
        self.limiter.admit(app_key, api).await?;
        let params = sign();
        let json = self
            .json(
                self.http.post(&self.endpoint.api_url).form(&params),
                &platform_error,
            )
            .await?;
        match platform_error(&json) {
            Some(error) => Err(self.learn(app_key, api, error, app_wide_ban(&json)).await),
            None => {
                self.limiter.answered(app_key, api);
                Ok(json)
            }
        }
    }

    /// What the app key's limiter learns from the platform's `error` on a call of `api`, before
    /// the error goes back: where `scope` says the error is the app key's (not one shop's), a
    /// stated ban holds the key's next calls of the API, or of every API, until it ends, and a
    /// throttle that states no wait holds them for a time that grows while such throttles keep
    /// coming ([`Limiter::hold_unstated`]; the error then states that hold, for the retries to
    /// wait out rather than spend themselves on held calls). A shop's ban is waited out by that
    /// shop's backoff alone.
    pub async fn learn(
        &self,
        app_key: &str,
        api: &str,
        error: PlatformError,
        scope: Option<crate::resilience::BanScope>,
    ) -> PlatformError {
        let Some(scope) = scope else {
            return error;
        };
        match (error.retry_after(), error) {
            (Some(ban), error) => {
                self.limiter
                    .hold(app_key, api, scope, ban, &error.platform_detail())
                    .await;
                error
            }
            (None, PlatformError::Throttled { detail, .. }) => {
                let hold = self
                    .limiter
                    .hold_unstated(app_key, api, scope, &detail)
                    .await;
                PlatformError::Throttled {
                    retry_after: Some(hold),
                    detail,
                }
            }
            (None, error) => error,
        }
    }

    /// Sends `request` and reads a JSON answer ([`read_json`]), `platform_error` reading the
    /// platform's error in it.
    pub async fn json(
        &self,
        request: reqwest::RequestBuilder,
        platform_error: ErrorReader<'_>,
    ) -> Result<serde_json::Value, PlatformError> {
        read_json(send(request).await, platform_error).await
    }
}

/// How a platform reads the error its answer carries (its envelope, or a token endpoint's
/// refusal): the typed error, `None` when the answer carries none. [`read_json`] asks it of a
/// 401, 403 or 429 answer's body.
pub type ErrorReader<'a> = &'a (dyn Fn(&serde_json::Value) -> Option<PlatformError> + Sync);

/// Reads a platform's HTTP answer as JSON, the status first. URLs (which may carry secrets in
/// their query) are kept out of the errors.
///
/// - Transport failures and timeouts are [`PlatformError::Unavailable`]; so is a 5xx, or
///   [`PlatformError::UnavailableFor`] with the wait its `Retry-After` states ([`stated_wait`]:
///   seconds or an HTTP-date), so the retries do not come back inside it; unless its body is
///   the platform's documented error asking for more than a retry ([`recovering_error`]: an
///   expired session, a throttle), which it then is.
/// - A 429 is [`PlatformError::Throttled`] whatever its body (an empty object would read as an
///   answer without its result), with the longer of the waits its `Retry-After` and its body
///   state (the body read by `platform_error` when it is JSON: Taobao's code 7 "This ban will
///   last for N more seconds").
/// - A 401 or 403 whose body `platform_error` reads as an error is that answer, read by the
///   caller as any other; one whose body it does not read (an HTML page, a gateway's own JSON)
///   is [`PlatformError::Unknown`] with code `HTTP 401` (or 403) and the body's words: it may
///   well say the token was refused, so it is retried and then refreshed once, never taken
///   for a malformed answer (which is not refreshed) nor read as one without its orders.
/// - A body that is not JSON is [`PlatformError::Malformed`].
pub async fn read_json(
    response: Result<reqwest::Response, reqwest::Error>,
    platform_error: ErrorReader<'_>,
) -> Result<serde_json::Value, PlatformError> {
    let response = response.map_err(transport_failure)?;
    let status = response.status();
    let stated = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| stated_wait(v, chrono::Utc::now()));
    let body = capped_body(response).await?;
    if status.is_server_error() {
        if let Some(said) = recovering_error(&body, platform_error, stated) {
            return Err(said);
        }
        let detail = format!(
            "HTTP {status}{}",
            crate::client::platform_said(&error_words(&body))
        );
        return Err(match stated {
            Some(retry_after) => PlatformError::UnavailableFor {
                retry_after,
                detail,
            },
            None => PlatformError::Unavailable(detail),
        });
    }
    let json = json_body(status, &body);
    let said = || json.as_ref().ok().and_then(platform_error);
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        let body_wait = said().and_then(|e| e.retry_after());
        return Err(PlatformError::Throttled {
            retry_after: stated.max(body_wait),
            detail: crate::client::platform_text(&[&format!("HTTP {status}"), &error_words(&body)]),
        });
    }
    let refused = matches!(
        status,
        reqwest::StatusCode::UNAUTHORIZED | reqwest::StatusCode::FORBIDDEN
    );
    let read_as_error = || said().is_some_and(|e| !matches!(e, PlatformError::Malformed(_)));
    if refused && !read_as_error() {
        let words = error_words(&body);
        return Err(PlatformError::Unknown {
            code: format!("HTTP {}", status.as_u16()),
            message: if words.is_empty() {
                status.canonical_reason().unwrap_or_default().to_owned()
            } else {
                words
            },
        });
    }
    json
}

/// A call that got no complete answer: [`PlatformError::Unavailable`] saying so in Chinese, as
/// it reaches a sync record's `errorMessage` and the operation log. The HTTP client's own
/// (English) words are for operators: logged here, without the URL (its query may hold a
/// token).
fn transport_failure(e: reqwest::Error) -> PlatformError {
    let what = if e.is_timeout() {
        "请求超时"
    } else if e.is_connect() {
        "无法建立连接"
    } else if e.is_body() || e.is_decode() {
        "响应读取中断"
    } else {
        "网络通信失败"
    };
    tracing::warn!(error = %e.without_url(), what, "Platform call got no complete answer");
    PlatformError::Unavailable(what.to_owned())
}

/// The platform's own documented error in a 5xx answer's JSON body, when it asks for more than
/// a retry: an expired session (refreshed) or a throttle (its wait kept, or the
/// `Retry-After`'s if longer). The README gives codes, not HTTP statuses, so a gateway may well
/// send `code 27` or `40003` with a 500. Anything else in a 5xx stays `Unavailable` (with its
/// `Retry-After`), retried: a code the adapter does not know (an ordinary gateway error page in
/// JSON), a refusal that would end the call for good, an unreadable body.
fn recovering_error(
    body: &[u8],
    platform_error: ErrorReader<'_>,
    stated: Option<Duration>,
) -> Option<PlatformError> {
    let json = serde_json::from_slice::<serde_json::Value>(body).ok()?;
    match platform_error(&json)? {
        PlatformError::Throttled {
            retry_after,
            detail,
        } => Some(PlatformError::Throttled {
            retry_after: retry_after.max(stated),
            detail,
        }),
        said @ PlatformError::SessionExpired { .. } => Some(said),
        _ => None,
    }
}

/// The wait a `Retry-After` value states (RFC 9110 §10.2.3): delay-seconds, or an HTTP-date
/// from `now` (IMF-fixdate, or the obsolete RFC 850 and asctime forms a recipient must
/// accept). `None` when it states none we can read, or a date already past.
pub fn stated_wait(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value)
        .map(|at| at.with_timezone(&chrono::Utc))
        .or_else(|_| {
            ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
                .iter()
                .find_map(|format| chrono::NaiveDateTime::parse_from_str(value, format).ok())
                .map(|at| at.and_utc())
                .ok_or(())
        })
        .ok()?;
    (at - now).to_std().ok().filter(|wait| !wait.is_zero())
}

/// An answer's body as JSON: a body that is not UTF-8 JSON text is mended where that is all
/// ([`crate::json::mended_text`]), else [`PlatformError::Malformed`] naming where it broke.
fn json_body(status: reqwest::StatusCode, body: &[u8]) -> Result<serde_json::Value, PlatformError> {
    serde_json::from_slice(body)
        .or_else(|refused| {
            // Not UTF-8, or a lone surrogate escape: mended where that is all (one order's
            // title would otherwise cost the whole page, at every try), else refused as it was.
            let Some(mended) = crate::json::mended_text(body) else {
                return Err(refused);
            };
            let json = serde_json::from_str(&mended).map_err(|_| refused)?;
            tracing::warn!(
                "Platform answer was not valid UTF-8 JSON text; unreadable characters replaced"
            );
            Ok(json)
        })
        .map_err(|e: serde_json::Error| {
            PlatformError::Malformed(format!(
                "HTTP {status}，响应体不是 JSON（第 {} 行第 {} 列）",
                e.line(),
                e.column()
            ))
        })
}

/// The most a platform's answer may hold. Every platform pages at most 100 orders, and a page
/// is tens of kilobytes, a megabyte at most with orders of many items; an answer is read whole
/// into memory and parsed into a tree several times its size, and a sync-worker holds up to
/// two answers per running sync (the page being stored and the next one) in a 256 MiB pod. A
/// broken platform or gateway answering without end is refused here, not by the OOM killer.
pub const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// The answer's body, read up to [`MAX_ANSWER_BYTES`]; beyond it the answer is refused as
/// [`PlatformError::Malformed`].
async fn capped_body(mut response: reqwest::Response) -> Result<Vec<u8>, PlatformError> {
    let too_large =
        || PlatformError::Malformed(format!("响应体超过 {} MB", MAX_ANSWER_BYTES / 1024 / 1024));
    if response
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_failure)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The codes and messages a failed answer's body states, when it is a platform's JSON error
/// envelope (at its top or one level down: `error_response`, Douyin's and Kuaishou's flat
/// ones), so a 429 or a 5xx keeps the platform's words; never the raw body (an HTML error page,
/// or anything that might echo a request). Kept as [`crate::error::kept_words`] keeps them.
fn error_words(body: &[u8]) -> String {
    const KEYS: [&str; 11] = [
        "code",
        "error_code",
        "sub_code",
        "msg",
        "message",
        "error_msg",
        "errorMsg",
        "sub_msg",
        "zh_desc",
        "en_desc",
        "error_message",
    ];
    fn collect(value: &serde_json::Value, depth: u8, words: &mut Vec<String>) {
        let Some(object) = value.as_object() else {
            return;
        };
        for key in KEYS {
            match object.get(key) {
                Some(serde_json::Value::String(s)) if !s.trim().is_empty() => {
                    words.push(s.trim().to_owned());
                }
                Some(serde_json::Value::Number(n)) => words.push(n.to_string()),
                _ => {}
            }
        }
        if depth == 0 {
            for nested in object.values() {
                collect(nested, 1, words);
            }
        }
    }
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return String::new();
    };
    let mut words = Vec::new();
    collect(&json, 0, &mut words);
    crate::error::kept_words(&words.join(" "))
}

/// Every platform we have an adapter for.
#[derive(Clone, Default)]
pub struct Registry {
    clients: HashMap<PlatformType, Arc<dyn PlatformClient>>,
}

impl Registry {
    /// Builds the adapter of every configured platform. A platform without an endpoint is
    /// absent, and callers answer that it is not supported.
    /// With a `gate`, every replica sharing it stays within each app key's `qps` together.
    pub fn from_endpoints(
        endpoints: &HashMap<PlatformType, Endpoint>,
        gate: Option<Arc<dyn crate::resilience::SharedGate>>,
    ) -> Result<Self, reqwest::Error> {
        let mut clients: HashMap<PlatformType, Arc<dyn PlatformClient>> = HashMap::new();
        for (platform, endpoint) in endpoints {
            let mut transport = Transport::new(endpoint.clone())?;
            transport.limiter = transport.limiter.for_platform(*platform);
            if let Some(gate) = &gate {
                transport.limiter = transport.limiter.shared(Arc::clone(gate));
            }
            let client: Arc<dyn PlatformClient> = match platform {
                PlatformType::Taobao => Arc::new(TaobaoClient::new(transport)),
                PlatformType::Jd => Arc::new(JdClient::new(transport)),
                PlatformType::Pdd => Arc::new(PddClient::new(transport)),
                PlatformType::Douyin => Arc::new(DouyinClient::new(transport)),
                PlatformType::Kuaishou => Arc::new(KuaishouClient::new(transport)),
            };
            clients.insert(*platform, client);
        }
        Ok(Registry { clients })
    }

    /// This registry with `client` answering for its platform: a stand-in platform whose
    /// behaviour a test scripts, say.
    pub fn with_client(mut self, client: Arc<dyn PlatformClient>) -> Self {
        self.clients.insert(client.platform(), client);
        self
    }

    pub fn get(&self, platform: PlatformType) -> Option<Arc<dyn PlatformClient>> {
        self.clients.get(&platform).cloned()
    }

    pub fn supported(&self) -> Vec<PlatformType> {
        PlatformType::ALL
            .iter()
            .copied()
            .filter(|p| self.clients.contains_key(p))
            .collect()
    }
}

/// Sends one platform request inside an HTTP client span (OpenTelemetry HTTP semantic
/// conventions: named by the method, with `http.request.method`, `server.address`,
/// `server.port`, `url.scheme`, `url.full` with every query value redacted (the query carries
/// tokens and signatures), `http.response.status_code`, and `error.type` when it fails), with
/// the trace context in `traceparent`.
pub async fn send(request: reqwest::RequestBuilder) -> Result<reqwest::Response, reqwest::Error> {
    use tracing::Instrument as _;
    let (client, request) = request.build_split();
    let mut request = request?;
    let url = request.url();
    let span = tracing::info_span!(
        "platform call",
        otel.name = request.method().as_str(),
        otel.kind = "client",
        http.request.method = request.method().as_str(),
        server.address = url.host_str().unwrap_or_default(),
        server.port = url.port_or_known_default().unwrap_or_default(),
        url.scheme = url.scheme(),
        url.full = redacted_url(url),
        http.response.status_code = tracing::field::Empty,
        error.r#type = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    let headers = span.in_scope(leadgen_telemetry::inject_current);
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            reqwest::header::HeaderName::from_bytes(name.as_bytes()),
            reqwest::header::HeaderValue::from_str(&value),
        ) {
            request.headers_mut().insert(name, value);
        }
    }
    let result = client.execute(request).instrument(span.clone()).await;
    match &result {
        Ok(response) => {
            let status = response.status();
            span.record("http.response.status_code", status.as_u16());
            if status.is_client_error() || status.is_server_error() {
                span.record("error.type", status.as_str());
            }
            if status.is_server_error() {
                span.record("otel.status_code", "ERROR");
            }
        }
        Err(e) => {
            let kind = if e.is_timeout() {
                "timeout"
            } else if e.is_connect() {
                "connect"
            } else {
                "request"
            };
            span.record("error.type", kind);
            span.record("otel.status_code", "ERROR");
        }
    }
    result
}

/// `url` for `url.full`: no credentials, every query value `REDACTED` (the names stay).
fn redacted_url(url: &url::Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_fragment(None);
    if shown.query().is_some() {
        let names: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        shown
            .query_pairs_mut()
            .clear()
            .extend_pairs(names.iter().map(|k| (k.as_str(), "REDACTED")));
    }
    shown.to_string()
}

#[cfg(test)]
pub(crate) mod tests;
