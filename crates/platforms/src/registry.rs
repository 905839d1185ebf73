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
    /// turn the platform's error envelope (read by `platform_error`) into its typed error. An
    /// error with a stated ban that `app_wide_ban` says is the app key's (not one shop's) holds
    /// the app key's next calls of the same API, or of every API, until it ends
    /// ([`Limiter::hold`]); a shop's ban is waited out by that shop's backoff alone.
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
            Some(error) => {
                if let (Some(ban), Some(scope)) = (error.retry_after(), app_wide_ban(&json)) {
                    self.limiter
                        .hold(app_key, api, scope, ban, &error.platform_detail());
                }
                Err(error)
            }
            None => Ok(json),
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
///   seconds or an HTTP-date), so the retries do not come back inside it.
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
    let unavailable = |e: reqwest::Error| PlatformError::Unavailable(e.without_url().to_string());
    let response = response.map_err(unavailable)?;
    let status = response.status();
    let stated = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| stated_wait(v, chrono::Utc::now()));
    let body = capped_body(response).await?;
    if status.is_server_error() {
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
    if matches!(
        status,
        reqwest::StatusCode::UNAUTHORIZED | reqwest::StatusCode::FORBIDDEN
    ) && !said().is_some_and(|e| !matches!(e, PlatformError::Malformed(_)))
    {
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

/// The most a platform's answer may hold: a page of 100 orders is tens of kilobytes, and an
/// answer without bound would be read whole into memory.
pub const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;

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
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| PlatformError::Unavailable(e.without_url().to_string()))?
    {
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
/// or anything that might echo a request). At most 300 characters.
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
    words.join(" ").chars().take(300).collect()
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
pub(crate) mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    #[test]
    fn a_calls_url_is_shown_without_credentials_or_query_values() {
        let url = url::Url::parse(
            "https://user:pw@openapi-fxg.jinritemai.com/order/searchList?app_key=k&access_token=AT-1&sign=abc#x",
        )
        .unwrap();
        assert_eq!(
            redacted_url(&url),
            "https://openapi-fxg.jinritemai.com/order/searchList?app_key=REDACTED&access_token=REDACTED&sign=REDACTED"
        );
        let plain = url::Url::parse("https://eco.taobao.com/router/rest").unwrap();
        assert_eq!(redacted_url(&plain), "https://eco.taobao.com/router/rest");
    }

    /// A server that answers every request with `answer`, as written.
    async fn answering(answer: &'static str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buffer = [0_u8; 4096];
                let _ = stream.read(&mut buffer).await;
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
        });
        format!("http://{address}/router")
    }

    /// A server that answers `{}` to every request and keeps each one's request line and body.
    pub(crate) async fn recording() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let kept = Arc::clone(&kept);
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buffer = [0_u8; 4096];
                    // Until the headers and as many body bytes as they announce are in.
                    loop {
                        let Ok(n) = stream.read(&mut buffer).await else {
                            return;
                        };
                        request.extend_from_slice(&buffer[..n]);
                        let text = String::from_utf8_lossy(&request).into_owned();
                        if let Some(end) = text.find("\r\n\r\n") {
                            let length = text[..end]
                                .lines()
                                .find_map(|l| {
                                    let (name, value) = l.split_once(':')?;
                                    name.eq_ignore_ascii_case("content-length")
                                        .then(|| value.trim().parse::<usize>().ok())?
                                })
                                .unwrap_or(0);
                            if request.len() >= end + 4 + length || n == 0 {
                                let line = text.lines().next().unwrap_or("").to_owned();
                                kept.lock()
                                    .unwrap()
                                    .push(format!("{line}\n{}", &text[end + 4..]));
                                break;
                            }
                        }
                        if n == 0 {
                            return;
                        }
                    }
                    let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
                    let _ = stream.write_all(answer.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        (format!("http://{address}"), seen)
    }

    /// The signed `timestamp` a recorded request carries (query or form body), in milliseconds
    /// since the epoch: unix seconds or milliseconds, or Beijing time to the second.
    fn signed_at(request: &str) -> i64 {
        let (line, body) = request.split_once('\n').unwrap();
        let target = line.split(' ').nth(1).unwrap();
        let query = target.split_once('?').map_or("", |(_, q)| q);
        let value = url::form_urlencoded::parse(query.as_bytes())
            .chain(url::form_urlencoded::parse(body.as_bytes()))
            .find(|(k, _)| k == "timestamp")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no timestamp in {request}"));
        match value.parse::<i64>() {
            Ok(ms) if ms > 100_000_000_000 => ms,
            Ok(s) => s * 1000,
            Err(_) => {
                let beijing = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
                chrono::NaiveDateTime::parse_from_str(&value, "%Y-%m-%d %H:%M:%S")
                    .unwrap()
                    .and_local_timezone(beijing)
                    .unwrap()
                    .timestamp_millis()
            }
        }
    }

    /// Every platform signs a call once its rate limit lets it go, not before the wait: a
    /// timestamp signed before a long wait (many shops of one app key) would reach the platform
    /// stale, and Taobao and PDD refuse one 10 minutes off, JD one 6 minutes off.
    #[tokio::test]
    async fn every_platform_signs_a_call_after_its_rate_limit_wait() {
        let (base, seen) = recording().await;
        let endpoints: HashMap<PlatformType, Endpoint> = PlatformType::ALL
            .iter()
            .map(|platform| {
                let root = format!("{base}/{}", platform.as_str());
                let endpoint = Endpoint {
                    api_url: root.clone(),
                    authorize_url: root.clone(),
                    token_url: root,
                    qps: 1,
                    timeout: Duration::from_secs(5),
                };
                (*platform, endpoint)
            })
            .collect();
        let registry = Registry::from_endpoints(&endpoints, None).unwrap();
        let mut app = crate::client::AppCredentials::new("app-1", "secret-1");
        app.extra.insert(
            crate::kuaishou::SIGN_SECRET.to_owned(),
            "sign-secret-1".into(),
        );
        let now = chrono::Utc::now();
        let window = crate::TimeWindow {
            start: now - chrono::Duration::minutes(20),
            end: now,
        };
        let twice = |platform: PlatformType| {
            let client = registry.get(platform).unwrap();
            let (app, window) = (&app, &window);
            async move {
                for _ in 0..2 {
                    // The answer `{}` is no page; only the requests matter here.
                    let _ = client
                        .list_orders(
                            app,
                            "token-1",
                            window,
                            crate::client::Listing::Modified,
                            None,
                        )
                        .await;
                }
            }
        };
        tokio::join!(
            twice(PlatformType::Taobao),
            twice(PlatformType::Jd),
            twice(PlatformType::Pdd),
            twice(PlatformType::Douyin),
            twice(PlatformType::Kuaishou),
        );
        let seen = seen.lock().unwrap().clone();
        for platform in PlatformType::ALL {
            let calls: Vec<i64> = seen
                .iter()
                .filter(|r| r.contains(&format!(" /{}", platform.as_str())))
                .map(|r| signed_at(r))
                .collect();
            assert_eq!(calls.len(), 2, "{platform:?}: {seen:?}");
            // The second call waited a second for its slot; signed before the wait, both would
            // carry the same time.
            assert!(
                calls[1] - calls[0] >= 500,
                "{platform:?} signed its second call {} ms after the first",
                calls[1] - calls[0]
            );
        }
    }

    #[tokio::test]
    async fn a_429_is_a_throttle_with_its_stated_wait_whatever_its_body() {
        let url = answering(
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 2\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
        )
        .await;
        let answer = read_json(reqwest::get(&url).await, &|_| None).await;
        assert_eq!(
            answer,
            Err(PlatformError::Throttled {
                retry_after: Some(std::time::Duration::from_secs(2)),
                detail: "HTTP 429 Too Many Requests".into(),
            })
        );
        let ok = answering(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 8\r\nconnection: close\r\n\r\n{\"a\":1}\n",
        )
        .await;
        assert_eq!(
            read_json(reqwest::get(&ok).await, &|_| None).await,
            Ok(serde_json::json!({"a": 1}))
        );
    }

    /// A 429 or a 5xx keeps what the platform's JSON error says (codes and messages), never a
    /// body that is not one.
    #[tokio::test]
    async fn a_failed_answer_keeps_the_platforms_words() {
        let throttled = answering(
            "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\ncontent-length: 54\r\nconnection: close\r\n\r\n{\"error_response\":{\"code\":7,\"msg\":\"App Call Limited\"}}",
        )
        .await;
        assert_eq!(
            read_json(reqwest::get(&throttled).await, &|_| None).await,
            Err(PlatformError::Throttled {
                retry_after: None,
                detail: "HTTP 429 Too Many Requests 7 App Call Limited".into(),
            })
        );
        let down = answering(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: 47\r\nconnection: close\r\n\r\n{\"code\":50002,\"msg\":\"\\u670d\\u52a1\\u7e41\\u5fd9\"}",
        )
        .await;
        assert_eq!(
            read_json(reqwest::get(&down).await, &|_| None).await,
            Err(PlatformError::Unavailable(
                "HTTP 503 Service Unavailable（平台返回：50002 服务繁忙）".into()
            ))
        );
        let html = answering(
            "HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/html\r\ncontent-length: 21\r\nconnection: close\r\n\r\n<h1>bad gateway</h1>\n",
        )
        .await;
        assert_eq!(
            read_json(reqwest::get(&html).await, &|_| None).await,
            Err(PlatformError::Unavailable("HTTP 502 Bad Gateway".into()))
        );
    }

    /// The client of `platform` alone, calling `url` for every endpoint.
    fn client_at(platform: PlatformType, url: &str) -> Arc<dyn PlatformClient> {
        let endpoint = Endpoint {
            api_url: url.to_owned(),
            authorize_url: url.to_owned(),
            token_url: url.to_owned(),
            qps: 100,
            timeout: Duration::from_secs(5),
        };
        Registry::from_endpoints(&HashMap::from([(platform, endpoint)]), None)
            .unwrap()
            .get(platform)
            .unwrap()
    }

    /// Credentials every adapter can sign with (Kuaishou's signSecret included).
    fn any_app() -> crate::client::AppCredentials {
        let mut app = crate::client::AppCredentials::new("app-1", "secret-1");
        app.extra.insert(
            crate::kuaishou::SIGN_SECRET.to_owned(),
            "sign-secret-1".into(),
        );
        app
    }

    /// One listing call of `platform` against a server answering `answer`.
    async fn listed(
        platform: PlatformType,
        answer: &'static str,
    ) -> Result<crate::OrderPage, PlatformError> {
        let client = client_at(platform, &answering(answer).await);
        let now = chrono::Utc::now();
        let window = crate::TimeWindow {
            start: now - chrono::Duration::minutes(20),
            end: now,
        };
        client
            .list_orders(
                &any_app(),
                "token-1",
                &window,
                crate::client::Listing::Modified,
                None,
            )
            .await
    }

    /// A 5xx's `Retry-After` was read and thrown away: the retries came 0.2 s, 0.4 s… later,
    /// inside the wait the server had asked for. Kept (in seconds or as an HTTP-date), it is
    /// the wait before the next try.
    #[tokio::test]
    async fn a_5xx_keeps_the_wait_its_retry_after_states() {
        let url = answering(
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )
        .await;
        let error = read_json(reqwest::get(&url).await, &|_| None)
            .await
            .unwrap_err();
        assert_eq!(
            error.retry_after(),
            Some(Duration::from_secs(7)),
            "{error:?}"
        );
        assert!(error.is_transient());
        assert!(error.platform_detail().contains("HTTP 503"), "{error:?}");

        let at = (chrono::Utc::now() + chrono::Duration::seconds(60))
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let answer = format!(
            "HTTP/1.1 502 Bad Gateway\r\nRetry-After: {at}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
        let url = answering(Box::leak(answer.into_boxed_str())).await;
        let error = read_json(reqwest::get(&url).await, &|_| None)
            .await
            .unwrap_err();
        let wait = error.retry_after().unwrap_or_default();
        assert!(
            wait > Duration::from_secs(55) && wait <= Duration::from_secs(60),
            "{error:?}"
        );
    }

    /// `Retry-After` as RFC 9110 writes it: delay-seconds, or an HTTP-date in any of the three
    /// forms a recipient must accept; a date already past states no wait.
    #[test]
    fn a_retry_after_is_seconds_or_any_http_date() {
        let now = chrono::DateTime::parse_from_rfc3339("1994-11-06T08:49:07Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        for value in [
            "30",
            " 30 ",
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(
                stated_wait(value, now),
                Some(Duration::from_secs(30)),
                "{value}"
            );
        }
        for value in ["Sun, 06 Nov 1994 08:49:00 GMT", "soon", "-5", ""] {
            assert_eq!(stated_wait(value, now), None, "{value}");
        }
        let error = PlatformError::UnavailableFor {
            retry_after: Duration::from_secs(7),
            detail: "HTTP 503 Service Unavailable".into(),
        };
        assert_eq!(
            error.to_string(),
            "电商平台暂不可用（要求 7 秒后再调用）：HTTP 503 Service Unavailable"
        );
    }

    /// A 429 whose body is the platform's own error (Taobao's code 7 and its stated ban) waits
    /// the longer of the two waits: the header's 2 s would have been refused again.
    #[tokio::test]
    async fn a_429_waits_the_longer_of_its_header_and_its_platform_error() {
        let error = listed(
            PlatformType::Taobao,
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 2\r\ncontent-type: application/json\r\ncontent-length: 160\r\nconnection: close\r\n\r\n{\"error_response\":{\"code\":7,\"msg\":\"App Call Limited\",\"sub_code\":\"accesscontrol.limited-by-api-access-count\",\"sub_msg\":\"This ban will last for 30 more seconds\"}}",
        )
        .await
        .unwrap_err();
        assert!(
            matches!(error, PlatformError::Throttled { .. }),
            "{error:?}"
        );
        assert_eq!(error.retry_after(), Some(Duration::from_secs(30)));
    }

    /// A 401 or 403 whose body is no envelope the platform's error reader knows was
    /// `Malformed` (or, read as an answer, a page without its list): retried, never refreshed,
    /// though it says the token was refused. It is unknown with its status, so the session's
    /// refresh-once path runs; on every platform.
    #[tokio::test]
    async fn an_unreadable_401_or_403_is_unknown_on_every_platform() {
        for platform in PlatformType::ALL {
            let html = listed(
                *platform,
                "HTTP/1.1 401 Unauthorized\r\ncontent-type: text/html\r\ncontent-length: 11\r\nconnection: close\r\n\r\n<h1>no</h1>",
            )
            .await;
            assert!(
                matches!(html, Err(PlatformError::Unknown { ref code, .. }) if code == "HTTP 401"),
                "{platform:?}: {html:?}"
            );
            let json = listed(
                *platform,
                "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: 23\r\nconnection: close\r\n\r\n{\"message\":\"Forbidden\"}",
            )
            .await;
            assert!(
                matches!(json, Err(PlatformError::Unknown { ref code, ref message })
                    if code == "HTTP 403" && message.contains("Forbidden")),
                "{platform:?}: {json:?}"
            );
        }
        // An envelope the platform's reader knows is read as it says.
        let expired = listed(
            PlatformType::Taobao,
            "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: 86\r\nconnection: close\r\n\r\n{\"error_response\":{\"code\":27,\"msg\":\"Invalid session\",\"sub_code\":\"invalid-sessionkey\"}}",
        )
        .await;
        assert!(
            matches!(expired, Err(PlatformError::SessionExpired { .. })),
            "{expired:?}"
        );
    }
}
