//! Finds where a value sits in the YAML text, so content errors carry a line and a column.
//!
//! serde_yaml_ng gives positions only for errors raised while deserializing. We use that: a
//! second pass walks down to the wanted node and fails there on purpose; the parser stamps the
//! failure with the node's position. It runs only when an error is reported, so it costs nothing
//! on the happy path.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A mapping key.
    Key(&'static str),
    /// A sequence index.
    Index(usize),
}

/// Line and column (both 1-based) of the node at `path`, or of its deepest existing ancestor.
pub fn locate(text: &str, path: &[Seg]) -> Option<(usize, usize)> {
    let deserializer = serde_yaml_ng::Deserializer::from_str(text);
    match (Seek { path }).deserialize(deserializer) {
        Ok(()) => None,
        Err(err) => err.location().map(|loc| (loc.line(), loc.column())),
    }
}

const MARKER: &str = "scs-kaas-locate";

struct Seek<'p> {
    path: &'p [Seg],
}

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seek<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(E::custom(MARKER))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(E::custom(MARKER))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(E::custom(MARKER))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(E::custom(MARKER))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(E::custom(MARKER))
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(MARKER))
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(MARKER))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((Seg::Index(wanted), rest)) = self.path.split_first() else {
            return Err(de::Error::custom(MARKER));
        };
        let mut index = 0;
        loop {
            if index == *wanted {
                return match seq.next_element_seed(Seek { path: rest })? {
                    Some(()) => Ok(()),
                    None => Err(de::Error::custom(MARKER)),
                };
            }
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Err(de::Error::custom(MARKER));
            }
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((Seg::Key(wanted), rest)) = self.path.split_first() else {
            return Err(de::Error::custom(MARKER));
        };
        while let Some(key) = map.next_key::<String>()? {
            if key == *wanted {
                return map.next_value_seed(Seek { path: rest });
            }
            map.next_value::<IgnoredAny>()?;
        }
        Err(de::Error::custom(MARKER))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "name: x\nnodes:\n  - name: a\n  - name: b\n    zone: z\n";

    #[test]
    fn finds_nested_values() {
        assert_eq!(locate(DOC, &[Seg::Key("name")]), Some((1, 7)));
        assert_eq!(
            locate(DOC, &[Seg::Key("nodes"), Seg::Index(1), Seg::Key("zone")]),
            Some((5, 11))
        );
        assert_eq!(
            locate(DOC, &[Seg::Key("nodes"), Seg::Index(0), Seg::Key("name")]),
            Some((3, 11))
        );
    }

    #[test]
    fn missing_path_points_at_the_deepest_ancestor() {
        // nodes[7] does not exist: the error is raised at the end of the `nodes` sequence,
        // still inside the document, never None.
        assert!(locate(DOC, &[Seg::Key("nodes"), Seg::Index(7)]).is_some());
    }
}
