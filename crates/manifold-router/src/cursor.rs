//! Manifold's own opaque pagination cursors over a merged list (mcp-spec.md §3.4: clients must
//! not parse cursors, so the format is ours: base64url of a version tag and an offset).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

const TAG: &str = "mf1:";

/// Encodes the offset of the next page.
pub fn encode(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("{TAG}{offset}"))
}

/// Decodes a cursor; `None` if it is not one of ours or points past `len`.
pub fn decode(cursor: &str, len: usize) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    let offset: usize = text.strip_prefix(TAG)?.parse().ok()?;
    (offset <= len).then_some(offset)
}

/// The page `[offset, offset + size)` of a list of `len` items (`size == 0`: everything) and the
/// cursor of the next page, if any.
pub fn page(offset: usize, size: usize, len: usize) -> (std::ops::Range<usize>, Option<String>) {
    if size == 0 {
        return (offset..len, None);
    }
    let end = offset.saturating_add(size).min(len);
    let next = (end < len).then(|| encode(end));
    (offset..end, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        assert_eq!(decode(&encode(5), 10), Some(5));
        assert_eq!(decode(&encode(11), 10), None);
        assert_eq!(decode("garbage!", 10), None);
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode("other:1"), 10), None);
        assert_eq!(page(0, 0, 7), (0..7, None));
        assert_eq!(page(4, 3, 7), (4..7, None));
        let (r, next) = page(0, 3, 7);
        assert_eq!(r, 0..3);
        assert_eq!(decode(&next.unwrap(), 7), Some(3));
    }
}
