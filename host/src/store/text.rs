//! Client values on their way into PostgreSQL, as types that only hold what
//! PostgreSQL can store: `text` refuses NUL, `jsonb` refuses `\u0000` in
//! keys and strings, `timestamptz` has a range, and `VARCHAR(n)` a length.
//! Request structs use these types, so a bad value is refused while the
//! body is decoded (a 4xx naming the field) instead of by the database
//! after the handler ran (a 500).
//!
//! A refusal's message starts with [`REFUSAL`], which is how the edge tells
//! it from other decoding errors (wrong types, missing fields).

use std::fmt;

use chrono::{DateTime, Datelike, Utc};
use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serialize};

/// The start of every refusal message, so the edge can recognise one.
pub const REFUSAL: &str = "unstorable value: ";

/// Deepest nesting of arrays and objects accepted in a free-form value.
pub const MAX_JSON_DEPTH: usize = 32;

/// Most object keys accepted in a free-form value, all levels together.
pub const MAX_JSON_KEYS: usize = 1024;

/// Why a value cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unstorable {
    /// A NUL character (`\u0000`), which PostgreSQL text and jsonb refuse.
    #[error("it contains a NUL character (\\u0000)")]
    Nul,
    /// More characters than the field holds.
    #[error("it is longer than {0} characters")]
    TooLong(usize),
    /// Nested deeper than [`MAX_JSON_DEPTH`].
    #[error("it is nested deeper than {MAX_JSON_DEPTH} levels")]
    TooDeep,
    /// More keys than [`MAX_JSON_KEYS`].
    #[error("it has more than {MAX_JSON_KEYS} keys")]
    TooManyKeys,
    /// A time outside what is accepted.
    #[error("it is not an RFC 3339 time between the years 1 and 9999")]
    TimeOutOfRange,
}

impl Unstorable {
    /// The refusal as a deserialisation error (see [`REFUSAL`]).
    fn into_de<E: serde::de::Error>(self) -> E {
        E::custom(format_args!("{REFUSAL}{self}"))
    }
}

/// Text without NUL, at most `MAX` characters (`VARCHAR(MAX)`, or a limit
/// the API sets for `TEXT`).
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct StoredText<const MAX: usize>(String);

impl<const MAX: usize> StoredText<MAX> {
    /// Check `text` against the rule.
    pub fn parse(text: impl Into<String>) -> Result<Self, Unstorable> {
        let text = text.into();
        if text.contains('\0') {
            return Err(Unstorable::Nul);
        }
        if text.chars().count() > MAX {
            return Err(Unstorable::TooLong(MAX));
        }
        Ok(Self(text))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text, owned.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl<const MAX: usize> fmt::Debug for StoredText<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<const MAX: usize> fmt::Display for StoredText<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const MAX: usize> std::ops::Deref for StoredText<MAX> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de, const MAX: usize> Deserialize<'de> for StoredText<MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::parse(String::deserialize(deserializer)?).map_err(Unstorable::into_de)
    }
}

/// A free-form JSON value jsonb can hold and that stays small enough to
/// index and show: no NUL in any key or string, nesting at most
/// [`MAX_JSON_DEPTH`] deep, at most [`MAX_JSON_KEYS`] keys. (Numbers need
/// no check: `serde_json` refuses the ones `f64` cannot hold, and jsonb's
/// `numeric` holds every finite `f64`.)
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct StoredJson(serde_json::Value);

impl StoredJson {
    /// Check `value` against the rule.
    pub fn parse(value: serde_json::Value) -> Result<Self, Unstorable> {
        let mut keys = 0;
        check_json(&value, 1, &mut keys)?;
        Ok(Self(value))
    }

    /// The value.
    pub fn as_value(&self) -> &serde_json::Value {
        &self.0
    }

    /// The value, owned.
    pub fn into_inner(self) -> serde_json::Value {
        self.0
    }
}

/// Walk `value` at nesting `depth`, counting object keys into `keys`.
fn check_json(value: &serde_json::Value, depth: usize, keys: &mut usize) -> Result<(), Unstorable> {
    use serde_json::Value;
    let nested = matches!(value, Value::Array(_) | Value::Object(_));
    if nested && depth > MAX_JSON_DEPTH {
        return Err(Unstorable::TooDeep);
    }
    match value {
        Value::String(s) if s.contains('\0') => Err(Unstorable::Nul),
        Value::Array(items) => items
            .iter()
            .try_for_each(|item| check_json(item, depth + 1, keys)),
        Value::Object(map) => {
            *keys += map.len();
            if *keys > MAX_JSON_KEYS {
                return Err(Unstorable::TooManyKeys);
            }
            map.iter().try_for_each(|(key, item)| {
                if key.contains('\0') {
                    return Err(Unstorable::Nul);
                }
                check_json(item, depth + 1, keys)
            })
        }
        _ => Ok(()),
    }
}

impl<'de> Deserialize<'de> for StoredJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::parse(serde_json::Value::deserialize(deserializer)?).map_err(Unstorable::into_de)
    }
}

/// An RFC 3339 time in the years 1 to 9999: inside `timestamptz`'s range
/// (4713 BC to 294276 AD) with room for arithmetic, and the range every
/// client library can print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct StoredTime(DateTime<Utc>);

impl StoredTime {
    /// Check `time` against the range.
    pub fn parse(time: DateTime<Utc>) -> Result<Self, Unstorable> {
        if (1..=9999).contains(&time.year()) {
            Ok(Self(time))
        } else {
            Err(Unstorable::TimeOutOfRange)
        }
    }

    /// The time.
    pub fn get(self) -> DateTime<Utc> {
        self.0
    }
}

impl<'de> Deserialize<'de> for StoredTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Any unparseable text is the same refusal: chrono's own message
        // ("input is out of range") does not name the rule.
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        let time = DateTime::parse_from_rfc3339(&text).map_err(|_| {
            D::Error::custom(format_args!("{REFUSAL}{}", Unstorable::TimeOutOfRange))
        })?;
        Self::parse(time.with_timezone(&Utc)).map_err(Unstorable::into_de)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn refusal<T: for<'de> Deserialize<'de> + fmt::Debug>(value: serde_json::Value) -> String {
        serde_json::from_value::<T>(value)
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn text_refuses_nul_and_length_in_characters() {
        assert!(
            StoredText::<4>::parse("ключ").is_ok(),
            "4 characters, 8 bytes"
        );
        assert_eq!(StoredText::<4>::parse("a\0"), Err(Unstorable::Nul));
        assert_eq!(StoredText::<4>::parse("abcde"), Err(Unstorable::TooLong(4)));
        assert!(refusal::<StoredText<8>>(json!("a\u{0}b")).starts_with(REFUSAL));
        let text: StoredText<8> = serde_json::from_value(json!("nom ✓")).expect("accepted");
        assert_eq!(text.as_str(), "nom ✓");
    }

    #[test]
    fn json_refuses_nul_anywhere() {
        for bad in [
            json!({"a\u{0}b": 1}),
            json!({"a": "x\u{0}"}),
            json!({"a": {"b": ["ok", "x\u{0}y"]}}),
            json!(["\u{0}"]),
        ] {
            assert_eq!(
                StoredJson::parse(bad.clone()),
                Err(Unstorable::Nul),
                "{bad}"
            );
            assert!(refusal::<StoredJson>(bad).starts_with(REFUSAL));
        }
        let fine = json!({"ключ": [1, 2.5, null, true, {"k": "v"}]});
        assert_eq!(
            StoredJson::parse(fine.clone()).map(StoredJson::into_inner),
            Ok(fine)
        );
    }

    #[test]
    fn json_limits_depth_and_keys() {
        let nest = |levels: usize| (1..levels).fold(json!({}), |inner, _| json!({ "a": inner }));
        assert!(StoredJson::parse(nest(MAX_JSON_DEPTH)).is_ok());
        assert_eq!(
            StoredJson::parse(nest(MAX_JSON_DEPTH + 1)),
            Err(Unstorable::TooDeep)
        );
        let wide: serde_json::Map<_, _> = (0..=MAX_JSON_KEYS)
            .map(|i| (i.to_string(), json!(i)))
            .collect();
        assert_eq!(
            StoredJson::parse(serde_json::Value::Object(wide)),
            Err(Unstorable::TooManyKeys)
        );
    }

    #[test]
    fn times_stay_in_range() {
        let ok: StoredTime = serde_json::from_value(json!("2030-01-02T03:04:05Z")).expect("ok");
        assert_eq!(ok.get().year(), 2030);
        for bad in [
            json!("300000-01-01T00:00:00Z"),
            json!("+300000-01-01T00:00:00Z"),
            json!("0000-01-01T00:00:00Z"),
            json!("not a time"),
        ] {
            assert!(
                refusal::<StoredTime>(bad.clone()).starts_with(REFUSAL),
                "{bad}"
            );
        }
        assert!(refusal::<StoredTime>(json!(5)).contains("invalid type"));
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn text_without_nul_within_the_limit_round_trips(text in "[^\\x00]{0,64}") {
            let json = serde_json::to_string(&text).expect("serialised");
            let stored: StoredText<64> = serde_json::from_str(&json).expect("accepted");
            prop_assert_eq!(stored.as_str(), text.as_str());
        }

        #[test]
        fn text_with_a_nul_is_refused(before in ".{0,30}", after in ".{0,30}") {
            let json = serde_json::to_string(&format!("{before}\0{after}")).expect("serialised");
            let refusal = serde_json::from_str::<StoredText<64>>(&json).expect_err("refused");
            prop_assert!(refusal.to_string().starts_with(REFUSAL));
        }

        #[test]
        fn json_without_nul_round_trips(value in json_value()) {
            // Compared with plain decoding: without serde_json's
            // float_roundtrip a float may move by one ulp either way.
            let text = value.to_string();
            let stored: StoredJson = serde_json::from_str(&text).expect("accepted");
            let plain: serde_json::Value = serde_json::from_str(&text).expect("decoded");
            prop_assert_eq!(stored.into_inner(), plain);
        }

        #[test]
        fn json_with_a_nul_anywhere_is_refused(value in json_value(), in_key in any::<bool>()) {
            let poisoned = if in_key {
                serde_json::json!({"ok": value, "\0": 1})
            } else {
                serde_json::json!([value, {"deep": ["a\0"]}])
            };
            prop_assert_eq!(StoredJson::parse(poisoned), Err(Unstorable::Nul));
        }
    }

    /// JSON without NUL, a few levels deep (well inside the limits).
    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            "[^\\x00]{0,16}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::btree_map("[^\\x00]{0,8}", inner, 0..8)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }
}
