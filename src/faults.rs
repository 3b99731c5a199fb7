//! Fault injection for tests: named crash points that fail the surrounding operation the way
//! a crash there would (its transaction is never committed). Compiled in only with the
//! `fault-injection` feature, which the test build turns on (`cargo test`); elsewhere
//! `crash_point` is an empty function.
use crate::error::AppResult;
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    /// The mailer has marked an alert sent, inside its transaction, and not yet appended the
    /// ALERT_SENT event.
    AfterAlertMarkedSent,
}

#[cfg(feature = "fault-injection")]
static ARMED: std::sync::Mutex<Vec<(Point, Uuid)>> = std::sync::Mutex::new(Vec::new());

/// Makes the next pass through `point` for `company` fail (once).
#[cfg(feature = "fault-injection")]
pub fn arm(point: Point, company: Uuid) {
    ARMED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((point, company));
}

/// Fails when `point` was armed for `company`.
#[cfg(feature = "fault-injection")]
pub fn crash_point(point: Point, company: Uuid) -> AppResult<()> {
    let mut armed = ARMED.lock().unwrap_or_else(|p| p.into_inner());
    match armed.iter().position(|a| *a == (point, company)) {
        Some(i) => {
            armed.remove(i);
            Err(crate::error::AppError::Internal(format!(
                "injected crash at {point:?}"
            )))
        }
        None => Ok(()),
    }
}

#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn crash_point(_point: Point, _company: Uuid) -> AppResult<()> {
    Ok(())
}
