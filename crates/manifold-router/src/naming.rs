//! How upstream names become downstream names (DESIGN.md § Naming): tools and prompts as
//! `<namespace><sep><name>`, resources and templates as `<namespace>+<uri>`; names kept within 64
//! characters of `[A-Za-z0-9_.-]`, longer ones shortened deterministically.

/// The longest tool or prompt name Manifold emits (the safe limit of mcp-spec.md §4.1).
pub const MAX_NAME: usize = 64;

/// The downstream name of an upstream tool or prompt. Pass-through (`namespace` empty) keeps the
/// name exactly; otherwise the name is prefixed, characters outside `[A-Za-z0-9_.-]` become `_`,
/// and a result over 64 characters is cut to 55 and suffixed with `_` and 8 hex digits of a hash
/// of the full name, so it stays unique and stable across restarts.
pub fn downstream_name(namespace: &str, separator: &str, name: &str) -> String {
    if namespace.is_empty() {
        return name.to_string();
    }
    let full: String = format!("{namespace}{separator}{name}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if full.len() <= MAX_NAME {
        return full;
    }
    let hash = fnv1a(format!("{namespace}{separator}{name}").as_bytes());
    format!(
        "{}_{:08x}",
        &full[..MAX_NAME - 9],
        (hash ^ (hash >> 32)) as u32
    )
}

/// The downstream form of an upstream URI or URI template.
pub fn downstream_uri(namespace: &str, uri: &str) -> String {
    if namespace.is_empty() {
        uri.to_string()
    } else {
        format!("{namespace}+{uri}")
    }
}

/// Splits a downstream URI into a candidate namespace and the upstream URI.
pub fn split_uri(uri: &str) -> Option<(&str, &str)> {
    let (ns, rest) = uri.split_once('+')?;
    let valid = !ns.is_empty()
        && ns
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    valid.then_some((ns, rest))
}

/// FNV-1a, 64 bit: tiny, dependency-free and stable across Rust versions (unlike `DefaultHasher`).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_passes_through() {
        assert_eq!(downstream_name("fs", "__", "read"), "fs__read");
        assert_eq!(downstream_name("", "__", "read/file x"), "read/file x");
        assert_eq!(downstream_name("fs", "__", "a/b c"), "fs__a_b_c");
    }

    #[test]
    fn long_names_are_shortened_deterministically_and_distinctly() {
        let a = downstream_name("server", "__", &"x".repeat(70));
        let b = downstream_name("server", "__", &format!("{}y", "x".repeat(69)));
        assert_eq!(a.len(), MAX_NAME);
        assert_eq!(b.len(), MAX_NAME);
        assert_ne!(a, b);
        assert_eq!(a, downstream_name("server", "__", &"x".repeat(70)));
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)));
    }

    #[test]
    fn uris() {
        assert_eq!(downstream_uri("fs", "file:///a"), "fs+file:///a");
        assert_eq!(split_uri("fs+file:///a"), Some(("fs", "file:///a")));
        assert_eq!(split_uri("svn+ssh://x"), Some(("svn", "ssh://x")));
        assert_eq!(split_uri("file:///a+b"), None);
        assert_eq!(split_uri("Fs+x"), None);
    }
}
