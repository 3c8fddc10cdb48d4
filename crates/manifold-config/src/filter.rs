//! `Filter`: the include/exclude globs that curate one upstream's tools, prompts or resources.

use globset::{Glob, GlobSet, GlobSetBuilder};

/// Include/exclude globs over un-namespaced names (tools, prompts) or URIs (resources).
/// A name is allowed when it matches the include list (or there is none) and no exclude glob.
/// `*` also matches `/`, so `file://*` covers every file URI.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    include: Option<GlobSet>,
    exclude: GlobSet,
    include_patterns: Option<Vec<String>>,
    exclude_patterns: Vec<String>,
}

impl Filter {
    /// Builds a filter; `include: None` allows everything not excluded.
    pub fn new<S: AsRef<str>>(
        include: Option<&[S]>,
        exclude: &[S],
    ) -> Result<Self, globset::Error> {
        let owned = |list: &[S]| list.iter().map(|p| p.as_ref().to_owned()).collect();
        Self::from_patterns(include.map(owned), owned(exclude)).map_err(|(_, e)| e)
    }

    /// Builds a filter from owned pattern lists; the error names the failing list
    /// (`"include"` or `"exclude"`).
    pub(crate) fn from_patterns(
        include_patterns: Option<Vec<String>>,
        exclude_patterns: Vec<String>,
    ) -> Result<Self, (&'static str, globset::Error)> {
        Ok(Filter {
            include: include_patterns
                .as_deref()
                .map(build)
                .transpose()
                .map_err(|e| ("include", e))?,
            exclude: build(&exclude_patterns).map_err(|e| ("exclude", e))?,
            include_patterns,
            exclude_patterns,
        })
    }

    /// True when `name` is included (or there is no include list) and not excluded.
    pub fn allows(&self, name: &str) -> bool {
        self.include.as_ref().is_none_or(|set| set.is_match(name)) && !self.exclude.is_match(name)
    }

    /// True when the filter allows everything (no include list, no exclude globs).
    pub fn is_trivial(&self) -> bool {
        self.include.is_none() && self.exclude_patterns.is_empty()
    }

    /// The include globs as written, if there is an include list.
    pub fn include_patterns(&self) -> Option<&[String]> {
        self.include_patterns.as_deref()
    }

    /// The exclude globs as written.
    pub fn exclude_patterns(&self) -> &[String] {
        &self.exclude_patterns
    }
}

/// Compiles one list of globs.
fn build(patterns: &[String]) -> Result<GlobSet, globset::Error> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        builder.add(Glob::new(pattern)?);
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trivial_filter_allows_everything() {
        let filter = Filter::default();
        assert!(filter.is_trivial());
        assert!(filter.allows("anything"));
        assert!(Filter::new::<&str>(None, &[]).unwrap().is_trivial());
    }

    #[test]
    fn include_then_exclude() {
        let filter = Filter::new(Some(&["get_*"]), &["*_admin"]).unwrap();
        assert!(!filter.is_trivial());
        assert!(filter.allows("get_user"));
        assert!(!filter.allows("get_admin"));
        assert!(!filter.allows("set_user"));
        assert_eq!(filter.include_patterns(), Some(&["get_*".to_owned()][..]));
        assert_eq!(filter.exclude_patterns(), &["*_admin".to_owned()]);
    }

    #[test]
    fn empty_include_list_allows_nothing() {
        let filter = Filter::new(Some(&[] as &[&str]), &[]).unwrap();
        assert!(!filter.is_trivial());
        assert!(!filter.allows("x"));
    }

    #[test]
    fn star_crosses_slashes_in_uris() {
        let filter = Filter::new(Some(&["file://*"]), &[]).unwrap();
        assert!(filter.allows("file:///etc/hosts"));
        assert!(!filter.allows("https://example.com/x"));
    }

    #[test]
    fn bad_glob_is_an_error() {
        assert!(Filter::new(Some(&["[a"]), &[]).is_err());
    }
}
