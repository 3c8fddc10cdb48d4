//! `${VAR}` / `${VAR:-default}` / `$$` expansion: a pure function over a lookup closure.

/// Why a value could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExpandError {
    /// `${NAME}` with `NAME` unset and no default.
    Unset(String),
    /// `${` without a closing `}`.
    Unclosed,
    /// `${...}` whose name is not `[A-Za-z_][A-Za-z0-9_]*`.
    BadName(String),
}

impl std::fmt::Display for ExpandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpandError::Unset(name) => write!(
                f,
                "environment variable `{name}` is not set (write `${{{name}:-default}}` for a default)"
            ),
            ExpandError::Unclosed => f.write_str("`${` without a closing `}` (write `$$` for a literal `$`)"),
            ExpandError::BadName(body) => write!(
                f,
                "`${{{body}}}` is not a variable reference: expected `${{NAME}}` or `${{NAME:-default}}`"
            ),
        }
    }
}

/// Expands `input`:
/// - `${NAME}` → the value of `NAME`; unset → [`ExpandError::Unset`];
/// - `${NAME:-default}` → the value of `NAME`, or `default` when unset or empty (the default is
///   taken literally, up to the first `}`);
/// - `$$` → `$`; any other `$` stays as it is.
pub(crate) fn expand(
    input: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body_and_tail) = after.strip_prefix('{') {
            let end = body_and_tail.find('}').ok_or(ExpandError::Unclosed)?;
            let body = &body_and_tail[..end];
            let (name, default) = match body.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (body, None),
            };
            if !is_var_name(name) {
                return Err(ExpandError::BadName(body.to_owned()));
            }
            match (lookup(name), default) {
                (Some(value), Some(default)) if value.is_empty() => out.push_str(default),
                (Some(value), _) => out.push_str(&value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => return Err(ExpandError::Unset(name.to_owned())),
            }
            rest = &body_and_tail[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cret".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn run(input: &str) -> Result<String, ExpandError> {
        expand(input, &env)
    }

    #[test]
    fn plain_text_is_untouched() {
        assert_eq!(run("no variables here").unwrap(), "no variables here");
        assert_eq!(run("").unwrap(), "");
    }

    #[test]
    fn variables_expand() {
        assert_eq!(run("Bearer ${TOKEN}").unwrap(), "Bearer s3cret");
        assert_eq!(run("${TOKEN}${TOKEN}").unwrap(), "s3crets3cret");
    }

    #[test]
    fn defaults_apply_when_unset_or_empty() {
        assert_eq!(run("${MISSING:-fallback}").unwrap(), "fallback");
        assert_eq!(run("${EMPTY:-fallback}").unwrap(), "fallback");
        assert_eq!(run("${TOKEN:-fallback}").unwrap(), "s3cret");
        assert_eq!(run("${MISSING:-}").unwrap(), "");
        assert_eq!(run("${EMPTY}").unwrap(), "");
    }

    #[test]
    fn missing_variable_is_an_error() {
        assert_eq!(
            run("x ${MISSING} y"),
            Err(ExpandError::Unset("MISSING".into()))
        );
    }

    #[test]
    fn dollars() {
        assert_eq!(run("cost: $$5").unwrap(), "cost: $5");
        assert_eq!(run("$${TOKEN}").unwrap(), "${TOKEN}");
        assert_eq!(run("a $ b $").unwrap(), "a $ b $");
        assert_eq!(run("$HOME").unwrap(), "$HOME");
    }

    #[test]
    fn malformed_references() {
        assert_eq!(run("${TOKEN"), Err(ExpandError::Unclosed));
        assert_eq!(run("${}"), Err(ExpandError::BadName(String::new())));
        assert_eq!(run("${1X}"), Err(ExpandError::BadName("1X".into())));
        assert_eq!(run("${A-b}"), Err(ExpandError::BadName("A-b".into())));
    }
}
