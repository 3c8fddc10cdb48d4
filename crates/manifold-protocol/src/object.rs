//! A JSON object whose values stay raw: lets Manifold rewrite one field (a tool name, a URI, a
//! cursor) without parsing the rest. An object parsed from a text is written back by splicing the
//! changed values into that text ([`crate::splice`]), so every other byte — other members, their
//! keys as escaped, numbers as written — arrives exactly as it was sent.

use std::borrow::Cow;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::splice::{json_string, Splice};

/// An ordered JSON object with raw values.
#[derive(Debug, Default, Clone)]
pub struct RawObject<'a> {
    /// The text it was parsed from, if it was: changes are spliced into it.
    source: Option<&'a RawValue>,
    entries: Vec<Entry<'a>>,
}

#[derive(Debug, Clone)]
struct Entry<'a> {
    key: Cow<'a, str>,
    value: Cow<'a, RawValue>,
    /// The value as it stands in `source` (`None` for a member added since).
    original: Option<&'a RawValue>,
    changed: bool,
}

impl<'a> RawObject<'a> {
    /// Parses `raw`, which must be a JSON object.
    pub fn parse(raw: &'a RawValue) -> Result<Self, serde_json::Error> {
        let Members(entries) = serde_json::from_str(raw.get())?;
        Ok(RawObject {
            source: Some(raw),
            entries,
        })
    }

    /// The raw value at `key` (the first, should it appear twice).
    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.as_ref())
    }

    /// The raw value at `key` as it stands in the parsed text, borrowed from it (so its place in
    /// that text can be found); `None` if absent or changed since.
    pub fn get_borrowed(&self, key: &str) -> Option<&'a RawValue> {
        self.entries
            .iter()
            .find(|e| e.key == key)
            .filter(|e| !e.changed)
            .and_then(|e| e.original)
    }

    /// The value at `key` if it is a JSON string.
    pub fn get_str(&self, key: &str) -> Option<String> {
        self.get(key)
            .and_then(|v| serde_json::from_str::<String>(v.get()).ok())
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.key.as_ref())
    }

    /// Sets `key` to `value`, keeping its position if present.
    pub fn set(&mut self, key: &str, value: Box<RawValue>) {
        match self.entries.iter_mut().find(|e| e.key == key) {
            Some(entry) => {
                entry.value = Cow::Owned(value);
                entry.changed = true;
            }
            None => self.entries.push(Entry {
                key: Cow::Owned(key.to_string()),
                value: Cow::Owned(value),
                original: None,
                changed: true,
            }),
        }
    }

    /// Sets `key` to a JSON string.
    pub fn set_str(&mut self, key: &str, value: &str) {
        if let Ok(raw) = RawValue::from_string(json_string(value)) {
            self.set(key, raw);
        }
    }

    /// Whether any member was set since parsing.
    pub fn is_changed(&self) -> bool {
        self.entries.iter().any(|e| e.changed)
    }

    /// Writes the object back as raw JSON: the parsed text with the changed values spliced in
    /// (added members before its closing brace), or, for an object built here, serialised.
    pub fn to_raw(&self) -> Box<RawValue> {
        if let Some(source) = self.source {
            if let Some(raw) = self.splice(source) {
                return raw;
            }
        }
        let text = serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string());
        RawValue::from_string(text).unwrap_or_else(|_| empty_object())
    }

    fn splice(&self, source: &RawValue) -> Option<Box<RawValue>> {
        if !self.is_changed() {
            return Some(source.to_owned());
        }
        let source = source.get();
        let mut splice = Splice::new(source);
        let mut members = self.entries.iter().filter(|e| e.original.is_some()).count();
        let close = source.rfind('}')?;
        for entry in self.entries.iter().filter(|e| e.changed) {
            match entry.original {
                Some(original) => {
                    if !splice.replace(original.get(), entry.value.get().to_string()) {
                        return None;
                    }
                }
                None => {
                    let comma = if members > 0 { "," } else { "" };
                    let member =
                        format!("{comma}{}:{}", json_string(&entry.key), entry.value.get());
                    splice.insert(close, member);
                    members += 1;
                }
            }
        }
        splice.apply_raw()
    }
}

/// `{}` as a raw value.
pub fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_string()).expect("{} is valid JSON")
}

impl Serialize for RawObject<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.entries.len()))?;
        for e in &self.entries {
            map.serialize_entry(e.key.as_ref(), e.value.as_ref())?;
        }
        map.end()
    }
}

/// The members of an object, values borrowed from the text.
struct Members<'a>(Vec<Entry<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for ObjVisitor<'a> {
            type Value = Members<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Self::Value, M::Error> {
                let mut entries = Vec::with_capacity(m.size_hint().unwrap_or(4));
                while let Some(key) = m.next_key::<Cow<'de, str>>()? {
                    let v: &'de RawValue = m.next_value()?;
                    entries.push(Entry {
                        key,
                        value: Cow::Borrowed(v),
                        original: Some(v),
                        changed: false,
                    });
                }
                Ok(Members(entries))
            }
        }
        d.deserialize_map(ObjVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_string()).unwrap()
    }

    #[test]
    fn set_splices_and_keeps_every_other_byte() {
        let text = r#"{ "n\u0061me" : "a__echo", "arguments":{"big":12345678901234567890123,"f":2.50,"e":1.0e3,"s":"\u00e9"} }"#;
        let r = raw(text);
        let mut obj = RawObject::parse(&r).unwrap();
        assert_eq!(obj.get_str("name").as_deref(), Some("a__echo"));
        obj.set_str("name", "echo");
        assert_eq!(obj.to_raw().get(), text.replace("\"a__echo\"", "\"echo\""));
    }

    #[test]
    fn added_members_go_before_the_closing_brace() {
        let r = raw(r#"{"a":1 }"#);
        let mut obj = RawObject::parse(&r).unwrap();
        obj.set("b", raw("[2.50]"));
        assert_eq!(obj.to_raw().get(), r#"{"a":1 ,"b":[2.50]}"#);
        let r = raw("{ }");
        let mut obj = RawObject::parse(&r).unwrap();
        obj.set_str("k", "v");
        assert_eq!(obj.to_raw().get(), r#"{ "k":"v"}"#);
    }

    #[test]
    fn unchanged_objects_come_back_verbatim_and_built_ones_serialised() {
        let text = r#"{"x" :  1e2}"#;
        let r = raw(text);
        assert_eq!(RawObject::parse(&r).unwrap().to_raw().get(), text);
        let mut built = RawObject::default();
        built.set_str("uri", "a://b");
        assert_eq!(built.to_raw().get(), r#"{"uri":"a://b"}"#);
    }
}
