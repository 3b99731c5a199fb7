//! Business-hours calendars (pure): a time zone (IANA, with its daylight-saving rules from
//! chrono-tz), weekly working hours and holidays. An instant is business time when its local
//! wall-clock time falls inside one of its weekday's windows and its local date is not a
//! holiday; so on a day that springs forward the missing hour is not worked, and on a day that
//! falls back a repeated hour inside a window is worked twice, as a clock on the wall would
//! have it.
//!
//! The arithmetic walks the time line in pieces over which nothing changes: it stops at every
//! window edge, every local midnight and every change of UTC offset (found by bisection), so a
//! 30-day span takes a few hundred steps, not 43,200 minutes.
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// One working window of a weekday, in local minutes from midnight: `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// 0 = Monday … 6 = Sunday.
    pub weekday: u8,
    pub start_minute: u32,
    pub end_minute: u32,
}

#[derive(Clone, Debug)]
pub struct Calendar {
    tz: Tz,
    /// Per weekday (Monday first), sorted, non-overlapping windows.
    week: [Vec<(u32, u32)>; 7],
    holidays: BTreeSet<NaiveDate>,
}

/// How far `add` looks for enough business time before it gives up: 50 years.
const HORIZON_DAYS: i64 = 50 * 366;

impl Calendar {
    /// A calendar from a time zone name, windows and holidays; windows of a day must not
    /// overlap, and there must be at least one.
    pub fn new(time_zone: &str, windows: &[Window], holidays: &[NaiveDate]) -> AppResult<Self> {
        let tz: Tz = time_zone.parse().map_err(|_| {
            AppError::bad(format!(
                "timeZone: {time_zone:?} is not an IANA time zone name (like Europe/Berlin)"
            ))
        })?;
        let mut week: [Vec<(u32, u32)>; 7] = Default::default();
        for w in windows {
            if w.weekday > 6 || w.start_minute >= w.end_minute || w.end_minute > 24 * 60 {
                return Err(AppError::bad(format!(
                    "weeklyHours: a window must start before it ends, within one day; got {} to {} minutes",
                    w.start_minute, w.end_minute
                )));
            }
            week[w.weekday as usize].push((w.start_minute, w.end_minute));
        }
        for day in &mut week {
            day.sort_unstable();
            if day.windows(2).any(|p| p[0].1 > p[1].0) {
                return Err(AppError::bad("weeklyHours: windows of one day overlap"));
            }
        }
        if week.iter().all(Vec::is_empty) {
            return Err(AppError::bad(
                "weeklyHours: give at least one working window",
            ));
        }
        Ok(Calendar {
            tz,
            week,
            holidays: holidays.iter().copied().collect(),
        })
    }

    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    fn offset(&self, t: DateTime<Utc>) -> i32 {
        self.tz
            .offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc()
    }

    /// From `t`: whether it is business time, and how long that stays so (to the next window
    /// edge, local midnight or offset change).
    fn piece(&self, t: DateTime<Utc>) -> (bool, Duration) {
        let local = t.with_timezone(&self.tz);
        let date = local.date_naive();
        let secs = local.num_seconds_from_midnight() as i64;
        let nanos = local.nanosecond() as i64 % 1_000_000_000;
        let minute_of = |m: u32| m as i64 * 60;
        let day = &self.week[date.weekday().num_days_from_monday() as usize];
        let working = !self.holidays.contains(&date)
            && day
                .iter()
                .any(|&(a, b)| minute_of(a) <= secs && secs < minute_of(b));
        let next_edge = day
            .iter()
            .flat_map(|&(a, b)| [minute_of(a), minute_of(b)])
            .filter(|&e| e > secs)
            .min()
            .unwrap_or(86_400);
        let mut step = Duration::seconds(next_edge - secs) - Duration::nanoseconds(nanos);
        // An offset change inside the step moves the local clock: stop there instead.
        let off = self.offset(t);
        if self.offset(t + step) != off {
            let (mut lo, mut hi) = (Duration::zero(), step);
            while hi - lo > Duration::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if self.offset(t + mid) == off {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            // Offsets change on whole seconds: land on the first second of the new offset.
            let at = t + hi;
            let whole = at - Duration::nanoseconds(at.timestamp_subsec_nanos() as i64);
            step = if self.offset(whole) != off && whole > t {
                whole - t
            } else {
                hi
            };
        }
        (working, step.max(Duration::nanoseconds(1)))
    }

    /// Business time between `from` and `to` (0 when `to` is not after `from`).
    pub fn business_time(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        let mut total = Duration::zero();
        let mut t = from;
        while t < to {
            let (working, step) = self.piece(t);
            let end = (t + step).min(to);
            if working {
                total += end - t;
            }
            t = end;
        }
        total
    }

    /// The instant at which `amount` of business time has passed since `from`: the deadline of
    /// a target that counts business time. None when the calendar has no such time within 50
    /// years (every working day a holiday).
    pub fn add(&self, from: DateTime<Utc>, amount: Duration) -> Option<DateTime<Utc>> {
        let horizon = from + Duration::days(HORIZON_DAYS);
        let mut left = amount;
        let mut t = from;
        if left <= Duration::zero() {
            return Some(from);
        }
        while t < horizon {
            let (working, step) = self.piece(t);
            if working {
                if step >= left {
                    return Some(t + left);
                }
                left -= step;
            }
            t += step;
        }
        None
    }
}

/// "09:00" → 540.
pub fn parse_minute(s: &str) -> AppResult<u32> {
    let bad = || AppError::bad(format!("{s:?} is not a time of day like 09:00 or 24:00"));
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m > 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// 540 → "09:00".
pub fn show_minute(m: u32) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// UTC offset helper for tests and callers: the local time of `t` in `tz`.
pub fn local(tz: Tz, t: DateTime<Utc>) -> DateTime<Tz> {
    tz.from_utc_datetime(&t.naive_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    const ZONES: [&str; 6] = [
        "Europe/Berlin",
        "America/New_York",
        "Australia/Lord_Howe",
        "Asia/Kolkata",
        "America/Santiago",
        "UTC",
    ];

    /// The truth, one minute at a time: whether the minute starting at `t` is business time.
    fn worked(c: &Calendar, t: DateTime<Utc>) -> bool {
        let l = local(c.tz, t);
        let m = l.hour() * 60 + l.minute();
        !c.holidays.contains(&l.date_naive())
            && c.week[l.weekday().num_days_from_monday() as usize]
                .iter()
                .any(|&(a, b)| a <= m && m < b)
    }

    fn random_calendar(rng: &mut StdRng) -> Calendar {
        let mut windows = Vec::new();
        for weekday in 0..7u8 {
            if rng.random_bool(0.2) {
                continue;
            }
            // One or two windows; edges on quarter hours, some at midnight, some across the
            // small hours where daylight saving changes the clock.
            let a = rng.random_range(0..40u32) * 15;
            let b = a + rng.random_range(1..40u32) * 15;
            windows.push(Window {
                weekday,
                start_minute: a,
                end_minute: b.min(1440),
            });
            if b + 30 < 1440 && rng.random_bool(0.5) {
                let c = b + rng.random_range(1..10u32) * 15;
                let d = (c + rng.random_range(1..40u32) * 15).min(1440);
                if c < d {
                    windows.push(Window {
                        weekday,
                        start_minute: c,
                        end_minute: d,
                    });
                }
            }
        }
        if windows.is_empty() {
            windows.push(Window {
                weekday: 2,
                start_minute: 540,
                end_minute: 1020,
            });
        }
        let base = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let holidays: Vec<NaiveDate> = (0..rng.random_range(0..6))
            .map(|_| base + Duration::days(rng.random_range(0..280)))
            .collect();
        let zone = ZONES[rng.random_range(0..ZONES.len())];
        Calendar::new(zone, &windows, &holidays).unwrap()
    }

    /// Starts near the year's daylight-saving changes (March, April, October, November) and
    /// elsewhere, on whole minutes.
    fn random_start(rng: &mut StdRng) -> DateTime<Utc> {
        let days = [
            60, 64, 80, 88, 94, 98, 150, 240, 270, 276, 295, 302, 306, 310,
        ];
        let day = days[rng.random_range(0..days.len())] + rng.random_range(-2..3);
        DateTime::from_timestamp(1_767_225_600 + day * 86_400, 0).unwrap()
            + Duration::minutes(rng.random_range(0..1440))
    }

    #[test]
    fn business_time_and_deadlines_match_a_minute_by_minute_walk() {
        let mut rng = StdRng::seed_from_u64(11);
        for round in 0..300 {
            let c = random_calendar(&mut rng);
            let from = random_start(&mut rng);
            let minutes = rng.random_range(0..10 * 1440);
            let to = from + Duration::minutes(minutes);
            let walked = (0..minutes)
                .filter(|&m| worked(&c, from + Duration::minutes(m)))
                .count() as i64;
            let got = c.business_time(from, to);
            assert_eq!(
                got,
                Duration::minutes(walked),
                "round {round}: {c:?} from {from} to {to}"
            );
            // The deadline of that much business time: the end of the last worked minute.
            if walked > 0 {
                let due = c.add(from, Duration::minutes(walked)).unwrap();
                let last = (0..minutes)
                    .rev()
                    .find(|&m| worked(&c, from + Duration::minutes(m)))
                    .unwrap();
                assert_eq!(
                    due,
                    from + Duration::minutes(last + 1),
                    "round {round}: {c:?} from {from}"
                );
                assert_eq!(c.business_time(from, due), Duration::minutes(walked));
            }
        }
    }

    #[test]
    fn a_berlin_office_day_across_the_spring_change() {
        // Mon–Fri 09:00–17:00 in Berlin; 2026-03-29 is the Sunday the clocks go forward.
        let windows: Vec<Window> = (0..5)
            .map(|d| Window {
                weekday: d,
                start_minute: 540,
                end_minute: 1020,
            })
            .collect();
        let holiday = NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
        let c = Calendar::new("Europe/Berlin", &windows, &[holiday]).unwrap();
        // Friday 27 March 16:00 CET (15:00 UTC) plus 2 business hours: 1 h on Friday, Monday
        // 30 March 09:00 CEST (07:00 UTC) plus 1 h. Ten hours: 1 on Friday, 8 on Monday, none
        // on Tuesday (a holiday), then Wednesday 09:00-10:00 CEST (08:00 UTC).
        let from = DateTime::parse_from_rfc3339("2026-03-27T15:00:00Z")
            .unwrap()
            .to_utc();
        let due = c.add(from, Duration::hours(2)).unwrap();
        assert_eq!(due.to_rfc3339(), "2026-03-30T08:00:00+00:00");
        let due = c.add(from, Duration::hours(10)).unwrap();
        assert_eq!(
            due.to_rfc3339(),
            "2026-04-01T08:00:00+00:00",
            "skips the holiday"
        );
        assert!(Calendar::new("Mars/Olympus", &windows, &[]).is_err());
        assert_eq!(parse_minute("24:00").unwrap(), 1440);
        assert!(parse_minute("9h").is_err());
    }
}
