//! How a generated JD order got to its `orderState`, given how old it is at the anchor time.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::taobao::lifecycle::pick_weighted;

/// How an order ended up in its `orderState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    StockOut,
    Delivery,
    Pause,
    PopPause,
    /// Paid; the buyer asked to cancel and the order is locked until the seller answers.
    Locked,
    Shipped,
    Finished,
    /// Cancelled before payment.
    CanceledUnpaid,
    /// Paid, then cancelled and refunded.
    CanceledRefunded,
}

impl Stage {
    pub fn state(self) -> &'static str {
        match self {
            Stage::StockOut => "WAIT_SELLER_STOCK_OUT",
            Stage::Delivery => "WAIT_SELLER_DELIVERY",
            Stage::Pause => "PAUSE",
            Stage::PopPause => "POP_ORDER_PAUSE",
            Stage::Locked => "LOCKED",
            Stage::Shipped => "WAIT_GOODS_RECEIVE_CONFIRM",
            Stage::Finished => "FINISHED_L",
            Stage::CanceledUnpaid | Stage::CanceledRefunded => "TRADE_CANCELED",
        }
    }

    pub fn remark(self) -> &'static str {
        match self {
            Stage::StockOut => "等待出库",
            Stage::Delivery => "等待发货",
            Stage::Pause | Stage::PopPause => "暂停",
            Stage::Locked => "已锁定",
            Stage::Shipped => "等待确认收货",
            Stage::Finished => "完成",
            Stage::CanceledUnpaid | Stage::CanceledRefunded => "(删除)已取消",
        }
    }
}

pub struct Life {
    pub stage: Stage,
    pub paid: Option<DateTime<Utc>>,
    pub ended: Option<DateTime<Utc>>,
    pub modified: DateTime<Utc>,
}

fn secs(rng: &mut ChaCha8Rng, lo: i64, hi: i64) -> Duration {
    Duration::seconds(rng.gen_range(lo..hi))
}

/// Plays an order created at `created` forward to `anchor`.
pub fn play(rng: &mut ChaCha8Rng, created: DateTime<Utc>, anchor: DateTime<Utc>) -> Life {
    use Stage::*;
    let age = anchor - created;
    let table: &[(Stage, u32)] = if age < Duration::days(2) {
        &[
            (StockOut, 40),
            (Delivery, 6),
            (Shipped, 25),
            (Locked, 6),
            (Pause, 3),
            (PopPause, 2),
            (CanceledUnpaid, 10),
            (CanceledRefunded, 8),
        ]
    } else if age < Duration::days(12) {
        &[
            (StockOut, 4),
            (Shipped, 40),
            (Finished, 36),
            (Locked, 4),
            (CanceledUnpaid, 7),
            (CanceledRefunded, 9),
        ]
    } else {
        &[
            (Shipped, 3),
            (Finished, 78),
            (CanceledUnpaid, 8),
            (CanceledRefunded, 11),
        ]
    };
    let target = pick_weighted(rng, table, Finished);
    let seen = |t: DateTime<Utc>| t <= anchor;
    let pay = created + secs(rng, 5, 20 * 60);
    let ship = pay + secs(rng, 2 * 3600, 72 * 3600);
    let finish = ship + secs(rng, 2 * 86_400, 10 * 86_400);
    let mut life = Life {
        stage: StockOut,
        paid: Some(pay).filter(|t| seen(*t)),
        ended: None,
        modified: created,
    };
    match target {
        CanceledUnpaid => {
            life.stage = CanceledUnpaid;
            life.paid = None;
            life.ended = Some((created + secs(rng, 120, 30 * 60)).min(anchor));
        }
        _ if life.paid.is_none() => life.paid = Some(created.min(anchor)),
        StockOut | Delivery | Pause | PopPause => life.stage = target,
        Locked | CanceledRefunded => {
            let asked = pay + secs(rng, 3600, 48 * 3600);
            let done = asked + secs(rng, 3600, 72 * 3600);
            if seen(done) && target == CanceledRefunded {
                life.stage = CanceledRefunded;
                life.ended = Some(done);
            } else if seen(asked) {
                life.stage = Locked;
            }
        }
        Shipped | Finished => {
            if seen(ship) {
                life.stage = Shipped;
            }
            if target == Finished && seen(finish) {
                life.stage = Finished;
                life.ended = Some(finish);
            }
        }
    }
    let latest = [Some(created), life.paid, life.ended]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(created);
    life.modified = latest;
    // Seller memos, address changes and waybill updates come later.
    if rng.gen_bool(0.2) {
        life.modified = (latest + secs(rng, 600, 4 * 86_400))
            .min(anchor)
            .max(latest);
    }
    life
}
