//! Holds: an app key's calls that a platform turned away, held back without being sent.
//!
//! A platform that bans an app key for a stated time (Taobao's code 7, "This ban will last for N
//! more seconds") is obeyed: its calls are held that long. One that throttles without saying for
//! how long (JD's code 2 "调用次数/失败次数超限", PDD's 52101/70031, Douyin's 60000) is held too,
//! for [`FIRST_UNSTATED_HOLD`], doubled for each further throttle that answers the first call
//! after a hold (no call was answered in between), up to [`LONGEST_UNSTATED_HOLD`]
//! ([`Holds::unstated`]): calls faster than a per-second limit cost a second now and then, a
//! daily quota spent costs a minute a call instead of a call every backoff (JD counts failed
//! calls against a limit too). Kept per process here; a [`super::SharedGate`] shares them with every
//! replica.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::{BanScope, EVERY_API};

/// The first hold after a throttle that stated no wait.
pub const FIRST_UNSTATED_HOLD: Duration = Duration::from_secs(1);

/// The longest hold after throttles that stated no wait.
pub const LONGEST_UNSTATED_HOLD: Duration = Duration::from_secs(60);

/// The calls held, and the unstated throttles' last holds, per `"<app key> <api or *>"`.
#[derive(Default)]
pub(super) struct Holds {
    /// Until when, and what the platform said.
    held: Mutex<HashMap<String, (Instant, String)>>,
    /// The last hold an unstated throttle earned, and when it ended; forgotten once a call of
    /// the key is answered ([`Holds::answered`]).
    last_unstated: Mutex<HashMap<String, (Duration, Instant)>>,
}

/// How a hold of `app_key`'s calls of `api` under `scope` is keyed.
pub(super) fn key(app_key: &str, api: &str, scope: BanScope) -> String {
    match scope {
        BanScope::Api => format!("{app_key} {api}"),
        BanScope::App => format!("{app_key} {EVERY_API}"),
    }
}

impl Holds {
    /// Holds the calls `key` names until `until`, unless a longer hold is there.
    pub(super) fn hold(&self, key: String, until: Instant, said: &str) {
        if let Ok(mut held) = self.held.lock() {
            let entry = held.entry(key).or_insert_with(|| (until, said.to_owned()));
            if until >= entry.0 {
                *entry = (until, said.to_owned());
            }
        }
    }

    /// What is left of a hold on `app_key`'s calls of `api` (or of all its calls), and what the
    /// platform said, if any: the longer one when both hold.
    pub(super) fn held_for(&self, app_key: &str, api: &str) -> Option<(Duration, String)> {
        let mut held = self.held.lock().ok()?;
        let now = Instant::now();
        let mut longest: Option<(Duration, String)> = None;
        for key in [format!("{app_key} {api}"), format!("{app_key} {EVERY_API}")] {
            let Some((until, said)) = held.get(&key).cloned() else {
                continue;
            };
            if until <= now {
                held.remove(&key);
            } else if longest.as_ref().is_none_or(|(left, _)| until - now > *left) {
                longest = Some((until - now, said));
            }
        }
        longest
    }

    /// Forgets the throttles of `app_key`'s calls of `api` (and of the key's app-wide ones): a
    /// call was answered, so the limit is one of pace, not a quota spent.
    pub(super) fn answered(&self, app_key: &str, api: &str) {
        let Ok(mut last) = self.last_unstated.lock() else {
            return;
        };
        if last.is_empty() {
            return;
        }
        last.remove(&key(app_key, api, BanScope::Api));
        last.remove(&key(app_key, api, BanScope::App));
    }

    /// Records a hold of `length` ending at `until` that another replica learnt, as if this
    /// process had: a throttle that follows it here is held twice as long, not a second again.
    pub(super) fn learnt(&self, key: &str, length: Duration, until: Instant) {
        if let Ok(mut last) = self.last_unstated.lock() {
            let entry = last.entry(key.to_owned()).or_insert((length, until));
            if until >= entry.1 {
                *entry = (length, until);
            }
        }
    }

    /// How long a throttle of the calls `key` names that stated no wait holds them: twice the
    /// last such hold when no call was answered since it and it ended less than twice its
    /// length ago (the throttle came back as soon as the calls did), up to
    /// [`LONGEST_UNSTATED_HOLD`]; else [`FIRST_UNSTATED_HOLD`].
    pub(super) fn unstated(&self, key: &str) -> Duration {
        let now = Instant::now();
        let Ok(mut last) = self.last_unstated.lock() else {
            return FIRST_UNSTATED_HOLD;
        };
        let hold = match last.get(key) {
            // A throttle answered while the hold runs (a call sent before it began): the calls
            // are held already, until it ends.
            Some((_, ended)) if now < *ended => return *ended - now,
            Some((previous, ended)) if now < *ended + *previous * 2 => {
                (*previous * 2).min(LONGEST_UNSTATED_HOLD)
            }
            _ => FIRST_UNSTATED_HOLD,
        };
        last.insert(key.to_owned(), (hold, now + hold));
        hold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A throttle that keeps coming back as soon as the calls do is held longer each time, up to
    /// a minute; after a quiet spell it is held a second again.
    #[tokio::test(start_paused = true)]
    async fn unstated_throttles_are_held_longer_while_they_keep_coming() {
        let holds = Holds::default();
        let key = key("app", "jingdong.pop.order.search", BanScope::Api);
        let mut seen = Vec::new();
        for _ in 0..8 {
            let hold = holds.unstated(&key);
            seen.push(hold.as_secs());
            // The next call goes once the hold ends, and is throttled again.
            tokio::time::advance(hold).await;
        }
        assert_eq!(seen, vec![1, 2, 4, 8, 16, 32, 60, 60]);
        // A call answered in between: calls faster than a limit of pace, held a second.
        tokio::time::advance(LONGEST_UNSTATED_HOLD).await;
        holds.answered("app", "jingdong.pop.order.search");
        assert_eq!(holds.unstated(&key), FIRST_UNSTATED_HOLD);
        tokio::time::advance(FIRST_UNSTATED_HOLD).await;
        assert_eq!(holds.unstated(&key), Duration::from_secs(2));
        tokio::time::advance(Duration::from_secs(2)).await;

        // The next one, as that hold ends: twice as long again.
        assert_eq!(holds.unstated(&key), Duration::from_secs(4));
        // One answered during the hold (a call sent before it began) leaves it as it is.
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(holds.unstated(&key), Duration::from_secs(3));

        // Quiet for longer than twice the last hold: back to a second.
        tokio::time::advance(Duration::from_secs(3 + 9)).await;
        assert_eq!(holds.unstated(&key), FIRST_UNSTATED_HOLD);
        // Another API of the app key has its own count.
        let other = key_of_other();
        assert_eq!(holds.unstated(&other), FIRST_UNSTATED_HOLD);
    }

    fn key_of_other() -> String {
        key("app", "jingdong.jos.order.oaid.decrypt", BanScope::Api)
    }

    #[tokio::test(start_paused = true)]
    async fn the_longer_hold_of_an_api_and_the_whole_app_is_the_one_left() {
        let holds = Holds::default();
        let now = Instant::now();
        holds.hold(
            key("app", "a", BanScope::Api),
            now + Duration::from_secs(5),
            "a",
        );
        holds.hold(
            key("app", "b", BanScope::App),
            now + Duration::from_secs(9),
            "all",
        );
        assert_eq!(
            holds.held_for("app", "a"),
            Some((Duration::from_secs(9), "all".to_owned()))
        );
        // A shorter hold does not shorten a longer one.
        holds.hold(key("app", "x", BanScope::App), now, "short");
        assert_eq!(holds.held_for("app", "c").map(|h| h.1), Some("all".into()));
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(holds.held_for("app", "a"), None);
    }
}
