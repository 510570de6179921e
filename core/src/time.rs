//! Time windows read from the engine clock in a time zone, and window durations.
use chrono::{DateTime, Datelike, FixedOffset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// A time zone a window is read in.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Zone {
    Utc,
    Fixed(FixedOffset),
    Iana(Tz),
}

impl Zone {
    /// `UTC`, a fixed offset `+HH:MM` / `-HH:MM`, or an IANA name as spelled in the tz database.
    pub(crate) fn parse(s: &str) -> Option<Zone> {
        if s == "UTC" {
            return Some(Zone::Utc);
        }
        let sign = match s.as_bytes().first() {
            Some(b'+') => Some(1),
            Some(b'-') => Some(-1),
            _ => None,
        };
        if let Some(sign) = sign {
            let minutes = parse_hhmm(s.get(1..)?, 23)?;
            return FixedOffset::east_opt(sign * minutes as i32 * 60).map(Zone::Fixed);
        }
        s.parse::<Tz>()
            .ok()
            .filter(|tz| tz.name() == s)
            .map(Zone::Iana)
    }

    /// Minute of the day (0..1440) and weekday (0 = Monday) at `unix_ms` in this zone;
    /// `None` when the calendar cannot represent that instant (chrono covers about
    /// ±262,000 years; a day of margin keeps every zone offset inside that range).
    fn local(&self, unix_ms: i64) -> Option<(u32, u32)> {
        const DAY_MS: i64 = 86_400_000;
        DateTime::<Utc>::from_timestamp_millis(unix_ms.checked_sub(DAY_MS)?)?;
        DateTime::<Utc>::from_timestamp_millis(unix_ms.checked_add(DAY_MS)?)?;
        let utc = DateTime::<Utc>::from_timestamp_millis(unix_ms)?;
        fn parts<T: TimeZone>(d: DateTime<T>) -> (u32, u32) {
            (
                d.hour() * 60 + d.minute(),
                d.weekday().num_days_from_monday(),
            )
        }
        Some(match self {
            Zone::Utc => parts(utc),
            Zone::Fixed(off) => parts(utc.with_timezone(off)),
            Zone::Iana(tz) => parts(utc.with_timezone(tz)),
        })
    }
}

/// `HH:MM` with two digits each, hours up to `max_hour`; returns minutes.
pub(crate) fn parse_hhmm(s: &str, max_hour: u32) -> Option<u32> {
    let b = s.as_bytes();
    if b.len() != 5 || b.get(2) != Some(&b':') {
        return None;
    }
    let digit = |i: usize| {
        b.get(i)
            .filter(|c| c.is_ascii_digit())
            .map(|c| u32::from(c - b'0'))
    };
    let h = digit(0)? * 10 + digit(1)?;
    let m = digit(3)? * 10 + digit(4)?;
    (h <= max_hour && m <= 59).then_some(h * 60 + m)
}

/// Day names in order, Monday first.
pub(crate) const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A compiled `time` condition: true when the clock, read in `zone`, is in `[start, end)`.
#[derive(Debug, Clone)]
pub(crate) struct TimeWindow {
    pub(crate) start: u32,
    pub(crate) end: u32,
    /// Bit `d` set when weekday `d` (0 = Monday) is allowed; for a window that wraps past
    /// midnight, the day the window starts.
    pub(crate) days: u8,
    pub(crate) zone: Zone,
}

impl TimeWindow {
    /// Whether `unix_ms` falls in the window; `None` (unknown) when the clock reads an
    /// instant outside the calendar's range.
    pub(crate) fn contains(&self, unix_ms: i64) -> Option<bool> {
        let (minute, day) = self.zone.local(unix_ms)?;
        let day_ok = |d: u32| self.days & (1 << d) != 0;
        Some(if self.start < self.end {
            self.start <= minute && minute < self.end && day_ok(day)
        } else {
            (minute >= self.start && day_ok(day)) || (minute < self.end && day_ok((day + 6) % 7))
        })
    }
}

/// Parses a window duration: one integer and one unit (`ms`, `s`, `m`, `h`, `d`); returns ms.
/// `None` when malformed; the caller checks the range.
pub(crate) fn parse_duration_ms(s: &str) -> Option<u64> {
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = s.split_at(split);
    if digits.is_empty() || digits.len() > 12 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let scale = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(rfc3339: &str) -> i64 {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .timestamp_millis()
    }

    impl TimeWindow {
        fn c(&self, unix_ms: i64) -> bool {
            self.contains(unix_ms).unwrap()
        }
    }

    #[test]
    fn clocks_beyond_the_calendar_are_unknown() {
        for zone in ["UTC", "+23:59", "-23:59", "Pacific/Kiritimati"] {
            let w = TimeWindow {
                start: 0,
                end: 60,
                days: 0x7f,
                zone: Zone::parse(zone).unwrap(),
            };
            for t in [
                i64::MAX,
                i64::MIN,
                9_000_000_000_000_000,
                -9_000_000_000_000_000,
            ] {
                assert_eq!(w.contains(t), None, "{zone} {t}");
            }
            assert!(w.contains(0).is_some(), "{zone}");
        }
    }

    #[test]
    fn windows_wrap_and_follow_dst() {
        let w = TimeWindow {
            start: 17 * 60,
            end: 9 * 60,
            days: 0x7f,
            zone: Zone::parse("America/New_York").unwrap(),
        };
        assert!(w.c(ms("2026-05-22T21:30:00Z")));
        assert!(!w.c(ms("2026-05-22T14:00:00Z")));
        assert!(!w.c(ms("2026-05-23T13:00:00Z"))); // 09:00 EDT: end is exclusive
        assert!(w.c(ms("2026-05-23T12:59:00Z")));
        assert!(w.c(ms("2026-01-10T13:30:00Z"))); // 08:30 EST
                                                  // fri 22:00 - 06:00 covers saturday 03:00 but not friday 03:00.
        let fri = TimeWindow {
            start: 22 * 60,
            end: 6 * 60,
            days: 1 << 4,
            zone: Zone::Utc,
        };
        assert!(fri.c(ms("2026-05-23T03:00:00Z")));
        assert!(!fri.c(ms("2026-05-22T03:00:00Z")));
        assert!(fri.c(ms("2026-05-22T22:00:00Z")));
    }

    #[test]
    fn zones_and_durations() {
        assert!(Zone::parse("Europe/Berlin").is_some());
        assert!(Zone::parse("europe/berlin").is_none());
        assert!(Zone::parse("+05:30").is_some());
        assert!(Zone::parse("+5:30").is_none());
        assert!(Zone::parse("Mars/Olympus").is_none());
        assert_eq!(parse_duration_ms("500ms"), Some(500));
        assert_eq!(parse_duration_ms("1m"), Some(60_000));
        assert_eq!(parse_duration_ms("1.5m"), None);
        assert_eq!(parse_duration_ms("1w"), None);
        assert_eq!(parse_hhmm("24:00", 23), None);
        assert_eq!(parse_hhmm("23:59", 23), Some(1439));
    }
}
