//! Times on the command line: an instant (`2026-11-30T12:00:00Z`), a date
//! (`2026-11-30`, midnight UTC) or a duration (`90m`, `24h`, `7d`, `2w`),
//! which `--since` reads as "that long ago" and `--expires-in` as "that
//! long from now".

use chrono::{DateTime, Duration, Utc};

/// A duration: a whole number and a unit (`s`, `m`, `h`, `d`, `w`).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}` needs a unit: s, m, h, d or w (`24h`, `7d`)"))?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number
        .parse()
        .map_err(|_| format!("`{text}` does not start with a whole number"))?;
    let duration = match unit {
        "s" => Duration::try_seconds(number),
        "m" => Duration::try_minutes(number),
        "h" => Duration::try_hours(number),
        "d" => Duration::try_days(number),
        "w" => Duration::try_weeks(number),
        _ => return Err(format!("`{unit}` is not a unit: s, m, h, d or w")),
    };
    duration.ok_or_else(|| format!("`{text}` is too long"))
}

/// An instant, a date, or a duration ago (`--since 24h`).
pub(crate) fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(ago) = parse_duration(text) {
        return Utc::now()
            .checked_sub_signed(ago)
            .ok_or_else(|| format!("`{text}` ago is before any time"));
    }
    super::super::export::parse_instant(text).map_err(|_| {
        format!(
            "`{text}` is neither a time (RFC 3339), a date (YYYY-MM-DD) nor a duration (24h, 7d)"
        )
    })
}

/// An instant, a date, or a duration from now (`--expires-in 30d`).
pub(crate) fn parse_from_now(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(ahead) = parse_duration(text) {
        return Utc::now()
            .checked_add_signed(ahead)
            .ok_or_else(|| format!("`{text}` from now is past any time"));
    }
    super::super::export::parse_instant(text).map_err(|_| {
        format!(
            "`{text}` is neither a duration (30d, 12h), a time (RFC 3339) nor a date (YYYY-MM-DD)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_have_units() {
        assert_eq!(parse_duration("90m"), Ok(Duration::minutes(90)));
        assert_eq!(parse_duration("7d"), Ok(Duration::days(7)));
        assert_eq!(parse_duration("2w"), Ok(Duration::weeks(2)));
        assert!(parse_duration("7").is_err());
        assert!(parse_duration("7y").is_err());
        assert!(parse_duration("d").is_err());
    }

    #[test]
    fn since_takes_times_dates_and_durations_ago() {
        let day = parse_since("2026-11-30").expect("a date");
        assert_eq!(day.to_rfc3339(), "2026-11-30T00:00:00+00:00");
        let at = parse_since("2026-11-30T12:00:00+01:00").expect("a time");
        assert_eq!(at.to_rfc3339(), "2026-11-30T11:00:00+00:00");
        let ago = parse_since("1h").expect("a duration");
        assert!(ago < Utc::now() && ago > Utc::now() - Duration::hours(2));
        assert!(parse_since("yesterday").is_err());
    }
}
