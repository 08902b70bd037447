//! Parsing the `-a key=value` assignments several checks share the shape of (probe switches,
//! timeouts), so every check rejects bad values with the same kind of message: the key, what
//! was wrong, and a value that works.

use std::time::Duration;

/// `on`/`true` (the default when absent) or `off`/`false`.
pub fn on_off(key: &str, value: Option<&str>) -> Result<bool, String> {
    match value {
        None | Some("on" | "true") => Ok(true),
        Some("off" | "false") => Ok(false),
        Some(other) => Err(format!(
            "{key}={other:?} is not on or off; pass -a {key}=on or =off"
        )),
    }
}

/// A positive duration such as `90s` or `5m` (`default` when absent); `example` is the value
/// the error message suggests.
pub fn duration(
    key: &str,
    value: Option<&str>,
    default: Duration,
    example: &str,
) -> Result<Duration, String> {
    let Some(s) = value else {
        return Ok(default);
    };
    s.parse::<jiff::SignedDuration>()
        .ok()
        .and_then(|d| Duration::try_from(d).ok())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            format!("{key}={s:?} is not a positive duration; pass e.g. -a {key}={example}")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_default_on_and_name_the_key_when_wrong() {
        assert_eq!(on_off("p", None), Ok(true));
        assert_eq!(on_off("p", Some("true")), Ok(true));
        assert_eq!(on_off("p", Some("off")), Ok(false));
        assert_eq!(
            on_off("p", Some("maybe")),
            Err("p=\"maybe\" is not on or off; pass -a p=on or =off".to_string())
        );
    }

    #[test]
    fn durations_must_be_positive() {
        let d = Duration::from_secs(7);
        assert_eq!(duration("t", None, d, "5m"), Ok(d));
        assert_eq!(
            duration("t", Some("90s"), d, "5m"),
            Ok(Duration::from_secs(90))
        );
        for bad in ["0s", "-5s", "soon"] {
            assert_eq!(
                duration("t", Some(bad), d, "5m"),
                Err(format!(
                    "t={bad:?} is not a positive duration; pass e.g. -a t=5m"
                ))
            );
        }
    }
}
