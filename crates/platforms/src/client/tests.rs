use super::*;

/// Every page a backward walk reads, from the probe on.
fn walk(first: u32, total: u64, size: u32) -> Vec<u32> {
    let mut read = vec![first];
    let mut next = PageCursor::backward_next(None, first, first, total, size);
    while let Some(PageCursor::Number(page)) = next {
        read.push(page);
        next = PageCursor::backward_next(Some(&PageCursor::Number(page)), page, first, total, size);
    }
    read
}

#[test]
fn a_backward_walk_probes_then_reads_the_last_page_down_to_the_first() {
    assert_eq!(walk(1, 0, 100), vec![1]);
    assert_eq!(walk(1, 100, 100), vec![1]);
    assert_eq!(walk(1, 101, 100), vec![1, 2, 1]);
    assert_eq!(walk(1, 350, 100), vec![1, 4, 3, 2, 1]);
    // Douyin pages from 0.
    assert_eq!(walk(0, 250, 100), vec![0, 2, 1, 0]);
}

#[test]
fn only_a_dead_or_denied_grant_is_an_oauth_refusal() {
    for error in ["invalid_grant", "access_denied"] {
        assert_eq!(
            oauth_error(error, " code expired "),
            Some(PlatformError::AuthRefused(format!("{error}: code expired")))
        );
    }
    // Our app's or request's fault: re-authorizing the shops would not mend it.
    for error in OAUTH_CLIENT_ERRORS {
        assert_eq!(
            oauth_error(error, "x"),
            Some(PlatformError::InvalidRequest(format!("{error}: x"))),
            "{error}"
        );
    }
    assert_eq!(
        oauth_error("invalid_client", ""),
        Some(PlatformError::InvalidRequest("invalid_client".into()))
    );
    assert_eq!(oauth_error("server_busy", "稍后再试"), None);
}

#[test]
fn a_token_answer_carrying_an_error_keeps_the_platforms_words() {
    use serde_json::json;
    let none = |_: &serde_json::Value| None;
    assert_eq!(
        token_error(
            &json!({"error": "invalid_grant", "error_description": "dead"}),
            false,
            &none
        ),
        Some(PlatformError::AuthRefused("invalid_grant: dead".into()))
    );
    assert_eq!(
        token_error(&json!({"error": "invalid_client"}), false, &none),
        Some(PlatformError::InvalidRequest("invalid_client".into()))
    );
    assert_eq!(
        token_error(&json!({"error": "slow_down", "msg": "稍后"}), true, &none),
        Some(PlatformError::Unknown {
            code: "slow_down".into(),
            message: "稍后".into()
        })
    );
    assert_eq!(
        token_error(&json!({"error": {"code": 7, "message": "m"}}), false, &none),
        Some(PlatformError::Unknown {
            code: "7".into(),
            message: "m".into()
        })
    );
    // The envelope by the platform's table; a session error there, or none read, is unknown.
    let envelope =
        json!({"error_response": {"code": 27, "sub_code": "s", "msg": "Invalid session"}});
    let session = |_: &serde_json::Value| {
        Some(PlatformError::SessionExpired {
            detail: "27".into(),
        })
    };
    for classify in [
        &session as &dyn Fn(&serde_json::Value) -> Option<PlatformError>,
        &none,
    ] {
        assert_eq!(
            token_error(&envelope, false, classify),
            Some(PlatformError::Unknown {
                code: "27/s".into(),
                message: "Invalid session".into()
            })
        );
    }
    let throttled = |_: &serde_json::Value| {
        Some(PlatformError::Throttled {
            retry_after: None,
            detail: "7".into(),
        })
    };
    assert!(matches!(
        token_error(&envelope, false, &throttled),
        Some(PlatformError::Throttled { .. })
    ));
    // Bare words without a token: unknown. With a token, or saying nothing: no error.
    assert_eq!(
        token_error(
            &json!({"code": 15, "msg": "m", "sub_msg": "s"}),
            false,
            &none
        ),
        Some(PlatformError::Unknown {
            code: "15".into(),
            message: "m s".into()
        })
    );
    assert_eq!(
        token_error(&json!({"code": 15, "msg": "m"}), true, &none),
        None
    );
    assert_eq!(
        token_error(&json!({"code": 0, "expires_in": 1}), false, &none),
        None
    );
    assert_eq!(token_error(&json!({"error": ""}), false, &none), None);
}

#[test]
fn a_page_span_says_what_a_total_leaves_for_it() {
    let third = PageSpan::numbered(3, 1, 100);
    assert_eq!(
        third,
        PageSpan {
            offset: 200,
            size: 100
        }
    );
    assert!(!third.followed(300) && third.followed(301));
    assert_eq!(PageSpan::numbered(0, 0, 100).offset, 0);
    assert_eq!(PageSpan::numbered(2, 0, 100).offset, 200);
}
