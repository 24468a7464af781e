//! Timestamps: stored as microseconds since the Unix epoch, shown the way h shows them.

use time::OffsetDateTime;

/// Microseconds since the Unix epoch, now.
pub fn now_micros() -> i64 {
    let now = OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000) as i64
}

/// h's annotation timestamp format: `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`, always six fraction
/// digits, always UTC (`h/services/annotation_json.py` uses `isoformat()` on UTC datetimes).
pub fn format_micros(micros: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    // Written digit by digit: this runs twice per rendered annotation, and `format!` with
    // padding costs several times more.
    let mut out = String::with_capacity(32);
    let mut digits = |n: u32, width: u32, sep: Option<char>| {
        for i in (0..width).rev() {
            out.push(char::from(b'0' + (n / 10u32.pow(i) % 10) as u8));
        }
        if let Some(c) = sep {
            out.push(c);
        }
    };
    digits(t.year().clamp(0, 9999) as u32, 4, Some('-'));
    digits(u8::from(t.month()).into(), 2, Some('-'));
    digits(t.day().into(), 2, Some('T'));
    digits(t.hour().into(), 2, Some(':'));
    digits(t.minute().into(), 2, Some(':'));
    digits(t.second().into(), 2, Some('.'));
    digits(t.microsecond(), 6, None);
    out.push_str("+00:00");
    out
}

/// Parses a search `search_after` value for a date sort: an ISO 8601 date-time (with or without
/// offset, as h's clients send the `updated` they last saw) or epoch milliseconds.
pub fn parse_search_after(value: &str) -> Option<i64> {
    if let Ok(ms) = value.parse::<i64>() {
        return Some(ms.saturating_mul(1_000));
    }
    use time::format_description::well_known::Iso8601;
    if let Ok(t) = OffsetDateTime::parse(value, &Iso8601::DEFAULT) {
        return Some((t.unix_timestamp_nanos() / 1_000) as i64);
    }
    // A naive date-time (no offset) is taken as UTC.
    let with_offset = format!("{value}+00:00");
    OffsetDateTime::parse(&with_offset, &Iso8601::DEFAULT)
        .ok()
        .map(|t| (t.unix_timestamp_nanos() / 1_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_h() {
        assert_eq!(format_micros(0), "1970-01-01T00:00:00.000000+00:00");
        assert_eq!(
            format_micros(1_777_629_600_123_456),
            "2026-05-01T10:00:00.123456+00:00"
        );
    }

    #[test]
    fn search_after_accepts_iso_and_epoch_ms() {
        let t = 1_777_629_600_123_456;
        assert_eq!(
            parse_search_after("2026-05-01T10:00:00.123456+00:00"),
            Some(t)
        );
        assert_eq!(parse_search_after("2026-05-01T10:00:00.123456"), Some(t));
        assert_eq!(
            parse_search_after("1777629600123"),
            Some(1_777_629_600_123_000)
        );
        assert_eq!(parse_search_after("yesterday"), None);
    }
}
