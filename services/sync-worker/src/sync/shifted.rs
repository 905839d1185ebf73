//! Whether a window must be walked again before the walk moves on: its pages shifted under the
//! walk, or the walk read fewer orders than the platform says the window holds.

use std::collections::HashSet;

use leadgen_domain::{PlatformType, SyncTaskId};
use leadgen_platforms::{Listing, OrderPage};

/// How often a window is read again before the walk moves on (with a warning on the task when
/// it is still short of its total).
pub const MAX_WALKS_AGAIN: u32 = 2;

/// What the passes over one window saw, and whether a page already read may have missed an
/// order:
/// - orders joined a window walked by modification: a later answer's total above the lowest one
///   of the pass (a change the platform recorded late, inside the window, pushes an order down
///   into a page already read). Against the lowest, not the probe's: an order leaving and
///   another joining between two answers would otherwise cancel out;
/// - an order moved inside it ([`Joined::moved`]): read twice in the pass with two
///   modification times. A listing newest first (Taobao's) puts the order modified again at its
///   top, and every order it passes moves down a place, the last of an unread page into one
///   already read;
/// - the passes read fewer distinct orders than the lowest total of the last one, on any
///   listing with totals: pages that do not hold still. No platform documents how it orders
///   orders of the same second, nor whether its pages count from 0 or 1 (Douyin's from 0, the
///   others' from 1 as far as the README says), and a platform paging `ORDER BY time LIMIT n
///   OFFSET m` answers a tie in any order, some orders twice and others never. Each pass adds to
///   what the window's earlier ones read, so a shortfall the next pass fills ends the reading.
///   Against the lowest total, so that orders leaving mid-walk (modified again) call for no
///   walk: a pass that missed one order and read another before it left goes unnoticed (the
///   daily reconcile reads the last day's changes again).
///
/// Orders leaving only make the walk read some twice.
#[derive(Debug)]
pub struct Joined {
    listing: Listing,
    lowest: Option<u64>,
    grew: bool,
    walked_again: u32,
    /// The orders every pass over the window read, by id.
    read: HashSet<String>,
    /// Orders without an id this pass (they cannot be told apart across passes).
    unnamed: u64,
    /// The platform's total and the orders read, when the walk gave up reading a short window.
    left_short: Option<(u64, u64)>,
}

impl Joined {
    /// A window about to be walked with `listing`.
    pub fn new(listing: Listing) -> Self {
        Joined {
            listing,
            lowest: None,
            grew: false,
            walked_again: 0,
            read: HashSet::new(),
            unnamed: 0,
            left_short: None,
        }
    }

    /// The platform's total and the orders the passes read, when the walk moved on from a
    /// window still short of its total ([`MAX_WALKS_AGAIN`] passes later): the task's warning.
    pub fn left_short(&self) -> Option<(u64, u64)> {
        self.left_short
    }

    /// One answer of the window: its probe (`probing`, a pass's first page) or a later page.
    pub fn read(&mut self, probing: bool, page: &OrderPage) {
        if probing {
            self.lowest = page.total;
            self.grew = false;
            self.unnamed = 0;
        } else if let (Some(lowest), Some(total)) = (self.lowest, page.total) {
            self.grew |= self.listing == Listing::Modified && total > lowest;
            self.lowest = Some(lowest.min(total));
        }
        // Only a listing with totals is compared with them; a cursor's ids are not kept.
        if page.total.is_none() {
            return;
        }
        for order in &page.orders {
            match &order.order_id {
                Some(id) => {
                    self.read.insert(id.clone());
                }
                None => self.unnamed += 1,
            }
        }
    }

    /// An order of the pass came back with another modification time.
    pub fn moved(&mut self) {
        self.grew = true;
    }

    /// The lowest total of the pass and the orders read, when the passes read fewer.
    fn short(&self) -> Option<(u64, u64)> {
        let read = u64::try_from(self.read.len()).unwrap_or(u64::MAX) + self.unnamed;
        self.lowest
            .filter(|total| *total > read)
            .map(|total| (total, read))
    }

    /// At the window's last page: read it again (and count that)?
    pub fn walk_again(&mut self, task: SyncTaskId, platform: PlatformType) -> bool {
        let short = self.short();
        if !self.grew && short.is_none() {
            return false;
        }
        let walks = self.walked_again + 1;
        if self.walked_again >= MAX_WALKS_AGAIN {
            match short {
                Some((total, read)) => {
                    self.left_short = Some((total, read));
                    tracing::warn!(
                        sync_task.id = task.get(),
                        walks,
                        total,
                        read,
                        "The platform's total says the window holds more orders than its pages gave; the task warns the merchant"
                    );
                    metrics::counter!("leadgen_sync_windows_short_total", "platform" => platform.as_str())
                        .increment(1);
                }
                None => tracing::warn!(
                    sync_task.id = task.get(),
                    walks,
                    "Orders kept joining a window while it was walked; the daily reconcile reads the last day's changes again"
                ),
            }
            return false;
        }
        match short {
            Some((total, read)) => tracing::info!(
                sync_task.id = task.get(),
                total,
                read,
                "The platform's total says the window holds more orders than its pages gave; reading it again"
            ),
            None => tracing::info!(
                sync_task.id = task.get(),
                "Orders joined or moved inside a window while it was walked; reading it again"
            ),
        }
        self.walked_again += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use leadgen_platforms::{FetchedOrder, PageCursor};

    use super::*;

    const TASK: SyncTaskId = SyncTaskId::new(1);
    const DOUYIN: PlatformType = PlatformType::Douyin;

    fn page(total: Option<u64>, ids: &[&str]) -> OrderPage {
        OrderPage {
            orders: ids
                .iter()
                .map(|id| FetchedOrder {
                    order_id: Some((*id).to_owned()),
                    raw: serde_json::Value::Null,
                    parsed: Err("not read in this test".into()),
                })
                .collect(),
            next: None::<PageCursor>,
            total,
        }
    }

    /// A pass of `total` orders reading every one once, split over two pages.
    fn whole_pass(joined: &mut Joined, total: u64, first: u64) {
        let ids: Vec<String> = (first..first + total).map(|n| format!("o-{n}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let (a, b) = ids.split_at(ids.len() / 2);
        joined.read(true, &page(Some(total), a));
        joined.read(false, &page(Some(total), b));
    }

    #[test]
    fn a_window_that_orders_joined_mid_walk_is_read_again_a_bounded_number_of_times() {
        let mut joined = Joined::new(Listing::Modified);
        // Probe 4, pages 4 and 3 (an order left): nothing joined.
        joined.read(true, &page(Some(4), &["a", "b"]));
        joined.read(false, &page(Some(4), &["c", "d"]));
        joined.read(false, &page(Some(3), &[]));
        assert!(!joined.walk_again(TASK, DOUYIN));
        // A later page says 5: read again, from a new probe.
        joined.read(true, &page(Some(4), &["a", "b"]));
        joined.read(false, &page(Some(5), &["c", "d", "e"]));
        assert!(joined.walk_again(TASK, DOUYIN));
        joined.read(true, &page(Some(5), &["e", "a"]));
        joined.read(false, &page(Some(5), &["b", "c", "d"]));
        assert!(
            !joined.walk_again(TASK, DOUYIN),
            "the second walk found no join"
        );
        // Orders keep joining: read again twice, then the walk moves on.
        let mut busy = Joined::new(Listing::Modified);
        let mut again = 0;
        for total in 300..310 {
            whole_pass(&mut busy, total, 0);
            busy.read(false, &page(Some(total + 1), &[]));
            if !busy.walk_again(TASK, DOUYIN) {
                break;
            }
            again += 1;
        }
        assert_eq!(again, MAX_WALKS_AGAIN);
        // One order left between two answers and another joined: the count is back at the
        // probe's, above the lowest of the pass: read again.
        let mut both = Joined::new(Listing::Modified);
        whole_pass(&mut both, 250, 0);
        both.read(false, &page(Some(249), &[]));
        both.read(false, &page(Some(250), &[]));
        assert!(both.walk_again(TASK, DOUYIN));
        // An order read twice with two modification times moved inside the window: read again.
        let mut moved = Joined::new(Listing::Modified);
        whole_pass(&mut moved, 250, 0);
        moved.moved();
        assert!(moved.walk_again(TASK, DOUYIN));
        // A listing without totals (a cursor) never reads again.
        let mut cursor = Joined::new(Listing::Modified);
        cursor.read(true, &page(None, &["a"]));
        cursor.read(false, &page(None, &["b"]));
        assert!(!cursor.walk_again(TASK, DOUYIN));
        // By creation, a total that grows is an order created since: not read again.
        let mut created = Joined::new(Listing::Created);
        whole_pass(&mut created, 4, 0);
        created.read(false, &page(Some(5), &[]));
        assert!(!created.walk_again(TASK, DOUYIN));
    }

    /// Pages that did not hold still (a tie answered in another order, pages counted from
    /// another base) read fewer distinct orders than the total: the window is read again, each
    /// pass adding to the last, until the orders read reach the total or the walks run out.
    #[test]
    fn a_window_whose_pages_gave_fewer_orders_than_its_total_is_read_again() {
        for listing in [Listing::Created, Listing::Modified] {
            let mut joined = Joined::new(listing);
            // Four orders; "b" came twice and "d" never.
            joined.read(true, &page(Some(4), &["a", "b"]));
            joined.read(false, &page(Some(4), &["b", "c"]));
            assert!(joined.walk_again(TASK, DOUYIN), "{listing:?}");
            // The next pass misses "a" but brings "d": all four read over the two passes.
            joined.read(true, &page(Some(4), &["d", "b"]));
            joined.read(false, &page(Some(4), &["c", "c"]));
            assert!(!joined.walk_again(TASK, DOUYIN), "{listing:?}");

            // A platform whose pages always miss one: read again twice, then the walk moves on.
            let mut never = Joined::new(listing);
            let mut again = 0;
            for _ in 0..10 {
                never.read(true, &page(Some(3), &["a"]));
                never.read(false, &page(Some(3), &["b"]));
                if !never.walk_again(TASK, DOUYIN) {
                    break;
                }
                again += 1;
            }
            assert_eq!(again, MAX_WALKS_AGAIN, "{listing:?}");
        }
        // Orders without an id count for their pass.
        let mut unnamed = Joined::new(Listing::Created);
        let mut nameless = page(Some(2), &["a"]);
        nameless.orders.push(FetchedOrder {
            order_id: None,
            raw: serde_json::Value::Null,
            parsed: Err("no id".into()),
        });
        unnamed.read(true, &nameless);
        assert!(!unnamed.walk_again(TASK, DOUYIN));
    }
}
