//! Edits of one JSON text by byte range. Manifold rewrites single fields (a name, a URI, a progress
//! token) inside messages it otherwise forwards as they came: the new value is spliced into the
//! original bytes, and every byte outside the edited ranges is copied exactly as the sender wrote
//! it — numbers, escapes and whitespace included. Nothing is re-encoded through a value tree.

use std::ops::Range;

use serde_json::value::RawValue;

/// Pending replacements in `text`, applied together by [`Splice::apply`].
#[derive(Debug)]
pub struct Splice<'a> {
    text: &'a str,
    edits: Vec<(Range<usize>, String)>,
}

impl<'a> Splice<'a> {
    /// Edits of `text`.
    pub fn new(text: &'a str) -> Self {
        Splice {
            text,
            edits: Vec::new(),
        }
    }

    /// Where `part` lies in the text, if it is a slice of it (as the raw values parsed out of it
    /// by borrowing are).
    pub fn range_of(&self, part: &str) -> Option<Range<usize>> {
        let base = self.text.as_ptr() as usize;
        let start = (part.as_ptr() as usize).checked_sub(base)?;
        let end = start.checked_add(part.len())?;
        (end <= self.text.len()).then_some(start..end)
    }

    /// Replaces `part` (a slice of the text) by `with`; `false` if `part` is not in the text.
    pub fn replace(&mut self, part: &str, with: String) -> bool {
        match self.range_of(part) {
            Some(range) => {
                self.edits.push((range, with));
                true
            }
            None => false,
        }
    }

    /// Inserts `with` at byte offset `at`.
    pub fn insert(&mut self, at: usize, with: String) {
        if at <= self.text.len() {
            self.edits.push((at..at, with));
        }
    }

    /// Whether no edit is pending.
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    /// The edited text. Edits that overlap an earlier one are left out.
    pub fn apply(mut self) -> String {
        self.edits
            .sort_by_key(|(range, _)| (range.start, range.end));
        let added: usize = self.edits.iter().map(|(_, s)| s.len()).sum();
        let mut out = String::with_capacity(self.text.len() + added);
        let mut at = 0;
        for (range, with) in &self.edits {
            if range.start < at {
                continue;
            }
            out.push_str(&self.text[at..range.start]);
            out.push_str(with);
            at = range.end;
        }
        out.push_str(&self.text[at..]);
        out
    }

    /// The edited text as a raw value; `None` when nothing was edited or the edits did not make
    /// valid JSON.
    pub fn apply_raw(self) -> Option<Box<RawValue>> {
        if self.is_empty() {
            return None;
        }
        RawValue::from_string(self.apply()).ok()
    }
}

/// `value` encoded as a JSON string.
pub fn json_string(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "\"\"".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_edited_bytes_change() {
        let text = r#"{"a" : 12345678901234567890123, "u":"x://y", "b":2.50, "c":"\u00e9"}"#;
        let raw: &RawValue = serde_json::from_str(text).unwrap();
        let obj: std::collections::BTreeMap<&str, &RawValue> =
            serde_json::from_str(raw.get()).unwrap();
        let mut splice = Splice::new(raw.get());
        assert!(splice.replace(obj["u"].get(), json_string("ns+x://y")));
        assert!(!splice.replace("elsewhere", String::new()));
        assert_eq!(
            splice.apply(),
            r#"{"a" : 12345678901234567890123, "u":"ns+x://y", "b":2.50, "c":"\u00e9"}"#
        );
    }

    #[test]
    fn overlapping_edits_keep_the_first() {
        let text = "abcdef";
        let mut s = Splice::new(text);
        s.replace(&text[1..3], "X".into());
        s.replace(&text[2..4], "Y".into());
        s.insert(6, "!".into());
        assert_eq!(s.apply(), "aXdef!");
    }
}
