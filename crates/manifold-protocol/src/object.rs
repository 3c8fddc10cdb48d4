//! A JSON object whose values stay raw: lets Manifold rewrite one field (a tool name, a URI, a
//! cursor) without parsing or re-serialising the rest.

use std::borrow::Cow;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// An ordered JSON object with raw values.
#[derive(Debug, Default, Clone)]
pub struct RawObject<'a> {
    entries: Vec<(Cow<'a, str>, Cow<'a, RawValue>)>,
}

impl<'a> RawObject<'a> {
    /// Parses `raw`, which must be a JSON object.
    pub fn parse(raw: &'a RawValue) -> Result<Self, serde_json::Error> {
        serde_json::from_str(raw.get())
    }

    /// The raw value at `key`.
    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    }

    /// The value at `key` if it is a JSON string.
    pub fn get_str(&self, key: &str) -> Option<String> {
        self.get(key)
            .and_then(|v| serde_json::from_str::<String>(v.get()).ok())
    }

    /// Sets `key` to `value`, keeping its position if present.
    pub fn set(&mut self, key: &str, value: Box<RawValue>) {
        match self.entries.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = Cow::Owned(value),
            None => self
                .entries
                .push((Cow::Owned(key.to_string()), Cow::Owned(value))),
        }
    }

    /// Sets `key` to a JSON string.
    pub fn set_str(&mut self, key: &str, value: &str) {
        let json = serde_json::to_string(value).unwrap_or_default();
        if let Ok(raw) = RawValue::from_string(json) {
            self.set(key, raw);
        }
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) {
        self.entries.retain(|(k, _)| k != key);
    }

    /// Serialises back to raw JSON.
    pub fn to_raw(&self) -> Box<RawValue> {
        let text = serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string());
        RawValue::from_string(text).unwrap_or_else(|_| empty_object())
    }
}

/// `{}` as a raw value.
pub fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_string()).expect("{} is valid JSON")
}

impl Serialize for RawObject<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            map.serialize_entry(k.as_ref(), v.as_ref())?;
        }
        map.end()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawObject<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for ObjVisitor<'a> {
            type Value = RawObject<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Self::Value, M::Error> {
                let mut entries = Vec::with_capacity(m.size_hint().unwrap_or(4));
                while let Some(k) = m.next_key::<Cow<'de, str>>()? {
                    let v: &'de RawValue = m.next_value()?;
                    entries.push((k, Cow::Borrowed(v)));
                }
                Ok(RawObject { entries })
            }
        }
        d.deserialize_map(ObjVisitor(std::marker::PhantomData))
    }
}
