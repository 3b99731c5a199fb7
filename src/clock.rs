//! Time, injected: the system clock in production, a manual clock in tests so they move time
//! instead of sleeping.
use chrono::{DateTime, Duration, Utc};
use std::sync::Mutex;
use tokio::sync::watch;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;

    /// A receiver that changes whenever time jumps (only a manual clock jumps), so a sleeping
    /// task can re-check its deadlines.
    fn jumps(&self) -> Option<watch::Receiver<DateTime<Utc>>> {
        None
    }
}

#[derive(Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to.
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
    tx: watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        let (tx, _) = watch::channel(start);
        ManualClock {
            now: Mutex::new(start),
            tx,
        }
    }

    pub fn advance(&self, by: Duration) {
        let now = {
            let mut g = self.now.lock().unwrap_or_else(|p| p.into_inner());
            *g += by;
            *g
        };
        self.tx.send_replace(now);
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) = to;
        self.tx.send_replace(to);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn jumps(&self) -> Option<watch::Receiver<DateTime<Utc>>> {
        Some(self.tx.subscribe())
    }
}

/// Sleeps until `deadline` by `clock`, or until `max` of real time passes, whichever is first.
/// A manual clock's jump wakes the sleeper early.
pub async fn sleep_until(clock: &dyn Clock, deadline: DateTime<Utc>, max: std::time::Duration) {
    // Subscribe before reading the time, so a jump in between is not missed.
    let jumps = clock.jumps();
    let wait = (deadline - clock.now())
        .to_std()
        .unwrap_or_default()
        .min(max);
    match jumps {
        None => tokio::time::sleep(wait).await,
        Some(mut rx) => {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = rx.changed() => {}
            }
        }
    }
}
