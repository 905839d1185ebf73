use super::*;

/// The sync record keeps the platform's own code and message after the Chinese sentence.
#[test]
fn a_failure_keeps_the_platforms_code_and_message() {
    let banned = PlatformError::Throttled {
        retry_after: None,
        detail: "7 accesscontrol.limited-by-app-access-count App Call Limited".into(),
    };
    assert_eq!(
        describe(&banned),
        "电商平台限流，重试多次后仍失败（平台返回：7 accesscontrol.limited-by-app-access-count App Call Limited）"
    );
    let waited = PlatformError::Throttled {
        retry_after: Some(Duration::from_secs(3600)),
        detail: "7 This ban will last for 3600 more seconds".into(),
    };
    assert_eq!(
        describe(&waited),
        "电商平台限流，要求 3600 秒后再调用，本次同步未完成（平台返回：7 This ban will last for 3600 more seconds）"
    );
    let expired = PlatformError::SessionExpired {
        detail: "10019 access_token已过期".into(),
    };
    assert_eq!(
        describe(&expired),
        "平台会话已失效，请重新授权（平台返回：10019 access_token已过期）"
    );
    // Nothing said (an HTTP 429 without a body): the sentence alone.
    let silent = PlatformError::Throttled {
        retry_after: None,
        detail: String::new(),
    };
    assert_eq!(describe(&silent), "电商平台限流，重试多次后仍失败");
    let down = PlatformError::Unavailable("error_code 52103 服务暂时不可用".into());
    assert!(describe(&down).contains("52103 服务暂时不可用"));
    let down_for = PlatformError::UnavailableFor {
        retry_after: Duration::from_secs(600),
        detail: "HTTP 503".into(),
    };
    assert_eq!(
        describe(&down_for),
        "电商平台暂不可用，要求 600 秒后再调用，本次同步未完成（HTTP 503）"
    );
}
