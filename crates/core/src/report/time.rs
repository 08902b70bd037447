//! The two report date fields: PyYAML writes `checked_at` as a naive timestamp
//! (`2026-11-22 03:33:07.637856`, fraction omitted when zero) and `reference_date` as a date.

use jiff::civil::{Date, DateTime};

/// Format a naive timestamp the way Python's `str(datetime)` does, at microsecond precision.
pub fn format_naive(dt: DateTime) -> String {
    let micros = dt.subsec_nanosecond() / 1000;
    let base = dt.strftime("%Y-%m-%d %H:%M:%S").to_string();
    if micros == 0 {
        base
    } else {
        format!("{base}.{micros:06}")
    }
}

/// Parse `YYYY-MM-DD[ T]HH:MM:SS[.f…][Z|±HH:MM]`; an offset is converted to naive UTC.
pub fn parse_naive(text: &str) -> Result<DateTime, String> {
    let t = text.trim();
    let bad =
        || format!("`{t}` is not a timestamp; expected YYYY-MM-DD HH:MM:SS[.ffffff] (naive UTC)");
    if t.len() < 19 {
        return Err(bad());
    }
    let (head, tail) = t.split_at(19);
    let head = head.replacen(' ', "T", 1);
    let (frac, zone) = match tail.strip_prefix('.') {
        Some(rest) => {
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            (&rest[..end], rest[end..].trim())
        }
        None => ("", tail.trim()),
    };
    if !frac.is_empty() && frac.len() > 9 {
        return Err(bad());
    }
    let mut dt: DateTime = head.parse().map_err(|_| bad())?;
    if !frac.is_empty() {
        let nanos: i32 = format!("{frac:0<9}").parse().map_err(|_| bad())?;
        dt = dt
            .with()
            .subsec_nanosecond(nanos)
            .build()
            .map_err(|_| bad())?;
    }
    if zone.is_empty() {
        return Ok(dt);
    }
    let frac_part = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    let ts: jiff::Timestamp = format!("{head}{frac_part}{zone}")
        .parse()
        .map_err(|_| bad())?;
    Ok(jiff::tz::Offset::UTC.to_datetime(ts))
}

/// Serde for `checked_at`.
pub mod naive_timestamp {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Write as text; `Report::to_yaml` removes the quotes YAML would add.
    pub fn serialize<S: Serializer>(dt: &DateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_naive(*dt))
    }

    /// Read a timestamp (YAML timestamp or JSON string).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime, D::Error> {
        let text = String::deserialize(d)?;
        parse_naive(&text).map_err(serde::de::Error::custom)
    }
}

/// Serde for `reference_date`.
pub mod date {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Write as `YYYY-MM-DD`.
    pub fn serialize<S: Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&d.to_string())
    }

    /// Read `YYYY-MM-DD`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        text.trim().parse().map_err(|_| {
            serde::de::Error::custom(format!("`{text}` is not a date; expected YYYY-MM-DD"))
        })
    }
}
