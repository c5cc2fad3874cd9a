//! A batch body parsed with its item count bounded before allocation: the
//! body is read as a stream, the `items` array is counted as it is read,
//! and parsing (and reading) stops at the first item past the configured
//! maximum, so a body of millions of tiny items costs memory proportional
//! to the maximum, never to its own size or element count. Items stay raw
//! JSON text; each is parsed on its own later, so a bad one fails alone in
//! its slot.

use std::cell::Cell;
use std::fmt;
use std::io::{BufReader, Read};

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// Why a batch body was refused before any item was looked at.
#[derive(Debug, thiserror::Error)]
pub enum BatchBodyError {
    /// More items than `max` (parsing stopped at item `max + 1`).
    #[error("a batch holds at most {max} items")]
    TooManyItems {
        /// The configured maximum.
        max: usize,
    },
    /// Not JSON, or not an object with exactly an `items` array.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// The items of the body `body` reads (`{"items": [...]}`, no other
/// field), at most `max_items` of them, each as its raw JSON text. Reads
/// no further than the item past the maximum; blocks on `body`, so call it
/// on a blocking thread when `body` waits for the network.
pub fn parse_batch_body(
    body: impl Read,
    max_items: usize,
) -> Result<Vec<Box<RawValue>>, BatchBodyError> {
    let overflowed = Cell::new(false);
    let seed = BatchSeed {
        max_items,
        overflowed: &overflowed,
    };
    // serde_json reads a reader byte by byte: buffer it.
    let reader = BufReader::with_capacity(64 * 1024, body);
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    let parsed = seed
        .deserialize(&mut deserializer)
        .and_then(|items| deserializer.end().map(|()| items));
    match parsed {
        Ok(items) => Ok(items),
        Err(_) if overflowed.get() => Err(BatchBodyError::TooManyItems { max: max_items }),
        Err(e) => Err(e.into()),
    }
}

/// The top-level object: one `items` field.
struct BatchSeed<'a> {
    max_items: usize,
    overflowed: &'a Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for BatchSeed<'_> {
    type Value = Vec<Box<RawValue>>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BatchSeed<'_> {
    type Value = Vec<Box<RawValue>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object with an `items` array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut items = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key != "items" {
                // Refused before its value is read, as `deny_unknown_fields`.
                return Err(de::Error::unknown_field(&key, &["items"]));
            }
            if items.is_some() {
                return Err(de::Error::duplicate_field("items"));
            }
            items = Some(map.next_value_seed(ItemsSeed {
                max_items: self.max_items,
                overflowed: self.overflowed,
            })?);
        }
        items.ok_or_else(|| de::Error::missing_field("items"))
    }
}

/// The `items` array, counted as it is read.
struct ItemsSeed<'a> {
    max_items: usize,
    overflowed: &'a Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for ItemsSeed<'_> {
    type Value = Vec<Box<RawValue>>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed<'_> {
    type Value = Vec<Box<RawValue>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of verification requests")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // No size hint from JSON; grow, but never past the maximum + 1.
        let mut items = Vec::with_capacity(self.max_items.min(64));
        while let Some(item) = seq.next_element::<Box<RawValue>>()? {
            if items.len() == self.max_items {
                self.overflowed.set(true);
                return Err(de::Error::invalid_length(
                    self.max_items + 1,
                    &"at most the configured maximum of items",
                ));
            }
            items.push(item);
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(items: &[Box<RawValue>]) -> Vec<&str> {
        items.iter().map(|item| item.get()).collect()
    }

    #[test]
    fn items_come_back_raw_and_in_order() {
        let items = parse_batch_body(&br#"{"items": [{"a": 1}, 0, "x"]}"#[..], 3).expect("parsed");
        assert_eq!(raw(&items), [r#"{"a": 1}"#, "0", r#""x""#]);
        let empty = parse_batch_body(&br#"{"items": []}"#[..], 3).expect("parsed");
        assert!(empty.is_empty());
    }

    #[test]
    fn parsing_stops_at_the_first_item_past_the_maximum() {
        // The tail is not even valid JSON: parsing never reaches it.
        let body = br#"{"items": [0, 0, 0, 0, 0, !!!"#;
        assert!(matches!(
            parse_batch_body(&body[..], 3),
            Err(BatchBodyError::TooManyItems { max: 3 })
        ));
    }

    /// `,0` for ever: a body that never ends.
    struct EndlessZeros;

    impl Read for EndlessZeros {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            for (i, byte) in buf.iter_mut().enumerate() {
                *byte = if i % 2 == 0 { b',' } else { b'0' };
            }
            Ok(buf.len() - buf.len() % 2)
        }
    }

    #[test]
    fn an_endless_body_is_read_only_up_to_the_item_past_the_maximum() {
        let body = (&br#"{"items": [0"#[..]).chain(EndlessZeros);
        assert!(matches!(
            parse_batch_body(body, 1000),
            Err(BatchBodyError::TooManyItems { max: 1000 })
        ));
    }

    #[test]
    fn anything_but_an_object_with_one_items_array_is_a_json_error() {
        for body in [
            &br#"{"items": [0], "extra": 1}"#[..],
            br#"{"items": [0], "items": [0]}"#,
            br#"{}"#,
            br#"{"items": 0}"#,
            br#"[0]"#,
            br#"{"items": [0]} trailing"#,
            br#"{"items": [0"#,
        ] {
            assert!(
                matches!(parse_batch_body(body, 3), Err(BatchBodyError::Json(_))),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
