//! The session's renewal rules against a scripted platform client: refresh once, adopt tokens
//! another replica stored, and classify what the token endpoint answers.

use std::time::Duration;

use chrono::Utc;

use super::*;
use crate::registry::{Endpoint, Transport};
use crate::reveal::RevealPurpose;
use crate::taobao::TaobaoClient;

struct NoSink;

#[async_trait::async_trait]
impl TokenSink for NoSink {
    async fn store(&self, _: &TokenSet, _: &str) -> Result<(), super::StoreError> {
        Ok(())
    }
}

/// Like the services' async-trait handlers: awaited inside a boxed `Send` future.
fn boxed_send<'a, T>(
    future: impl std::future::Future<Output = T> + Send + 'a,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>> {
    Box::pin(future)
}

/// The services call the session from `Send` futures (async-trait handlers).
#[test]
fn session_futures_are_send() {
    let endpoint = Endpoint {
        api_url: "http://127.0.0.1:1/router/rest".into(),
        authorize_url: "http://127.0.0.1:1/authorize".into(),
        token_url: "http://127.0.0.1:1/token".into(),
        qps: 1,
        timeout: Duration::from_secs(1),
    };
    let client = TaobaoClient::new(Transport::new(endpoint).unwrap());
    let mut session = Session::new(
        AppCredentials::new("k", "s"),
        "t".into(),
        None,
        RetryPolicy::default(),
    );
    let window = TimeWindow::new(Utc::now(), Utc::now());
    drop(boxed_send(async {
        session
            .list_orders(&client, &window, Listing::Modified, None, &NoSink)
            .await
    }));
    let request = DecryptRequest {
        order_id: "1".into(),
        ciphertext: "o".into(),
        purpose: RevealPurpose::AfterSales,
    };
    drop(boxed_send(async {
        session.decrypt_contact(&client, &request, &NoSink).await
    }));
}

/// A platform that answers a scripted error to every listing call (but one made with
/// `valid_token`, when given), refreshes or refuses to, and counts its calls.
#[derive(Default)]
struct Scripted {
    error: Option<PlatformError>,
    valid_token: Option<&'static str>,
    refuses_refresh: bool,
    /// Answered to a refresh instead of tokens, when given.
    refresh_error: Option<PlatformError>,
    /// Answered to a refresh instead of `t2`/`r2`, when given.
    refresh_answer: Option<TokenSet>,
    lists: std::sync::atomic::AtomicUsize,
    refreshes: std::sync::atomic::AtomicUsize,
    /// The orders of the page a list answers.
    orders: Vec<crate::FetchedOrder>,
    /// Fired while a refresh is on its way (the process stops), which still answers.
    stops_while_refreshing: Option<tokio_util::sync::CancellationToken>,
}

#[async_trait::async_trait]
impl PlatformClient for Scripted {
    fn platform(&self) -> leadgen_domain::PlatformType {
        leadgen_domain::PlatformType::Kuaishou
    }
    fn authorize_url(&self, _: &AppCredentials, _: &str, _: &str) -> String {
        String::new()
    }
    async fn exchange_code(
        &self,
        _: &AppCredentials,
        _: &str,
        _: &str,
    ) -> Result<TokenSet, PlatformError> {
        Err(PlatformError::AuthRefused("not in this test".into()))
    }
    async fn refresh(&self, _: &AppCredentials, _: &str) -> Result<TokenSet, PlatformError> {
        self.refreshes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Some(stop) = &self.stops_while_refreshing {
            stop.cancel();
            tokio::task::yield_now().await;
        }
        if let Some(error) = &self.refresh_error {
            return Err(error.clone());
        }
        if self.refuses_refresh {
            return Err(PlatformError::AuthRefused(
                "code 50001 dop.token-generate-failed:token-expired".into(),
            ));
        }
        if let Some(tokens) = &self.refresh_answer {
            return Ok(tokens.clone());
        }
        Ok(TokenSet {
            access_token: "t2".into(),
            refresh_token: Some("r2".into()),
            expires_at: None,
            refresh_expires_at: None,
            shop_id: None,
            shop_name: None,
        })
    }
    fn windows(&self, range: TimeWindow, _: chrono::DateTime<Utc>, _: Listing) -> Vec<TimeWindow> {
        vec![range]
    }
    async fn list_orders(
        &self,
        _: &AppCredentials,
        token: &str,
        _: &TimeWindow,
        _: Listing,
        _: Option<&PageCursor>,
    ) -> Result<OrderPage, PlatformError> {
        self.lists.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        match &self.error {
            Some(error) if self.valid_token != Some(token) => Err(error.clone()),
            _ => Ok(OrderPage {
                orders: self.orders.clone(),
                next: None,
                total: None,
            }),
        }
    }
    fn reveal_purposes(&self) -> &'static [RevealPurpose] {
        &[]
    }
    async fn decrypt_contact(
        &self,
        _: &AppCredentials,
        _: &str,
        _: &DecryptRequest,
    ) -> Result<RevealedContact, PlatformError> {
        Err(PlatformError::InvalidRequest("not in this test".into()))
    }
}

/// Retries at once (1–2 ms apart): `max_retries` of them.
fn fast_policy(max_retries: usize) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
        max_stated_wait: Duration::from_millis(4),
    }
}

async fn list_with(
    error: PlatformError,
    refresh_token: Option<&str>,
) -> (SessionError, usize, usize) {
    let client = Scripted {
        error: Some(error),
        ..Scripted::default()
    };
    let policy = fast_policy(2);
    let mut session = Session::new(
        AppCredentials::new("k", "s"),
        "t".into(),
        refresh_token.map(str::to_owned),
        policy,
    );
    let window = TimeWindow::new(Utc::now(), Utc::now());
    let error = session
        .list_orders(&client, &window, Listing::Modified, None, &NoSink)
        .await
        .expect_err("every call fails");
    let calls = client.lists.load(std::sync::atomic::Ordering::SeqCst);
    let refreshes = client.refreshes.load(std::sync::atomic::Ordering::SeqCst);
    (error, calls, refreshes)
}

/// Stores nothing; reads back `t` for its first `stale_reads`, then `then` (another
/// caller's refresh landing).
struct RacingSink {
    stale_reads: usize,
    then: &'static str,
    reads: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl TokenSink for RacingSink {
    async fn store(&self, _: &TokenSet, _: &str) -> Result<(), super::StoreError> {
        Ok(())
    }
    async fn stored(&self) -> Result<Option<(String, Option<String>)>, String> {
        let n = self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let access = if n < self.stale_reads { "t" } else { self.then };
        Ok(Some((access.into(), Some(format!("r-{access}")))))
    }
}

/// Lists once with token `t` against a platform where only `t2` is valid; refreshing either
/// is refused (another caller rotated the token) or answers `t2`.
async fn list_racing(
    stale_reads: usize,
    then: &'static str,
    refuses_refresh: bool,
) -> (Result<OrderPage, SessionError>, usize) {
    let client = Scripted {
        refuses_refresh,
        ..racing_platform()
    };
    list_with_racing_sink(client, stale_reads, then).await
}

/// A platform where only `t2` is valid: `t` is answered as expired.
fn racing_platform() -> Scripted {
    Scripted {
        error: Some(PlatformError::SessionExpired {
            detail: "27 invalid-sessionkey".into(),
        }),
        valid_token: Some("t2"),
        ..Scripted::default()
    }
}

/// Lists once with token `t` on `client`, the stored tokens read stale `stale_reads` times and
/// then `then`: the answer, and how many refreshes were sent.
async fn list_with_racing_sink(
    client: Scripted,
    stale_reads: usize,
    then: &'static str,
) -> (Result<OrderPage, SessionError>, usize) {
    let sink = RacingSink {
        stale_reads,
        then,
        reads: Default::default(),
    };
    let mut session = session_with("r-t");
    let window = TimeWindow::new(Utc::now(), Utc::now());
    let page = session
        .list_orders(&client, &window, Listing::Modified, None, &sink)
        .await;
    (
        page,
        client.refreshes.load(std::sync::atomic::Ordering::SeqCst),
    )
}

#[tokio::test(start_paused = true)]
async fn a_session_refreshed_by_another_caller_is_adopted_not_declared_dead() {
    // Refreshed before this session needed to: its tokens are used, no refresh is made.
    let (page, refreshes) = list_racing(0, "t2", true).await;
    assert!(page.is_ok(), "{page:?}");
    assert_eq!(refreshes, 0);
    // Refreshed at the same moment: this session's refresh is refused, and the other
    // caller's tokens, stored a moment later, are used.
    let (page, refreshes) = list_racing(2, "t2", true).await;
    assert!(page.is_ok(), "{page:?}");
    assert_eq!(refreshes, 1);
    // Nobody stored newer tokens: a refused refresh is a dead session.
    let (page, refreshes) = list_racing(usize::MAX, "t2", true).await;
    assert!(matches!(page, Err(SessionError::Expired(_))), "{page:?}");
    assert_eq!(refreshes, 1);
    // Stored tokens that are stale too (t3): adopting them does not use the refresh up.
    let (page, refreshes) = list_racing(0, "t3", false).await;
    assert!(page.is_ok(), "{page:?}");
    assert_eq!(refreshes, 1);
}

/// A token endpoint that rejects the request itself (our signature, clock or whitelist)
/// does not declare the shop dead: re-authorizing would not mend it.
#[tokio::test]
async fn a_refresh_rejected_for_our_own_fault_is_not_a_dead_session() {
    struct BadSignature;
    #[async_trait::async_trait]
    impl TokenSink for BadSignature {
        async fn store(&self, _: &TokenSet, _: &str) -> Result<(), super::StoreError> {
            Ok(())
        }
    }
    let client = Scripted {
        error: Some(PlatformError::SessionExpired {
            detail: "27 invalid-sessionkey".into(),
        }),
        refuses_refresh: true,
        ..Scripted::default()
    };
    let mut session = session_with("r");
    // The scripted refusal is AuthRefused: dead. An InvalidRequest from the token
    // endpoint is reported as the platform's error instead.
    let refused = session.refresh_now(&client, &BadSignature).await;
    assert!(
        matches!(refused, Err(SessionError::Expired(_))),
        "{refused:?}"
    );
    let client = Scripted {
        error: Some(PlatformError::SessionExpired {
            detail: "27 invalid-sessionkey".into(),
        }),
        refresh_error: Some(PlatformError::InvalidRequest(
            "code 40003 isv.signature-invalid".into(),
        )),
        ..Scripted::default()
    };
    let rejected = session.refresh_now(&client, &BadSignature).await;
    assert!(
        matches!(
            rejected,
            Err(SessionError::Platform(PlatformError::InvalidRequest(_)))
        ),
        "{rejected:?}"
    );
}

/// Counts what the session tells it of refused refreshes.
#[derive(Default)]
struct RefusalSink {
    refused: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl TokenSink for RefusalSink {
    async fn store(&self, _: &TokenSet, _: &str) -> Result<(), super::StoreError> {
        Ok(())
    }
    async fn refresh_refused(&self) -> Result<(), String> {
        self.refused
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

/// A token endpoint that answers a code nobody documented (PDD's 20002 to a dead refresh
/// token) is asked once: retrying would send the same refresh token again and again. That
/// the access token expired and its refresh was answered so is told to the sink (the shop
/// ends if it lasts); a refresh ahead of expiry answered so is not (the platform may only
/// refuse an early refresh).
#[tokio::test]
async fn a_refresh_answered_with_an_unknown_code_is_not_retried() {
    let client = Scripted {
        error: Some(PlatformError::SessionExpired {
            detail: "10019 access_token已过期".into(),
        }),
        refresh_error: Some(PlatformError::Unknown {
            code: "20002".into(),
            message: "refresh_token无效".into(),
        }),
        ..Scripted::default()
    };
    let policy = RetryPolicy {
        max_retries: 5,
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
        max_stated_wait: Duration::from_millis(10),
    };
    let mut session = Session::new(
        AppCredentials::new("k", "s"),
        "t".into(),
        Some("r".into()),
        policy,
    );
    let window = TimeWindow::new(Utc::now(), Utc::now());
    let sink = RefusalSink::default();
    let error = session
        .list_orders(&client, &window, Listing::Modified, None, &sink)
        .await
        .expect_err("the refresh is refused");
    assert!(
        matches!(error, SessionError::Platform(PlatformError::Unknown { ref code, .. }) if code == "20002"),
        "{error:?}"
    );
    assert_eq!(
        client.refreshes.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    assert_eq!(sink.refused.load(std::sync::atomic::Ordering::SeqCst), 1);

    let ahead = RefusalSink::default();
    let error = session
        .refresh_now(&client, &ahead)
        .await
        .expect_err("the refresh is refused");
    assert!(matches!(error, SessionError::Platform(_)), "{error:?}");
    assert_eq!(ahead.refused.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_unknown_code_is_retried_then_refreshed_once_then_reported_with_its_text() {
    let unknown = PlatformError::Unknown {
        code: "802".into(),
        message: "新的限制".into(),
    };
    let (error, calls, refreshes) = list_with(unknown.clone(), Some("r")).await;
    // 1 + 2 retries, a refresh, 1 + 2 retries again; then the platform's own code and text.
    assert_eq!((calls, refreshes), (6, 1));
    assert!(
        matches!(error, SessionError::Platform(ref e) if *e == unknown),
        "{error:?}"
    );
    // Without a refresh token there is nothing to refresh: retried, then reported (the shop
    // is not declared expired for a code nobody documented).
    let (error, calls, refreshes) = list_with(unknown.clone(), None).await;
    assert_eq!((calls, refreshes), (3, 0));
    assert!(matches!(error, SessionError::Platform(_)), "{error:?}");
    // A documented caller error is neither retried nor refreshed.
    let (error, calls, refreshes) =
        list_with(PlatformError::InvalidRequest("bad sign".into()), Some("r")).await;
    assert_eq!((calls, refreshes), (1, 0));
    assert!(matches!(error, SessionError::Platform(_)));
}

/// A session of app `k` holding access token `t` and refresh token `refresh`.
fn session_with(refresh: &str) -> Session {
    Session::new(
        AppCredentials::new("k", "s"),
        "t".into(),
        Some(refresh.into()),
        RetryPolicy::default(),
    )
}

/// What a fresh session ([`session_with`] `"r"`) stores after `client` made it refresh while
/// listing a page, which must succeed.
async fn stored_after_refresh(client: &Scripted) -> TokenSet {
    let sink = RecordingSink::default();
    let mut session = session_with("r");
    let window = TimeWindow::new(Utc::now(), Utc::now());
    let page = session
        .list_orders(client, &window, Listing::Modified, None, &sink)
        .await;
    assert!(page.is_ok(), "{page:?}");
    sink.stored.lock().unwrap().clone().expect("stored")
}

/// Records what it stores; reads back the last stored pair.
#[derive(Default)]
struct RecordingSink {
    stored: std::sync::Mutex<Option<TokenSet>>,
}

#[async_trait::async_trait]
impl TokenSink for RecordingSink {
    async fn store(&self, tokens: &TokenSet, _: &str) -> Result<(), super::StoreError> {
        *self.stored.lock().unwrap() = Some(tokens.clone());
        Ok(())
    }
    async fn stored(&self) -> Result<Option<(String, Option<String>)>, String> {
        Ok(self
            .stored
            .lock()
            .unwrap()
            .as_ref()
            .map(|t| (t.access_token.clone(), t.refresh_token.clone())))
    }
}

/// Taobao's `re_expires_in = 0` (README §1.1): the refresh answer says its refresh token cannot
/// be used. The session must not keep the old one as if it were merely not resent: the stored
/// pair has none, and at the next expiry the shop is EXPIRED (re-authorize) without a refresh
/// the platform would refuse (which would make it INVALID).
#[tokio::test]
async fn a_refresh_answer_without_a_usable_refresh_token_ends_at_the_next_expiry() {
    let now = Utc::now();
    let unusable = TokenSet {
        access_token: "t2".into(),
        refresh_token: None,
        expires_at: Some(now + chrono::Duration::hours(1)),
        refresh_expires_at: Some(now),
        shop_id: None,
        shop_name: None,
    };
    assert!(unusable.refresh_unusable(Utc::now()));
    let expired = PlatformError::SessionExpired {
        detail: "27 invalid-sessionkey".into(),
    };
    let client = Scripted {
        error: Some(expired.clone()),
        valid_token: Some("t2"),
        refresh_answer: Some(unusable),
        ..Scripted::default()
    };
    let sink = RecordingSink::default();
    let mut session = session_with("r");
    let window = TimeWindow::new(Utc::now(), Utc::now());
    let page = session
        .list_orders(&client, &window, Listing::Modified, None, &sink)
        .await;
    assert!(page.is_ok(), "{page:?}");
    let stored = sink.stored.lock().unwrap().clone().expect("stored");
    assert_eq!(stored.access_token, "t2");
    assert_eq!(
        stored.refresh_token, None,
        "the old refresh token is not kept"
    );

    // t2 expires in turn: no refresh is attempted, and the session is expired for want of a
    // refresh token (`NO_REFRESH_TOKEN`, which the shop reads as EXPIRED, not INVALID).
    let later = Scripted {
        error: Some(expired),
        ..Scripted::default()
    };
    let error = session
        .list_orders(&later, &window, Listing::Modified, None, &sink)
        .await
        .expect_err("expired");
    assert_eq!(error, SessionError::Expired(NO_REFRESH_TOKEN.into()));
    assert_eq!(later.refreshes.load(std::sync::atomic::Ordering::SeqCst), 0);

    // A refresh answer that merely does not resend the refresh token keeps the old one.
    let client = Scripted {
        error: Some(PlatformError::SessionExpired {
            detail: String::new(),
        }),
        valid_token: Some("t3"),
        refresh_answer: Some(TokenSet {
            access_token: "t3".into(),
            refresh_token: None,
            expires_at: None,
            refresh_expires_at: None,
            shop_id: None,
            shop_name: None,
        }),
        ..Scripted::default()
    };
    let stored = stored_after_refresh(&client).await;
    assert_eq!(stored.refresh_token.as_deref(), Some("r"));
}

/// The refresh token's expiry is what the refresh answer states, for a new refresh token and
/// for the same one extended alike (a merchant who renewed the subscription); Douyin's same
/// pair states none (`douyin::parse::same_pair_keeps_its_expiry`).
#[tokio::test]
async fn a_refresh_tokens_stated_expiry_is_kept_for_the_same_token_too() {
    let later = Utc::now() + chrono::Duration::days(14);
    for (answered, expected) in [("r", Some(later)), ("r2", Some(later))] {
        let client = Scripted {
            error: Some(PlatformError::SessionExpired {
                detail: String::new(),
            }),
            valid_token: Some("t2"),
            refresh_answer: Some(TokenSet {
                access_token: "t2".into(),
                refresh_token: Some(answered.into()),
                expires_at: None,
                refresh_expires_at: Some(later),
                shop_id: None,
                shop_name: None,
            }),
            ..Scripted::default()
        };
        let stored = stored_after_refresh(&client).await;
        assert_eq!(stored.refresh_token.as_deref(), Some(answered));
        assert_eq!(stored.refresh_expires_at, expected, "{answered}");
    }
}

/// A session that stays refused after its refresh is expired with the platform's own words.
#[tokio::test]
async fn an_expiry_after_the_refresh_keeps_the_platforms_text() {
    let (error, _, refreshes) = list_with(
        PlatformError::SessionExpired {
            detail: "19 无效access_token".into(),
        },
        Some("r"),
    )
    .await;
    assert_eq!(refreshes, 1);
    assert!(
        matches!(error, SessionError::Expired(ref m) if m.contains("（平台返回：19 无效access_token）")),
        "{error:?}"
    );
}

/// One page of `client`'s orders through a session.
async fn one_page(client: &Scripted) -> crate::OrderPage {
    let mut session = Session::new(
        AppCredentials::new("k", "s"),
        "t".into(),
        None,
        RetryPolicy::default(),
    );
    let window = TimeWindow::new(Utc::now(), Utc::now());
    session
        .list_orders(client, &window, Listing::Modified, None, &NoSink)
        .await
        .expect("a page")
}

/// Each order's id and whether it read (or why not).
fn ids_and_verdicts(page: &crate::OrderPage) -> Vec<(Option<&str>, Result<(), &str>)> {
    page.orders
        .iter()
        .map(|o| {
            let parsed = o.parsed.as_ref().map(|_| ()).map_err(String::as_str);
            (o.order_id.as_deref(), parsed)
        })
        .collect()
}

/// An order id with a control character (a NUL PostgreSQL refuses would fail the whole page)
/// names no order the platform would know again: the order is kept as an unidentified,
/// unreadable one, and the page's other orders as they are.
#[tokio::test]
async fn an_order_id_with_a_control_character_makes_the_order_unreadable_not_the_page() {
    let fetched = |id: &str| crate::FetchedOrder {
        order_id: Some(id.to_owned()),
        raw: serde_json::json!({ "oid": id }),
        parsed: Err("未知状态\u{7}".to_owned()),
    };
    let client = Scripted {
        orders: vec![fetched("A\u{0}1"), fetched("B2")],
        ..Scripted::default()
    };
    let page = one_page(&client).await;
    let seen = ids_and_verdicts(&page);
    assert_eq!(
        seen,
        [
            (None, Err("订单号含控制字符，无法识别")),
            (Some("B2"), Err("未知状态")),
        ]
    );
}

/// An id longer than any platform's, or times no order can have (chrono reads years the
/// database refuses), make that order unreadable, kept and counted, never the page.
#[tokio::test]
async fn an_overlong_id_or_an_impossible_time_makes_the_order_unreadable_not_the_page() {
    let order = |id: &str, created: chrono::DateTime<Utc>| crate::FetchedOrder {
        order_id: Some(id.to_owned()),
        raw: serde_json::json!({ "oid": id }),
        parsed: Ok(leadgen_domain::RawOrder {
            order_id: id.to_owned(),
            status: leadgen_domain::NeutralStatus::Paid,
            platform_status: "2".into(),
            created_at: created,
            paid_at: None,
            modified_at: None,
            amount: leadgen_domain::Money::from_fen(100),
            refunded: false,
            partial_refund: None,
            buyer: Default::default(),
            receiver: Default::default(),
            items: Vec::new(),
        }),
    };
    let ancient = chrono::DateTime::<Utc>::from_timestamp(-300_000_000_000, 0).unwrap();
    let client = Scripted {
        orders: vec![
            order(&"9".repeat(129), Utc::now()),
            order("B2", ancient),
            order("C3", Utc::now()),
        ],
        ..Scripted::default()
    };
    let page = one_page(&client).await;
    let seen = ids_and_verdicts(&page);
    assert_eq!(
        seen,
        [
            (None, Err("订单号过长，无法识别")),
            (
                Some("B2"),
                Err("字段 createdAt 的时间不合理（早于 1990 年或晚于一年后）")
            ),
            (Some("C3"), Ok(())),
        ]
    );
}

/// Another caller renews the shop for too long (or the lock cannot be had): its tokens are taken
/// when it stored some, and otherwise the call fails for now, never refreshing the same refresh
/// token beside it.
#[tokio::test(start_paused = true)]
async fn a_renewal_lock_not_had_never_refreshes_beside_its_holder() {
    struct LockedOut {
        stored: &'static str,
    }
    #[async_trait::async_trait]
    impl TokenSink for LockedOut {
        async fn store(&self, _: &TokenSet, _: &str) -> Result<(), super::StoreError> {
            Ok(())
        }
        async fn stored(&self) -> Result<Option<(String, Option<String>)>, String> {
            Ok(Some((
                self.stored.into(),
                Some(format!("r-{}", self.stored)),
            )))
        }
        async fn exclusive(&self) -> Result<Option<Box<dyn RenewalLock>>, String> {
            Err("another caller has been renewing for over 180 s".into())
        }
    }
    let client = Scripted {
        error: Some(PlatformError::SessionExpired {
            detail: "27 invalid-sessionkey".into(),
        }),
        valid_token: Some("t2"),
        ..Scripted::default()
    };
    let window = TimeWindow::new(Utc::now(), Utc::now());
    let list = |stored: &'static str| {
        let (client, window) = (&client, &window);
        async move {
            let mut session = session_with("r-t");
            let sink = LockedOut { stored };
            session
                .list_orders(client, window, Listing::Modified, None, &sink)
                .await
        }
    };
    // Nothing stored meanwhile: fails for now, no refresh, and as ours, not the platform's.
    let failed = list("t").await;
    assert!(
        matches!(
            failed,
            Err(SessionError::Platform(PlatformError::GateUnavailable(_)))
        ),
        "{failed:?}"
    );
    // The holder stored its tokens: they are used.
    let page = list("t2").await;
    assert!(page.is_ok(), "{page:?}");
    assert_eq!(
        client.refreshes.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "never refreshed beside the holder"
    );
}

/// Fails its first `failures` stores with `error`, then records.
struct FlakySink {
    failures: std::sync::atomic::AtomicUsize,
    error: super::StoreError,
    inner: RecordingSink,
}

#[async_trait::async_trait]
impl TokenSink for FlakySink {
    async fn store(&self, tokens: &TokenSet, from: &str) -> Result<(), super::StoreError> {
        let left = self.failures.load(std::sync::atomic::Ordering::SeqCst);
        if left > 0 {
            self.failures
                .store(left - 1, std::sync::atomic::Ordering::SeqCst);
            return Err(self.error.clone());
        }
        self.inner.store(tokens, from).await
    }
}

/// A refresh the platform answered may have retired the old refresh token: the new pair is not
/// lost to a database blip (stored again until it is), and a sink that refuses for good is not
/// tried again. Either way the session keeps the new pair.
#[tokio::test(start_paused = true)]
async fn refreshed_tokens_survive_a_failed_store() {
    let client = || Scripted {
        error: Some(PlatformError::SessionExpired {
            detail: String::new(),
        }),
        valid_token: Some("t2"),
        ..Scripted::default()
    };
    let window = TimeWindow::new(Utc::now(), Utc::now());
    // A database restart's worth of failures (minutes, paused time here).
    let flaky = FlakySink {
        failures: 9.into(),
        error: super::StoreError::Transient("pool timed out".into()),
        inner: RecordingSink::default(),
    };
    let mut session = session_with("r");
    let page = session
        .list_orders(&client(), &window, Listing::Modified, None, &flaky)
        .await;
    assert!(page.is_ok(), "{page:?}");
    let stored = flaky.inner.stored.lock().unwrap().clone().expect("stored");
    assert_eq!(stored.access_token, "t2");

    let gone = FlakySink {
        failures: 100.into(),
        error: super::StoreError::Refused("the shop is no longer connected".into()),
        inner: RecordingSink::default(),
    };
    let mut session = session_with("r");
    let error = session
        .list_orders(&client(), &window, Listing::Modified, None, &gone)
        .await
        .expect_err("not stored");
    assert!(matches!(error, SessionError::Persist(_)), "{error:?}");
    assert_eq!(
        gone.failures.load(std::sync::atomic::Ordering::SeqCst),
        99,
        "a refusal is not tried again"
    );
    assert_eq!(session.access_token, "t2", "the session keeps the new pair");
}

/// The process stopping gives up a call, but never a renewal midway: the platform may have
/// retired the old refresh token with its answer, so the new pair is stored before the call
/// ends as stopped (and no further attempt goes out).
#[tokio::test]
async fn a_stop_during_a_renewal_keeps_the_new_tokens_and_then_stops() {
    let stop = tokio_util::sync::CancellationToken::new();
    let client = Scripted {
        error: Some(PlatformError::SessionExpired {
            detail: "token expired".into(),
        }),
        valid_token: Some("t2"),
        stops_while_refreshing: Some(stop.clone()),
        ..Scripted::default()
    };
    let sink = RecordingSink::default();
    let mut session = session_with("r");
    session.stop_on(stop.clone());
    let window = TimeWindow::new(Utc::now(), Utc::now());
    let answer = session
        .list_orders(&client, &window, Listing::Modified, None, &sink)
        .await;
    assert_eq!(answer.map(|_| ()), Err(SessionError::Stopped));
    assert!(stop.is_cancelled());
    let stored = sink.stored.lock().unwrap().clone().expect("stored");
    assert_eq!(
        (
            stored.access_token.as_str(),
            stored.refresh_token.as_deref()
        ),
        ("t2", Some("r2"))
    );
    assert_eq!(client.lists.load(std::sync::atomic::Ordering::SeqCst), 1);
    // Stopped before it starts, a call makes none.
    let answer = session
        .list_orders(&client, &window, Listing::Modified, None, &sink)
        .await;
    assert_eq!(answer.map(|_| ()), Err(SessionError::Stopped));
    assert_eq!(client.lists.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// A refresh the platform answered with something we cannot read (`Malformed`: an HTTP 200
/// without its tokens) was sent again with the same refresh token: the platform may have
/// rotated the pair with that answer, and the resent, now dead, token ended the shop EXPIRED.
/// It is sent once.
#[tokio::test(start_paused = true)]
async fn a_refresh_answered_unreadably_is_not_sent_again() {
    let client = Scripted {
        error: Some(PlatformError::SessionExpired {
            detail: "27 invalid-sessionkey".into(),
        }),
        refresh_error: Some(PlatformError::Malformed("令牌响应缺少 access_token".into())),
        ..Scripted::default()
    };
    let mut session = session_with("r");
    let window = TimeWindow::new(Utc::now(), Utc::now());
    let error = session
        .list_orders(&client, &window, Listing::Modified, None, &NoSink)
        .await
        .expect_err("no tokens came back");
    assert!(
        matches!(error, SessionError::Platform(PlatformError::Malformed(_))),
        "{error:?}"
    );
    assert_eq!(
        client.refreshes.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

/// A refresh that went unanswered (a timeout, a transport failure, a 5xx) may still have
/// reached the platform. Before it is sent again the stored tokens are read: a pair another
/// caller stored meanwhile is used instead of refreshing over it; with none, it is sent again.
#[tokio::test(start_paused = true)]
async fn a_refresh_that_went_unanswered_reads_the_stored_tokens_before_it_is_sent_again() {
    let unanswered = |stale_reads: usize| {
        let client = Scripted {
            refresh_error: Some(PlatformError::Unavailable("operation timed out".into())),
            ..racing_platform()
        };
        list_with_racing_sink(client, stale_reads, "t2")
    };
    // Read before the renewal (stale), before the second try (stale), before the third: the
    // other caller's pair, used without a third refresh.
    let (page, refreshes) = unanswered(2).await;
    assert!(page.is_ok(), "{page:?}");
    assert_eq!(refreshes, 2);
    // Nobody stored a pair: sent again, up to the retry budget (1 + 6), then reported.
    let (page, refreshes) = unanswered(usize::MAX).await;
    assert!(
        matches!(
            page,
            Err(SessionError::Platform(PlatformError::Unavailable(_)))
        ),
        "{page:?}"
    );
    assert_eq!(refreshes, 7);
}

/// A token at or past its stated expiry is renewed before the call, not after the platform
/// refuses it (on Kuaishou an expired token is an undocumented answer, retried with backoff
/// first; a decrypt never refreshes on one). A token far from its expiry, or one without a
/// stated expiry, is used as it is.
#[tokio::test]
async fn a_token_at_its_stated_expiry_is_renewed_before_the_call() {
    // The platform takes only the renewed token: the stored one is refused with an unknown code.
    let platform = || Scripted {
        error: Some(PlatformError::Unknown {
            code: "24".into(),
            message: "token expired".into(),
        }),
        valid_token: Some("t2"),
        ..Scripted::default()
    };
    let session = |expiry| {
        let policy = fast_policy(2);
        Session::new(
            AppCredentials::new("k", "s"),
            "t".into(),
            Some("r".into()),
            policy,
        )
        .expiring_at(expiry)
    };
    let window = TimeWindow::new(Utc::now(), Utc::now());
    let sink = RecordingSink::default();
    let client = platform();
    let mut lapsed = session(Some(Utc::now() + chrono::Duration::seconds(30)));
    lapsed
        .list_orders(&client, &window, Listing::Modified, None, &sink)
        .await
        .expect("listed with the renewed token");
    let counts = |c: &Scripted| {
        (
            c.lists.load(std::sync::atomic::Ordering::SeqCst),
            c.refreshes.load(std::sync::atomic::Ordering::SeqCst),
        )
    };
    assert_eq!(counts(&client), (1, 1), "one refresh, then one call");
    // The renewed token carries no stated expiry: the next call does not refresh again.
    lapsed
        .list_orders(&client, &window, Listing::Modified, None, &sink)
        .await
        .expect("listed");
    assert_eq!(counts(&client), (2, 1));

    for expiry in [None, Some(Utc::now() + chrono::Duration::hours(2))] {
        let client = platform();
        let mut fresh = session(expiry);
        fresh
            .list_orders(&client, &window, Listing::Modified, None, &sink)
            .await
            .expect("listed after the platform refused the stored token");
        assert!(
            counts(&client).0 > 1,
            "{expiry:?}: the stored token was tried first"
        );
    }
}

/// A renewal ahead of the call that the platform answered without tokens spends the call's one
/// refresh: the same refresh token is never sent again after an answer, and a refusal of the
/// stored token then reports that failure, not a dead session.
#[tokio::test]
async fn a_failed_renewal_ahead_of_the_call_is_not_sent_again() {
    let policy = fast_policy(1);
    let answered = PlatformError::Unknown {
        code: "10001".into(),
        message: "系统繁忙".into(),
    };
    for refused in [
        PlatformError::SessionExpired {
            detail: "27 Invalid session".into(),
        },
        PlatformError::Unknown {
            code: "24".into(),
            message: "token expired".into(),
        },
    ] {
        let client = Scripted {
            error: Some(refused.clone()),
            refresh_error: Some(answered.clone()),
            ..Scripted::default()
        };
        let mut session = Session::new(
            AppCredentials::new("k", "s"),
            "t".into(),
            Some("r".into()),
            policy,
        )
        .expiring_at(Some(Utc::now() - chrono::Duration::minutes(5)));
        let window = TimeWindow::new(Utc::now(), Utc::now());
        let error = session
            .list_orders(&client, &window, Listing::Modified, None, &NoSink)
            .await
            .expect_err("the stored token is refused");
        assert_eq!(
            client.refreshes.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "{refused:?}: one refresh"
        );
        assert!(
            matches!(error, SessionError::Platform(_)),
            "{refused:?}: not a dead session: {error:?}"
        );
    }
}
