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
async fn answering(answer: impl Into<String>) -> String {
    let answer: String = answer.into();
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
    let stub = leadgen_test_support::http_stub::answering_json("{}").await;
    (format!("http://{}", stub.address), stub.seen)
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

/// An answer larger than [`MAX_ANSWER_BYTES`] is refused unread, whether its length is stated
/// or it streams without one; an answer just within the cap is read.
#[tokio::test]
async fn an_answer_beyond_the_cap_is_refused_whether_stated_or_streamed() {
    let too_large = Err(PlatformError::Malformed(format!(
        "响应体超过 {} MB",
        MAX_ANSWER_BYTES / 1024 / 1024
    )));
    let stated = answering(format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{{}}",
        MAX_ANSWER_BYTES + 1
    ))
    .await;
    assert_eq!(
        read_json(reqwest::get(&stated).await, &|_| None).await,
        too_large
    );
    // A JSON string padded to the cap, streamed without a length.
    let within = |padding: usize| {
        let body = format!("{{\"a\":\"{}\"}}", "x".repeat(padding));
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{body}"
        )
    };
    let streamed = answering(within(MAX_ANSWER_BYTES)).await;
    assert_eq!(
        read_json(reqwest::get(&streamed).await, &|_| None).await,
        too_large
    );
    let at_cap = answering(within(MAX_ANSWER_BYTES - 8)).await;
    let read = read_json(reqwest::get(&at_cap).await, &|_| None).await;
    assert_eq!(
        read.map(|json| json["a"].as_str().map(str::len)),
        Ok(Some(MAX_ANSWER_BYTES - 8))
    );
}

/// A 5xx whose body is the platform's own expired-session or throttle error is that error
/// (refreshed, waited out); any other, an unknown code included, stays unavailable.
#[tokio::test]
async fn a_5xx_carrying_the_platforms_own_error_is_read_as_that_error() {
    let reader = |json: &serde_json::Value| match json["code"].as_i64()? {
        27 => Some(PlatformError::SessionExpired {
            detail: "27 Invalid session".into(),
        }),
        7 => Some(PlatformError::Throttled {
            retry_after: Some(Duration::from_secs(1)),
            detail: "7 App Call Limited".into(),
        }),
        99 => Some(PlatformError::Unknown {
            code: "99".into(),
            message: "?".into(),
        }),
        _ => Some(PlatformError::InvalidRequest("15 bad parameter".into())),
    };
    let answer = |code: u32, retry_after: &str| {
        let body = format!("{{\"code\":{code}}}");
        format!(
            "HTTP/1.1 500 Internal Server Error\r\n{retry_after}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let expired = answering(answer(27, "")).await;
    assert_eq!(
        read_json(reqwest::get(&expired).await, &reader).await,
        Err(PlatformError::SessionExpired {
            detail: "27 Invalid session".into()
        })
    );
    let throttled = answering(answer(7, "Retry-After: 3\r\n")).await;
    assert_eq!(
        read_json(reqwest::get(&throttled).await, &reader).await,
        Err(PlatformError::Throttled {
            retry_after: Some(Duration::from_secs(3)),
            detail: "7 App Call Limited".into(),
        })
    );
    let unknown = answering(answer(99, "")).await;
    assert!(matches!(
        read_json(reqwest::get(&unknown).await, &reader).await,
        Err(PlatformError::Unavailable(_))
    ));
    let refused = answering(answer(15, "")).await;
    assert!(matches!(
        read_json(reqwest::get(&refused).await, &reader).await,
        Err(PlatformError::Unavailable(_))
    ));
}

/// A call without a complete answer says so in Chinese (it reaches a sync record's
/// `errorMessage`), not in the HTTP client's English.
#[tokio::test]
async fn a_call_without_an_answer_is_unavailable_in_chinese() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = closed.local_addr().expect("address");
    drop(closed);
    let refused = read_json(
        reqwest::get(format!("http://{address}/router")).await,
        &|_| None,
    )
    .await;
    assert_eq!(
        refused,
        Err(PlatformError::Unavailable("无法建立连接".into()))
    );
    let cut = answering(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\nconnection: close\r\n\r\n{\"a\":",
    )
    .await;
    let cut = read_json(reqwest::get(&cut).await, &|_| None).await;
    assert_eq!(cut, Err(PlatformError::Unavailable("响应读取中断".into())));
    for answer in [refused, cut] {
        let shown = answer.expect_err("failed").to_string();
        assert!(!shown.is_ascii() && !shown.contains("error"), "{shown}");
    }
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
