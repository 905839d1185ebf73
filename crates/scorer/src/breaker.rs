//! A consecutive-failures circuit breaker with a single half-open trial.
//!
//! - **Closed**: every call is admitted; `threshold` consecutive failed calls open it.
//! - **Open**: every call is rejected until `cooldown` has passed since it opened.
//! - **Half-open**: the first call after the cooldown is the one trial; others are rejected
//!   while it runs. Its success closes the breaker, its failure opens it for another cooldown,
//!   and a trial dropped without an outcome (its caller gave up) lets the next call try.
//!
//! Outcomes of calls admitted while closed that finish after the breaker opened are ignored:
//! only the trial decides. Time is passed in, so the state machine is tested without sleeping.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen,
}

/// The breaker; share it by reference (it is `Sync`).
#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

/// What the breaker says about a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    None,
    Opened,
    Closed,
}

/// An admitted call; report its outcome with [`Admission::succeeded`] or [`Admission::failed`].
#[derive(Debug)]
#[must_use = "report the call's outcome"]
pub(crate) struct Admission<'a> {
    breaker: &'a Breaker,
    trial: bool,
    reported: bool,
}

impl Breaker {
    /// Opens after `threshold` (at least 1) consecutive failures, for `cooldown`.
    pub(crate) fn new(threshold: u32, cooldown: Duration) -> Self {
        Breaker {
            threshold: threshold.max(1),
            cooldown,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is a plain value, always consistent: a panic elsewhere cannot corrupt it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a call at `now`, or `None` while open (or while the half-open trial runs).
    pub(crate) fn admit(&self, now: Instant) -> Option<Admission<'_>> {
        let mut state = self.state();
        let trial = match *state {
            State::Closed { .. } => false,
            State::Open { until } if now >= until => {
                *state = State::HalfOpen;
                true
            }
            State::Open { .. } | State::HalfOpen => return None,
        };
        Some(Admission {
            breaker: self,
            trial,
            reported: false,
        })
    }

    #[cfg(test)]
    pub(crate) fn is_open(&self, now: Instant) -> bool {
        match *self.state() {
            State::Closed { .. } => false,
            State::Open { until } => now < until,
            State::HalfOpen => true,
        }
    }
}

impl Admission<'_> {
    pub(crate) fn is_trial(&self) -> bool {
        self.trial
    }

    pub(crate) fn succeeded(mut self) -> Transition {
        self.reported = true;
        let mut state = self.breaker.state();
        match (*state, self.trial) {
            (State::HalfOpen, true) => {
                *state = State::Closed { failures: 0 };
                Transition::Closed
            }
            (State::Closed { .. }, _) => {
                *state = State::Closed { failures: 0 };
                Transition::None
            }
            (State::Open { .. } | State::HalfOpen, _) => Transition::None,
        }
    }

    pub(crate) fn failed(mut self, now: Instant) -> Transition {
        self.reported = true;
        let breaker = self.breaker;
        let mut state = breaker.state();
        match (*state, self.trial) {
            (State::HalfOpen, true) => {
                *state = State::Open {
                    until: now + breaker.cooldown,
                };
                Transition::Opened
            }
            (State::Closed { failures }, _) => {
                let failures = failures.saturating_add(1);
                if failures >= breaker.threshold {
                    *state = State::Open {
                        until: now + breaker.cooldown,
                    };
                    Transition::Opened
                } else {
                    *state = State::Closed { failures };
                    Transition::None
                }
            }
            (State::Open { .. } | State::HalfOpen, _) => Transition::None,
        }
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        if self.trial && !self.reported {
            let mut state = self.breaker.state();
            if *state == State::HalfOpen {
                // The trial never finished: the next call may try again at once.
                *state = State::Open {
                    until: Instant::now(),
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOLDOWN: Duration = Duration::from_secs(30);

    fn ms(t0: Instant, n: u64) -> Instant {
        t0 + Duration::from_millis(n)
    }

    fn fail_n(b: &Breaker, now: Instant, n: u32) -> Vec<Transition> {
        (0..n)
            .map(|_| b.admit(now).expect("closed admits").failed(now))
            .collect()
    }

    #[test]
    fn opens_after_the_threshold_of_consecutive_failures() {
        let t0 = Instant::now();
        let b = Breaker::new(3, COOLDOWN);
        assert_eq!(
            fail_n(&b, t0, 3),
            [Transition::None, Transition::None, Transition::Opened]
        );
        assert!(b.is_open(t0));
        assert!(b.admit(ms(t0, 29_999)).is_none());
    }

    #[test]
    fn a_success_resets_the_count() {
        let t0 = Instant::now();
        let b = Breaker::new(3, COOLDOWN);
        fail_n(&b, t0, 2);
        assert_eq!(b.admit(t0).unwrap().succeeded(), Transition::None);
        fail_n(&b, t0, 2);
        assert!(!b.is_open(t0));
        fail_n(&b, t0, 1);
        assert!(b.is_open(t0));
    }

    #[test]
    fn after_the_cooldown_exactly_one_trial_goes_through() {
        let t0 = Instant::now();
        let b = Breaker::new(1, COOLDOWN);
        fail_n(&b, t0, 1);
        let later = t0 + COOLDOWN;
        let trial = b.admit(later).expect("the trial");
        assert!(trial.is_trial());
        assert!(b.admit(later).is_none(), "only one trial at a time");
        assert_eq!(trial.succeeded(), Transition::Closed);
        let next = b.admit(later).expect("closed again");
        assert!(!next.is_trial());
        assert_eq!(next.succeeded(), Transition::None);
    }

    #[test]
    fn a_failed_trial_opens_for_another_cooldown() {
        let t0 = Instant::now();
        let b = Breaker::new(2, COOLDOWN);
        fail_n(&b, t0, 2);
        let later = t0 + COOLDOWN;
        assert_eq!(b.admit(later).unwrap().failed(later), Transition::Opened);
        assert!(b.admit(later + COOLDOWN / 2).is_none());
        assert!(b.admit(later + COOLDOWN).unwrap().is_trial());
    }

    #[test]
    fn an_abandoned_trial_lets_the_next_call_try() {
        let t0 = Instant::now();
        let b = Breaker::new(1, Duration::ZERO);
        fail_n(&b, t0, 1);
        drop(b.admit(Instant::now()).expect("the trial"));
        assert!(b.admit(Instant::now()).expect("a new trial").is_trial());
    }

    #[test]
    fn late_outcomes_of_calls_admitted_while_closed_do_not_decide() {
        let t0 = Instant::now();
        let b = Breaker::new(1, COOLDOWN);
        let slow = b.admit(t0).unwrap();
        fail_n(&b, t0, 1);
        assert_eq!(slow.succeeded(), Transition::None);
        assert!(
            b.is_open(t0),
            "a late success does not close an open breaker"
        );
        let late_failure = {
            let b2 = Breaker::new(1, COOLDOWN);
            let slow = b2.admit(t0).unwrap();
            fail_n(&b2, t0, 1);
            let trial = b2.admit(t0 + COOLDOWN).unwrap();
            let t = slow.failed(t0 + COOLDOWN);
            (t, trial.succeeded())
        };
        assert_eq!(late_failure, (Transition::None, Transition::Closed));
    }
}
