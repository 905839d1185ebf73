//! One caller renews a shop's tokens at a time, across processes: two sessions that find the
//! same token expired at once make one refresh between them, and the other takes the stored
//! result. A lock whose holder was cancelled does not outlive it. Against the real PostgreSQL,
//! with a scripted platform whose refresh is slow and issues a new pair every time.

#![expect(clippy::expect_used, reason = "test fixtures panic on a broken setup")]

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_crypto::Sealer;
use leadgen_db::held_lock::HeldLock;
use leadgen_db::schema::t_ecom_platform_auth as auth;
use leadgen_db::sealed;
use leadgen_domain::{PlatformId, PlatformType};
use leadgen_platforms::resilience::RetryPolicy;
use leadgen_platforms::reveal::{DecryptRequest, RevealPurpose, RevealedContact};
use leadgen_platforms::session::StoreError;
use leadgen_platforms::{
    AppCredentials, Listing, OrderPage, PageCursor, PlatformClient, PlatformError, TimeWindow,
    TokenSet,
};
use leadgen_shop_session::{CredentialSink, find, open_session, renewal_lock_key};
use leadgen_test_support::{TestDb, crypto_settings};

/// A platform where only the newest access token works (and a grant's given by a consent
/// meanwhile, `granted`), and every refresh, slow, issues a new pair (whichever refresh token it
/// is given).
struct Rotating {
    current: Mutex<u32>,
    refreshes: AtomicUsize,
    granted: Mutex<Option<String>>,
}

impl Rotating {
    /// The platform has moved past the stored pair `AT0`/`RT0`: its newest is `AT1`.
    fn past_the_stored_token() -> Self {
        Rotating {
            current: Mutex::new(1),
            refreshes: AtomicUsize::new(0),
            granted: Mutex::new(None),
        }
    }

    fn current(&self) -> u32 {
        *self.current.lock().expect("lock")
    }
}

#[async_trait::async_trait]
impl PlatformClient for Rotating {
    fn platform(&self) -> PlatformType {
        PlatformType::Douyin
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
        Err(PlatformError::InvalidRequest("not in this test".into()))
    }
    async fn refresh(&self, _: &AppCredentials, _: &str) -> Result<TokenSet, PlatformError> {
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let n = {
            let mut current = self.current.lock().expect("lock");
            *current += 1;
            *current
        };
        Ok(TokenSet {
            access_token: format!("AT{n}"),
            refresh_token: Some(format!("RT{n}")),
            expires_at: Some(Utc::now() + chrono::Duration::days(7)),
            refresh_expires_at: Some(Utc::now() + chrono::Duration::days(14)),
            shop_id: None,
            shop_name: None,
        })
    }
    fn windows(&self, range: TimeWindow, _: DateTime<Utc>, _: Listing) -> Vec<TimeWindow> {
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
        let granted = self.granted.lock().expect("lock").clone();
        if token != format!("AT{}", self.current()) && granted.as_deref() != Some(token) {
            return Err(PlatformError::SessionExpired {
                detail: format!("{token} is no longer valid"),
            });
        }
        Ok(OrderPage {
            orders: Vec::new(),
            next: None,
            total: Some(0),
        })
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

/// An ACTIVE Douyin shop holding `AT0`/`RT0`, sealed as the services seal them.
async fn shop(db: &TestDb, sealer: &Sealer) -> PlatformId {
    let id = PlatformId::new(db.active_shop(1, "DOUYIN").await);
    let auth_info = sealer
        .seal(
            &sealed::platform_auth("auth_info", id),
            "{\"appSecret\":\"s\"}",
        )
        .expect("seal");
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    diesel::update(auth::table.find(id.get()))
        .set(auth::auth_info.eq(auth_info))
        .execute(&mut conn)
        .await
        .expect("credentials");
    store_grant(db, sealer, id, "AT0", "RT0").await;
    id
}

/// An ACTIVE Douyin shop ([`shop`]) and the sink its sessions store through.
async fn shop_with_sink(db: &TestDb) -> (PlatformId, CredentialSink) {
    let sealer = sealer();
    let id = shop(db, &sealer).await;
    let sink = CredentialSink {
        pool: db.pool.clone(),
        sealer,
        platform_id: id,
    };
    (id, sink)
}

/// Tenant 1's shop `id` as a session opens it.
async fn stored_row(db: &TestDb, id: PlatformId) -> leadgen_shop_session::CredentialRow {
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    find(&mut conn, leadgen_domain::TenantId::new(1), id)
        .await
        .expect("find")
        .expect("the shop")
}

/// A policy that sends every call once.
fn no_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 0,
        ..RetryPolicy::default()
    }
}

fn sealer() -> std::sync::Arc<Sealer> {
    let settings = crypto_settings();
    std::sync::Arc::new(Sealer::new(settings.key_id, &settings.data_key, &[]).expect("sealer"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_callers_finding_one_token_expired_make_one_refresh() {
    let db = TestDb::new().await;
    let sealer = sealer();
    let id = shop(&db, &sealer).await;
    let platform = Rotating::past_the_stored_token();
    let row = stored_row(&db, id).await;
    let policy = no_retries();
    let sink = CredentialSink {
        pool: db.pool.clone(),
        sealer: sealer.clone(),
        platform_id: id,
    };
    let window = TimeWindow::new(Utc::now() - chrono::Duration::hours(1), Utc::now());
    // Two sessions opened from the same stored pair, whose access token the platform no
    // longer takes, both listing at once.
    let list = || async {
        let mut session = open_session(&sealer, &row, policy).expect("open");
        session
            .list_orders(&platform, &window, Listing::Modified, None, &sink)
            .await
    };
    let (first, second) = tokio::join!(list(), list());
    assert!(first.is_ok(), "{first:?}");
    assert!(second.is_ok(), "{second:?}");
    assert_eq!(
        AtomicUsize::load(&platform.refreshes, Ordering::SeqCst),
        1,
        "the second caller waits for the first's refresh and takes its tokens"
    );
    // The stored pair is the platform's current one.
    let stored = stored_row(&db, id).await;
    let access = sealer
        .open(
            &sealed::platform_auth("access_token", id),
            stored.access_token.as_deref().expect("a token"),
        )
        .expect("open");
    assert_eq!(access, format!("AT{}", platform.current()));
    assert_eq!(stored.status, leadgen_domain::AuthStatus::Active);
}

#[tokio::test]
async fn a_renewal_lock_dropped_unreleased_does_not_outlive_its_holder() {
    let db = TestDb::new().await;
    let key = renewal_lock_key(PlatformId::new(42));
    let held = HeldLock::try_acquire(&db.pool, key)
        .await
        .expect("lock")
        .expect("free");
    // Held: another caller cannot have it now.
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    assert!(!try_lock(&mut conn, key).await);
    // Dropped as a cancelled task drops it: its connection is closed, and the lock with it.
    drop(held);
    let mut free = false;
    for _ in 0..50 {
        free = try_lock(&mut conn, key).await;
        if free {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(free, "the lock ends with its holder's connection");
    // Released properly: it can be had again at once.
    HeldLock::try_acquire(&db.pool, key)
        .await
        .expect("lock")
        .expect("free")
        .release()
        .await;
    assert!(try_lock(&mut conn, key).await);
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    locked: bool,
}

async fn try_lock(conn: &mut leadgen_db::PooledConn, key: i64) -> bool {
    let locked: Locked = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS locked")
        .bind::<diesel::sql_types::BigInt, _>(key)
        .get_result(conn)
        .await
        .expect("try lock");
    if locked.locked {
        diesel::sql_query("SELECT pg_advisory_unlock($1)")
            .bind::<diesel::sql_types::BigInt, _>(key)
            .execute(conn)
            .await
            .expect("unlock");
    }
    locked.locked
}

/// A refresh that lands just after the merchant paused the shop is stored (the grant is theirs
/// still, and a platform that retires the old refresh token would leave a dead one); one that
/// lands after the shop was disconnected is not.
#[tokio::test]
async fn refreshed_tokens_are_kept_through_a_pause_not_a_disconnection() {
    use leadgen_platforms::session::TokenSink as _;
    let db = TestDb::new().await;
    let (id, sink) = shop_with_sink(&db).await;
    let tokens = |n: u32| TokenSet {
        access_token: format!("AT{n}"),
        refresh_token: Some(format!("RT{n}")),
        expires_at: None,
        refresh_expires_at: None,
        shop_id: None,
        shop_name: None,
    };
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let set_status = |status: &'static str| {
        diesel::update(auth::table.find(id.get())).set(auth::status.eq(status))
    };
    set_status("DISABLED")
        .execute(&mut conn)
        .await
        .expect("pause");
    sink.store(&tokens(1), "RT0")
        .await
        .expect("stored while paused");
    let stored = sink.stored().await.expect("read").expect("tokens");
    assert_eq!(stored, ("AT1".to_owned(), Some("RT1".to_owned())));
    set_status("REVOKED")
        .execute(&mut conn)
        .await
        .expect("disconnect");
    assert!(matches!(
        sink.store(&tokens(2), "RT1").await,
        Err(StoreError::Refused(_))
    ));
}

/// A refresh the platform answered without tokens after saying the access token expired is
/// noted once (its first time kept), makes the shop due for the refresher whatever its expiry,
/// and is forgotten when new tokens are stored or the platform answers a sync's page.
#[tokio::test]
async fn a_refused_refresh_is_noted_until_the_shop_answers_again() {
    use leadgen_platforms::session::TokenSink as _;
    let db = TestDb::new().await;
    let (id, sink) = shop_with_sink(&db).await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    // A token that lives a year (PDD's follows the merchant's subscription): never due.
    diesel::update(auth::table.find(id.get()))
        .set(auth::expiry_time.eq(Some(Utc::now() + chrono::Duration::days(365))))
        .execute(&mut conn)
        .await
        .expect("expiry");
    let due = async |conn: &mut leadgen_db::PooledConn| {
        leadgen_shop_session::expiring(conn, Utc::now() + chrono::Duration::minutes(30), 100, &[])
            .await
            .expect("expiring")
            .into_iter()
            .map(|row| (row.id, row.refresh_refused_since))
            .collect::<Vec<_>>()
    };
    assert_eq!(due(&mut conn).await, []);

    sink.refresh_refused().await.expect("noted");
    let first = due(&mut conn).await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0].0, id);
    let since = first[0].1.expect("since");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    sink.refresh_refused().await.expect("noted again");
    assert_eq!(
        due(&mut conn).await,
        [(id, Some(since))],
        "the first time is kept"
    );

    sink.store(
        &TokenSet {
            access_token: "AT1".into(),
            refresh_token: Some("RT1".into()),
            expires_at: Some(Utc::now() + chrono::Duration::days(365)),
            refresh_expires_at: None,
            shop_id: None,
            shop_name: None,
        },
        "RT0",
    )
    .await
    .expect("stored");
    assert_eq!(due(&mut conn).await, [], "new tokens end the refusal");

    sink.refresh_refused().await.expect("noted");
    assert_eq!(due(&mut conn).await.len(), 1);
    assert_eq!(
        leadgen_shop_session::clear_refresh_refusal(&mut conn, id)
            .await
            .expect("cleared"),
        1
    );
    assert_eq!(due(&mut conn).await, [], "an answered page ends it");
}

/// Seals `access`/`refresh` as the shop's tokens, as a consent stores a new grant.
async fn store_grant(db: &TestDb, sealer: &Sealer, id: PlatformId, access: &str, refresh: &str) {
    let seal = |column, value| {
        sealer
            .seal(&sealed::platform_auth(column, id), value)
            .expect("seal")
    };
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    diesel::update(auth::table.find(id.get()))
        .set((
            auth::access_token.eq(Some(seal("access_token", access))),
            auth::refresh_token.eq(Some(seal("refresh_token", refresh))),
        ))
        .execute(&mut conn)
        .await
        .expect("new grant");
}

/// Refreshed tokens are stored only over the refresh token they were refreshed from: a refresh
/// of the old grant that lands after the merchant authorized again (its store retried past the
/// consent's wait for the renewal lock) leaves the new grant's tokens alone.
#[tokio::test]
async fn a_refresh_of_a_replaced_grant_never_writes_over_the_new_one() {
    use leadgen_platforms::session::TokenSink as _;
    let db = TestDb::new().await;
    let (id, sink) = shop_with_sink(&db).await;
    store_grant(&db, &sink.sealer, id, "NEW-AT", "NEW-RT").await;
    let old = TokenSet {
        access_token: "AT1".into(),
        refresh_token: Some("RT1".into()),
        expires_at: None,
        refresh_expires_at: None,
        shop_id: None,
        shop_name: None,
    };
    assert!(matches!(
        sink.store(&old, "RT0").await,
        Err(StoreError::Superseded(_))
    ));
    let stored = sink.stored().await.expect("read").expect("tokens");
    assert_eq!(stored, ("NEW-AT".to_owned(), Some("NEW-RT".to_owned())));
    // Refreshed from the new grant's refresh token, they are stored.
    sink.store(&old, "NEW-RT").await.expect("stored");
    let stored = sink.stored().await.expect("read").expect("tokens");
    assert_eq!(stored, ("AT1".to_owned(), Some("RT1".to_owned())));
}

/// A session whose refresh of the old grant is answered after a new consent stored its tokens
/// takes the new grant's tokens and goes on with them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_refreshing_while_the_merchant_authorizes_again_takes_the_new_grant() {
    let db = TestDb::new().await;
    let (id, sink) = shop_with_sink(&db).await;
    // The platform takes only its newest access token; `AT0` is no longer it.
    let platform = Rotating::past_the_stored_token();
    let row = stored_row(&db, id).await;
    let policy = no_retries();
    let mut session = open_session(&sink.sealer, &row, policy).expect("open");
    let window = TimeWindow::new(Utc::now() - chrono::Duration::hours(1), Utc::now());
    let list = session.list_orders(&platform, &window, Listing::Modified, None, &sink);
    // The merchant's new consent lands while the refresh (300 ms) is under way: the platform
    // grants `NEW-AT`/`NEW-RT`.
    let consent = async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        *platform.granted.lock().expect("lock") = Some("NEW-AT".into());
        store_grant(&db, &sink.sealer, id, "NEW-AT", "NEW-RT").await;
    };
    let (listed, ()) = tokio::join!(list, consent);
    assert!(listed.is_ok(), "{listed:?}");
    assert_eq!(
        AtomicUsize::load(&platform.refreshes, Ordering::SeqCst),
        1,
        "the new grant's tokens are used as they are, not refreshed"
    );
    let stored = leadgen_platforms::session::TokenSink::stored(&sink)
        .await
        .expect("read")
        .expect("tokens");
    assert_eq!(stored, ("NEW-AT".to_owned(), Some("NEW-RT".to_owned())));
}
