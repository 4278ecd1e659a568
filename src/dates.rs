//! Time bounds people type into filters (`from`, `to` of search and of the audit trail): an
//! RFC 3339 time, or a date — and a date means the whole day, in UTC. One rule for every filter.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

/// Which end of a range a bound closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// `from`: a date starts at its first instant.
    Start,
    /// `to`: a date includes its last millisecond.
    Finish,
}

/// `value` as an instant, or `None` when it is neither an RFC 3339 time nor a `YYYY-MM-DD` date.
pub fn parse_bound(value: &str, end: End) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Some(at.with_timezone(&Utc));
    }
    // Exactly YYYY-MM-DD (RFC 3339 full-date), as the API contract says: chrono alone would also
    // take `2026-1-5` or surrounding spaces.
    let shape = value.len() == 10
        && value.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    if !shape {
        return None;
    }
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
    let time = match end {
        End::Start => NaiveTime::MIN,
        End::Finish => NaiveTime::from_hms_milli_opt(23, 59, 59, 999)?,
    };
    Some(date.and_time(time).and_utc())
}

/// What a filter says when its bound does not parse.
pub const EXPECTED: &str = "is not a date (YYYY-MM-DD) or an RFC 3339 time";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_is_the_whole_day_and_times_are_taken_as_given() {
        let start = parse_bound("2026-03-01", End::Start).expect("date");
        let finish = parse_bound("2026-03-01", End::Finish).expect("date");
        assert_eq!(start.to_rfc3339(), "2026-03-01T00:00:00+00:00");
        assert_eq!(finish.to_rfc3339(), "2026-03-01T23:59:59.999+00:00");
        let at = parse_bound("2026-03-01T12:00:00+01:00", End::Finish).expect("time");
        assert_eq!(at.to_rfc3339(), "2026-03-01T11:00:00+00:00", "converted to UTC, not widened");
        for bad in ["01/03/2026", "2026-13-01", "yesterday", ""] {
            assert_eq!(parse_bound(bad, End::Start), None, "{bad}");
        }
    }
}
