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
        "电商平台调用过于频繁，重试多次后仍失败，请稍后重新同步（平台返回：7 accesscontrol.limited-by-app-access-count App Call Limited）"
    );
    let waited = PlatformError::Throttled {
        retry_after: Some(Duration::from_secs(3600)),
        detail: "7 This ban will last for 3600 more seconds".into(),
    };
    assert_eq!(
        describe(&waited),
        "电商平台调用过于频繁，需等待约 60 分钟后再调用，本次同步未完成，请稍后重新同步（平台返回：7 This ban will last for 3600 more seconds）"
    );
    let expired = PlatformError::SessionExpired {
        detail: "10019 access_token已过期".into(),
    };
    assert_eq!(
        describe(&expired),
        "店铺授权已失效，请重新授权（平台返回：10019 access_token已过期）"
    );
    // Nothing said (an HTTP 429 without a body): the sentence alone.
    let silent = PlatformError::Throttled {
        retry_after: None,
        detail: String::new(),
    };
    assert_eq!(
        describe(&silent),
        "电商平台调用过于频繁，重试多次后仍失败，请稍后重新同步"
    );
    let down = PlatformError::Unavailable("error_code 52103 服务暂时不可用".into());
    assert!(describe(&down).contains("52103 服务暂时不可用"));
    let down_for = PlatformError::UnavailableFor {
        retry_after: Duration::from_secs(600),
        detail: "HTTP 503".into(),
    };
    assert_eq!(
        describe(&down_for),
        "电商平台暂不可用，需等待约 10 分钟后再调用，本次同步未完成（HTTP 503）"
    );
}

/// A backfill asks for all the history the platform serves as of its request: what that history
/// lost while the task waited (a queue, a retry the scheduler started) is no clip to warn of. A
/// named period clipped by the same minutes is, and so is a backfill clipped by more than its
/// wait (it asked for more history than the platform serves).
#[test]
fn a_backfill_is_not_warned_of_the_history_lost_while_it_waited() {
    use leadgen_domain::{PlatformId, SyncStatus, SyncTaskId, TenantId};
    let requested_at = Utc::now() - chrono::Duration::minutes(30);
    let as_of = Utc::now();
    let task = |trigger| TaskRow {
        id: SyncTaskId::new(1),
        tenant_id: TenantId::new(1),
        platform_id: PlatformId::new(1),
        status: SyncStatus::Running,
        trigger_type: trigger,
        platform_type: PlatformType::Taobao,
        listing: Listing::Created,
        window_start: requested_at - chrono::Duration::days(88),
        window_end: requested_at,
        requested_by: None,
        attempts: 0,
        windows_total: None,
        windows_done: 0,
        claimed_by: None,
        windows_as_of: None,
        resends: 0,
        sync_time: requested_at,
    };
    let requested = TimeWindow::new(requested_at - chrono::Duration::days(88), requested_at);
    // The platform serves 88 days as of the walk: 30 minutes fewer than were asked for.
    let served = [TimeWindow::new(
        as_of - chrono::Duration::days(88),
        requested_at,
    )];
    let backfill = clip_tolerance(&task(SyncTrigger::Backfill), as_of);
    assert_eq!(clipped(&requested, &served, backfill), (None, None));
    let manual = clip_tolerance(&task(SyncTrigger::Manual), as_of);
    let (from, warning) = clipped(&requested, &served, manual);
    assert_eq!(from, Some(served[0].start));
    assert!(warning.unwrap().contains("电商平台只提供"));
    let longer = TimeWindow::new(requested_at - chrono::Duration::days(120), requested_at);
    assert!(
        clipped(&longer, &served, backfill).1.is_some(),
        "more than it waited"
    );
}
