use super::*;

#[test]
fn a_window_that_orders_joined_mid_walk_is_read_again_a_bounded_number_of_times() {
    let mut joined = Joined::default();
    // Probe 250, pages 250 and 249 (orders left): nothing joined.
    joined.saw(true, Some(250));
    joined.saw(false, Some(250));
    joined.saw(false, Some(249));
    assert!(!joined.walk_again());
    // A later page says 251: read again, from a new probe.
    joined.saw(true, Some(250));
    joined.saw(false, Some(251));
    assert!(joined.walk_again());
    joined.saw(true, Some(251));
    joined.saw(false, Some(251));
    assert!(!joined.walk_again(), "the second walk found no join");
    // Orders keep joining: read again twice, then the walk moves on.
    let mut busy = Joined::default();
    let mut again = 0;
    for total in 300..310 {
        busy.saw(true, Some(total));
        busy.saw(false, Some(total + 1));
        if !busy.walk_again() {
            break;
        }
        again += 1;
    }
    assert_eq!(again, MAX_WALKS_AGAIN);
    // One order left between two answers and another joined: the count is back at the
    // probe's, above the lowest of the pass: read again.
    let mut both = Joined::default();
    both.saw(true, Some(250));
    both.saw(false, Some(249));
    both.saw(false, Some(250));
    assert!(both.walk_again());
    // An order read twice with two modification times moved inside the window: read again.
    let mut moved = Joined::default();
    moved.saw(true, Some(250));
    moved.saw(false, Some(250));
    moved.moved();
    assert!(moved.walk_again());
    // A listing without totals (a cursor) never reads again.
    let mut cursor = Joined::default();
    cursor.saw(true, None);
    cursor.saw(false, None);
    assert!(!cursor.walk_again());
}

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
