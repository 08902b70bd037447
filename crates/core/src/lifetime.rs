//! How long a testcase result stays valid (SCS `lifetime`), with the SCS monitor's exact
//! calendar arithmetic (INTEROP §3.5 `add_period`).
//!
//! Results expire at a *midnight*, not after a fixed duration: a result is valid until the end of
//! a calendar period that follows the one it was produced in. Reproducing the arithmetic exactly
//! keeps our monitor's verdicts identical to the SCS one for the same data.

use jiff::civil::{Date, DateTime};

pub use crate::scope::Lifetime;

/// The first instant at which a result checked at `checked_at` is no longer valid.
///
/// Always a midnight; see the module docs and INTEROP §3.5 for each rule.
pub fn add_period(checked_at: DateTime, lifetime: Lifetime) -> DateTime {
    let date = checked_at.date();
    let end = match lifetime {
        Lifetime::Day => add_days(date, 2),
        Lifetime::Week => {
            let weekday = i64::from(date.weekday().to_monday_zero_offset());
            add_days(date, 14 - weekday)
        }
        Lifetime::Month => first_of_month_plus(date, 2),
        Lifetime::Quarter => {
            let quarter_start = (i64::from(date.month()) - 1) / 3 * 3 + 1;
            let base = first_of_month_plus(date, 0);
            first_of_month_plus(base, quarter_start - i64::from(date.month()) + 6)
        }
        Lifetime::Year => first_of_month_plus(date, 14),
        Lifetime::Infinite => {
            Date::new(date.year().saturating_add(1000).min(9999), 1, 1).expect("January 1st exists")
        }
    };
    end.to_datetime(jiff::civil::Time::midnight())
}

/// Whether a result checked at `checked_at` has expired at `now` (`now >= expires`).
pub fn is_expired(checked_at: DateTime, lifetime: Lifetime, now: DateTime) -> bool {
    now >= add_period(checked_at, lifetime)
}

fn add_days(date: Date, days: i64) -> Date {
    date.checked_add(jiff::Span::new().days(days))
        .unwrap_or(Date::MAX)
}

/// The 1st of the month `months` after `date`'s month (saturating at the calendar's end).
fn first_of_month_plus(date: Date, months: i64) -> Date {
    let index = i64::from(date.year()) * 12 + i64::from(date.month()) - 1 + months;
    let year = index.div_euclid(12);
    let month = index.rem_euclid(12) + 1;
    match (i16::try_from(year), i8::try_from(month)) {
        (Ok(y), Ok(m)) => Date::new(y, m, 1).unwrap_or(Date::MAX),
        _ => Date::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::{date, datetime};

    fn end(y: i16, m: i8, d: i8, lifetime: Lifetime) -> Date {
        add_period(datetime(y, m, d, 13, 37, 0, 0), lifetime).date()
    }

    #[test]
    fn day_is_start_of_the_day_after_next() {
        assert_eq!(end(2026, 11, 22, Lifetime::Day), date(2026, 11, 24));
        assert_eq!(end(2026, 12, 31, Lifetime::Day), date(2027, 1, 2));
    }

    #[test]
    fn week_is_monday_of_the_week_after_next() {
        // 2026-11-22 is a Sunday, 2026-11-16 a Monday.
        assert_eq!(end(2026, 11, 22, Lifetime::Week), date(2026, 11, 30));
        assert_eq!(end(2026, 11, 16, Lifetime::Week), date(2026, 11, 30));
        assert_eq!(end(2026, 11, 23, Lifetime::Week), date(2026, 12, 7));
    }

    #[test]
    fn month_is_first_of_the_month_after_next() {
        assert_eq!(end(2026, 1, 14, Lifetime::Month), date(2026, 3, 1));
        assert_eq!(end(2026, 11, 30, Lifetime::Month), date(2027, 1, 1));
        assert_eq!(end(2026, 12, 1, Lifetime::Month), date(2027, 2, 1));
    }

    #[test]
    fn quarter_is_first_day_of_the_quarter_after_next() {
        assert_eq!(end(2026, 2, 10, Lifetime::Quarter), date(2026, 7, 1));
        assert_eq!(end(2026, 1, 1, Lifetime::Quarter), date(2026, 7, 1));
        assert_eq!(end(2026, 6, 30, Lifetime::Quarter), date(2026, 10, 1));
        assert_eq!(end(2026, 9, 5, Lifetime::Quarter), date(2027, 1, 1));
        assert_eq!(end(2026, 12, 31, Lifetime::Quarter), date(2027, 4, 1));
    }

    #[test]
    fn year_is_first_of_month_plus_two_one_year_later() {
        assert_eq!(end(2026, 1, 14, Lifetime::Year), date(2027, 3, 1));
        assert_eq!(end(2026, 11, 14, Lifetime::Year), date(2028, 1, 1));
        assert_eq!(end(2026, 12, 14, Lifetime::Year), date(2028, 2, 1));
    }

    #[test]
    fn expiry_is_inclusive_at_the_boundary() {
        let checked = datetime(2026, 11, 22, 23, 59, 59, 0);
        let expires = datetime(2026, 11, 24, 0, 0, 0, 0);
        assert!(!is_expired(
            checked,
            Lifetime::Day,
            datetime(2026, 11, 23, 23, 59, 59, 999_999_999)
        ));
        assert!(is_expired(checked, Lifetime::Day, expires));
        assert!(is_expired(
            checked,
            Lifetime::Day,
            datetime(2026, 11, 25, 0, 0, 0, 0)
        ));
    }
}
