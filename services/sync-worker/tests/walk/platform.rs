//! The scripted stand-in for a platform the walks run against: one order a page, with the
//! ways a real platform's paging goes wrong (late changes, loops, empty pages, slow calls, a
//! process stopping mid-call) switched on per test.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, Utc};
use leadgen_domain::{Money, NeutralStatus, PlatformType, RawOrder};
use leadgen_platforms::reveal::{DecryptRequest, RevealPurpose, RevealedContact};
use leadgen_platforms::{
    AppCredentials, FetchedOrder, Listing, OrderPage, PageCursor, PlatformClient, PlatformError,
    TimeWindow, TokenSet,
};

/// A numbered by-modification listing of one order per page, newest first. After the second
/// answer the platform records a change late: a new order at the head of the window.
#[derive(Default)]
pub struct LateChange {
    pub orders: Mutex<Vec<String>>,
    pub calls: AtomicUsize,
    /// Instead: token cursors that loop (A, B, A, …), one new order a page.
    pub looping: bool,
    /// Instead: numbered pages that never end, each answering the same two orders.
    pub same_page_forever: bool,
    /// Instead: token cursors whose first this many pages are empty, then one order and the end.
    pub empty_cursor_pages: usize,
    /// After the probe's answer, only this many of `orders` are left in the window (the rest
    /// were modified again mid-walk), and no order joins.
    pub left_after_probe: Option<usize>,
    /// Instead of the late order: after this call's answer, the window's oldest order (the
    /// listing is newest first) is modified again and comes back at its head with a newer
    /// modification time.
    pub moved_at_call: Option<usize>,
    /// The order modified again.
    pub moved: Mutex<Option<String>>,
    /// Instead of the late order: after this call's answer, the second and third orders of the
    /// window (modified the same second as all of them) trade places, as a platform paging a
    /// tie without a unique order may answer it, and nothing else changes.
    pub ties_swap_at_call: Option<usize>,
    /// Instead of the late order: every total counts this many orders the pages never give.
    pub overstated_total: u64,
    /// The first call takes this long to answer.
    pub slow_first_call: Option<std::time::Duration>,
    /// The platform serves this many days back from now, in windows of a day; else the
    /// range is one window.
    pub history_days: Option<i64>,
    /// The windows asked for, their first page each.
    pub asked: Mutex<Vec<TimeWindow>>,
    /// The process stops (this token fires) while the platform answers this call (counted
    /// from 0 over all calls), which then never answers.
    pub stop_at: Option<(usize, tokio_util::sync::CancellationToken)>,
    /// Before that stop: says it got there, and waits to be let go.
    pub hold: Option<std::sync::Arc<Hold>>,
    pub every_call: AtomicUsize,
}

#[derive(Default)]
pub struct Hold {
    pub reached: tokio::sync::Notify,
    pub go: tokio::sync::Notify,
}

/// An order as the platform answers it, modified an hour before the tests started (the same
/// time at every answer: an order answered with another time was modified again).
pub fn order(id: &str) -> FetchedOrder {
    static AT: std::sync::OnceLock<DateTime<Utc>> = std::sync::OnceLock::new();
    let at = *AT.get_or_init(|| Utc::now() - Duration::hours(1));
    let parsed = RawOrder {
        order_id: id.to_owned(),
        status: NeutralStatus::Paid,
        platform_status: "2".into(),
        created_at: at,
        paid_at: Some(at),
        modified_at: Some(at),
        amount: Money::from_fen(100),
        refunded: false,
        partial_refund: None,
        buyer: Default::default(),
        receiver: Default::default(),
        items: Vec::new(),
    };
    FetchedOrder {
        order_id: Some(id.to_owned()),
        raw: serde_json::json!({ "order_id": id }),
        parsed: Ok(parsed),
    }
}

#[async_trait::async_trait]
impl PlatformClient for LateChange {
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
        Err(PlatformError::InvalidRequest("not in this test".into()))
    }
    fn windows(&self, range: TimeWindow, now: DateTime<Utc>, _: Listing) -> Vec<TimeWindow> {
        match self.history_days {
            Some(days) => leadgen_platforms::window::split(
                range,
                Duration::days(1),
                Duration::days(days),
                now,
            ),
            None => vec![range],
        }
    }
    async fn list_orders(
        &self,
        _: &AppCredentials,
        _: &str,
        window: &TimeWindow,
        _: Listing,
        cursor: Option<&PageCursor>,
    ) -> Result<OrderPage, PlatformError> {
        let call = self.every_call.fetch_add(1, Ordering::SeqCst);
        if let Some(slow) = self.slow_first_call.filter(|_| call == 0) {
            tokio::time::sleep(slow).await;
        }
        if let Some((at, stop)) = &self.stop_at
            && *at == call
        {
            if let Some(hold) = &self.hold {
                hold.reached.notify_one();
                hold.go.notified().await;
            }
            stop.cancel();
            std::future::pending::<()>().await;
        }
        if cursor.is_none() {
            self.asked
                .lock()
                .map_err(|e| PlatformError::Unavailable(e.to_string()))?
                .push(*window);
        }
        if self.looping {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            let next = match cursor {
                Some(PageCursor::Token(t)) if t == "A" => "B",
                _ => "A",
            };
            return Ok(OrderPage {
                orders: vec![order(&format!("loop-{call}"))],
                next: Some(PageCursor::Token(next.into())),
                total: None,
            });
        }
        if self.empty_cursor_pages > 0 {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            let last = call == self.empty_cursor_pages;
            return Ok(OrderPage {
                orders: if last {
                    vec![order("after-empty")]
                } else {
                    Vec::new()
                },
                next: (!last).then(|| PageCursor::Token(format!("c{call}"))),
                total: None,
            });
        }
        let page = PageCursor::page_number(cursor, 1, PlatformType::Douyin)?;
        if self.same_page_forever {
            self.calls.fetch_add(1, Ordering::SeqCst);
            return Ok(OrderPage {
                orders: vec![order("same-1"), order("same-2")],
                next: Some(PageCursor::Number(page + 1)),
                total: None,
            });
        }
        let mut orders = self
            .orders
            .lock()
            .map_err(|e| PlatformError::Unavailable(e.to_string()))?;
        let answered = self.orders_answered(&orders, page, cursor);
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        match (self.left_after_probe, self.moved_at_call) {
            _ if self.ties_swap_at_call == Some(call) && orders.len() > 2 => orders.swap(1, 2),
            _ if self.ties_swap_at_call.is_some() || self.overstated_total > 0 => {}
            (Some(left), _) => orders.truncate(left),
            (None, Some(at)) if at == call => {
                if let Some(oldest) = orders.pop() {
                    orders.insert(0, oldest.clone());
                    *self
                        .moved
                        .lock()
                        .map_err(|e| PlatformError::Unavailable(e.to_string()))? = Some(oldest);
                }
            }
            (None, None) if call == 1 => orders.insert(0, "late".into()),
            _ => {}
        }
        Ok(answered)
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

impl LateChange {
    fn orders_answered(
        &self,
        orders: &[String],
        page: u32,
        cursor: Option<&PageCursor>,
    ) -> OrderPage {
        let total = orders.len() as u64 + self.overstated_total;
        let moved = self.moved.lock().ok().and_then(|m| m.clone());
        let answer = |id: &String| {
            let mut fetched = order(id);
            if moved.as_ref() == Some(id)
                && let Ok(parsed) = &mut fetched.parsed
            {
                parsed.modified_at = parsed.modified_at.map(|at| at + Duration::minutes(30));
            }
            fetched
        };
        OrderPage {
            orders: orders
                .get(page as usize - 1)
                .map(|id| vec![answer(id)])
                .unwrap_or_default(),
            next: PageCursor::backward_next(cursor, page, 1, total, 1),
            total: Some(total),
        }
    }
}
