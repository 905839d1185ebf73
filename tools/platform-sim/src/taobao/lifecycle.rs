//! How a generated trade got to its status: the status, its event times and refunds, given how
//! old the trade is at the anchor time.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;

/// The statuses a generated trade can end in (TOP spelling in [`Stage::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    WaitPay,
    WaitSend,
    WaitConfirm,
    Finished,
    /// `TRADE_CLOSED` before payment (the buyer cancelled).
    ClosedUnpaid,
    /// `TRADE_CLOSED` after payment (refunded in full).
    ClosedRefunded,
    /// `TRADE_CLOSED_BY_TAOBAO` (not paid in time).
    ClosedByTaobao,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::WaitPay => "WAIT_BUYER_PAY",
            Stage::WaitSend => "WAIT_SELLER_SEND_GOODS",
            Stage::WaitConfirm => "WAIT_BUYER_CONFIRM_GOODS",
            Stage::Finished => "TRADE_FINISHED",
            Stage::ClosedUnpaid | Stage::ClosedRefunded => "TRADE_CLOSED",
            Stage::ClosedByTaobao => "TRADE_CLOSED_BY_TAOBAO",
        }
    }

    pub fn is_paid(self) -> bool {
        matches!(
            self,
            Stage::WaitSend | Stage::WaitConfirm | Stage::Finished | Stage::ClosedRefunded
        )
    }
}

/// A trade's status and event times.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    pub stage: Stage,
    pub pay_time: Option<DateTime<Utc>>,
    pub consign_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub modified: DateTime<Utc>,
    /// A refund the buyer asked for and the seller has not answered yet.
    pub refund_pending: bool,
}

fn weighted<T: Copy>(rng: &mut impl Rng, table: &[(T, u32)]) -> Option<T> {
    let total: u32 = table.iter().map(|(_, w)| *w).sum();
    let mut roll = rng.gen_range(0..total.max(1));
    for (value, w) in table {
        if roll < *w {
            return Some(*value);
        }
        roll -= w;
    }
    table.last().map(|(v, _)| *v)
}

/// Picks one value by weight.
pub fn pick_weighted<T: Copy>(rng: &mut impl Rng, table: &[(T, u32)], fallback: T) -> T {
    weighted(rng, table).unwrap_or(fallback)
}

fn secs(rng: &mut impl Rng, lo: i64, hi: i64) -> Duration {
    Duration::seconds(rng.gen_range(lo..hi))
}

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// Plays a trade created at `created` forward to `anchor`.
pub fn play(rng: &mut impl Rng, created: DateTime<Utc>, anchor: DateTime<Utc>) -> Lifecycle {
    use Stage::*;
    let age = anchor - created;
    let table: &[(Stage, u32)] = if age < Duration::days(1) {
        &[
            (WaitPay, 15),
            (WaitSend, 40),
            (WaitConfirm, 20),
            (Finished, 5),
            (ClosedUnpaid, 8),
            (ClosedRefunded, 4),
            (ClosedByTaobao, 8),
        ]
    } else if age < Duration::days(12) {
        &[
            (WaitSend, 10),
            (WaitConfirm, 35),
            (Finished, 35),
            (ClosedUnpaid, 6),
            (ClosedRefunded, 6),
            (ClosedByTaobao, 8),
        ]
    } else {
        &[
            (WaitConfirm, 2),
            (Finished, 76),
            (ClosedUnpaid, 6),
            (ClosedRefunded, 8),
            (ClosedByTaobao, 8),
        ]
    };
    let target = pick_weighted(rng, table, Finished);

    let pay = created + secs(rng, 5, 30 * 60);
    let consign = pay + secs(rng, HOUR, 72 * HOUR);
    let finish = consign + secs(rng, 3 * DAY, 12 * DAY);
    let seen = |t: DateTime<Utc>| t <= anchor;
    let mut life = Lifecycle {
        stage: WaitPay,
        pay_time: None,
        consign_time: None,
        end_time: None,
        modified: created,
        refund_pending: false,
    };
    match target {
        WaitPay => {}
        WaitSend | WaitConfirm | Finished => {
            if seen(pay) {
                life.stage = WaitSend;
                life.pay_time = Some(pay);
            }
            if target != WaitSend && seen(consign) && life.pay_time.is_some() {
                life.stage = WaitConfirm;
                life.consign_time = Some(consign);
            }
            if target == Finished && seen(finish) && life.consign_time.is_some() {
                life.stage = Finished;
                life.end_time = Some(finish);
            }
        }
        ClosedUnpaid | ClosedByTaobao => {
            let end = if target == ClosedUnpaid {
                created + secs(rng, 2 * 60, 12 * HOUR)
            } else {
                created + secs(rng, 10 * 60, 24 * HOUR)
            };
            if seen(end) {
                life.stage = target;
                life.end_time = Some(end);
            }
        }
        ClosedRefunded => {
            let shipped = rng.gen_bool(0.5);
            let from = if shipped { consign } else { pay };
            let end = from + secs(rng, DAY, 7 * DAY);
            if seen(pay) {
                life.stage = WaitSend;
                life.pay_time = Some(pay);
                if shipped && seen(consign) {
                    life.stage = WaitConfirm;
                    life.consign_time = Some(consign);
                }
                if seen(end) && (!shipped || life.consign_time.is_some()) {
                    life.stage = ClosedRefunded;
                    life.end_time = Some(end);
                } else {
                    life.refund_pending = true;
                }
            }
        }
    }
    let latest = [
        Some(created),
        life.pay_time,
        life.consign_time,
        life.end_time,
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(created);
    life.modified = latest;
    // Memo edits, ratings and address changes touch the trade long after its last event.
    if rng.gen_bool(0.15) {
        let later = latest + secs(rng, HOUR, 5 * DAY);
        life.modified = later.min(anchor).max(latest);
    }
    life
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn events_are_ordered_and_never_after_the_anchor() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let anchor = Utc::now();
        for i in 0..2000 {
            let created = anchor - Duration::minutes(i * 53);
            let life = play(&mut rng, created, anchor);
            let times = [
                Some(created),
                life.pay_time,
                life.consign_time,
                life.end_time,
            ];
            let times: Vec<_> = times.into_iter().flatten().collect();
            assert!(times.windows(2).all(|w| w[0] <= w[1]), "{life:?}");
            assert!(life.modified >= *times.last().unwrap() && life.modified <= anchor);
            assert_eq!(
                life.pay_time.is_some(),
                life.stage.is_paid() || life.refund_pending
            );
            if life.stage == Stage::WaitPay {
                assert!(anchor - created < Duration::days(1));
            }
        }
    }
}
