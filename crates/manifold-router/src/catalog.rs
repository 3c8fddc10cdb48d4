//! The merged catalog: an immutable snapshot of every upstream's tools, prompts, resources and
//! templates under downstream names, with the lookups that route a call back to its upstream.
//! Rebuilt (never mutated) when an upstream's lists change.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use manifold_config::Curate;
use manifold_policy::{ArgumentSchema, ItemKind, View};
use manifold_protocol::RawValue;
use serde_json::{Map, Value};

use crate::naming::{downstream_name, downstream_uri};

/// The four kinds of listed items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `tools/list`.
    Tools,
    /// `prompts/list`.
    Prompts,
    /// `resources/list`.
    Resources,
    /// `resources/templates/list`.
    Templates,
}

impl Kind {
    /// All kinds.
    pub const ALL: [Kind; 4] = [Kind::Tools, Kind::Prompts, Kind::Resources, Kind::Templates];

    /// The list method.
    pub fn method(self) -> &'static str {
        use manifold_protocol::method;
        match self {
            Kind::Tools => method::TOOLS_LIST,
            Kind::Prompts => method::PROMPTS_LIST,
            Kind::Resources => method::RESOURCES_LIST,
            Kind::Templates => method::RESOURCES_TEMPLATES_LIST,
        }
    }

    /// The array field of the list result.
    pub fn field(self) -> &'static str {
        match self {
            Kind::Tools => "tools",
            Kind::Prompts => "prompts",
            Kind::Resources => "resources",
            Kind::Templates => "resourceTemplates",
        }
    }

    /// The key identifying an item of this kind.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Tools | Kind::Prompts => "name",
            Kind::Resources => "uri",
            Kind::Templates => "uriTemplate",
        }
    }

    /// The capability an upstream must declare to be asked for this list.
    pub fn capability(self) -> &'static str {
        match self {
            Kind::Tools => "tools",
            Kind::Prompts => "prompts",
            Kind::Resources | Kind::Templates => "resources",
        }
    }

    /// The `list_changed` notification for this kind (templates share the resources one).
    pub fn list_changed(self) -> &'static str {
        use manifold_protocol::method;
        match self {
            Kind::Tools => method::TOOLS_LIST_CHANGED,
            Kind::Prompts => method::PROMPTS_LIST_CHANGED,
            Kind::Resources | Kind::Templates => method::RESOURCES_LIST_CHANGED,
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// One upstream's complete lists as it reported them (already filtered by include/exclude).
#[derive(Debug, Default, Clone)]
pub struct UpstreamLists {
    /// Items per kind, in upstream order.
    pub items: [Vec<Value>; 4],
}

/// What the catalog needs to know about each upstream, in config order.
#[derive(Debug, Clone)]
pub struct Source<'a> {
    /// Alias, for warnings.
    pub alias: &'a str,
    /// Namespace (`""` = pass-through).
    pub namespace: &'a str,
    /// Its lists, if discovered and up.
    pub lists: Option<&'a UpstreamLists>,
    /// How its tools are presented, by the upstream's tool name.
    pub curate: &'a BTreeMap<String, Curate>,
}

/// Where a downstream name points.
#[derive(Debug, Clone)]
pub struct Target {
    /// Index of the upstream.
    pub upstream: usize,
    /// The upstream's own name (or URI).
    pub original: String,
    /// For a tool: its schema and pinned arguments.
    pub tool: Option<Arc<ToolInfo>>,
}

/// What calling one tool needs besides its name.
#[derive(Debug)]
pub struct ToolInfo {
    /// The upstream's `inputSchema` (pinned arguments included).
    pub schema: Value,
    /// Arguments set on every call (`fixed_arguments`), hidden from clients.
    pub fixed: Map<String, Value>,
    /// `schema`, compiled at the first call of this catalog version.
    pub compiled: OnceLock<Arc<ArgumentSchema>>,
    /// Its arguments a 2026-07-28 HTTP upstream is sent in `Mcp-Param-*` headers too.
    pub mirrors: Vec<manifold_protocol::param_headers::Mirror>,
}

impl ToolInfo {
    /// The compiled schema (compiled now if this is the first call).
    pub fn compiled(&self, name: &str) -> Arc<ArgumentSchema> {
        self.compiled
            .get_or_init(|| Arc::new(ArgumentSchema::compile(name, &self.schema)))
            .clone()
    }
}

/// One merged list: downstream JSON of each item (ready to splice into a response) and lookups.
#[derive(Debug, Default)]
pub struct List {
    /// Downstream JSON per item, in merged order.
    pub json: Vec<Box<RawValue>>,
    /// Downstream key of each item, in the same order.
    pub names: Vec<String>,
    /// Downstream key → target.
    pub by_name: HashMap<String, Target>,
}

/// An immutable merged view of every upstream.
#[derive(Debug, Default)]
pub struct Catalog {
    lists: [List; 4],
    /// Names dropped because an earlier upstream (config order) already used them.
    pub collisions: Vec<String>,
}

impl Catalog {
    /// Merges `sources` (config order decides collisions) with `separator` between namespace and name.
    pub fn build(sources: &[Source<'_>], separator: &str) -> Catalog {
        let mut catalog = Catalog::default();
        for kind in Kind::ALL {
            let list = &mut catalog.lists[kind.index()];
            for (index, source) in sources.iter().enumerate() {
                let Some(lists) = source.lists else { continue };
                for item in &lists.items[kind.index()] {
                    let Some(original) = item.get(kind.key()).and_then(Value::as_str) else {
                        continue;
                    };
                    let curate = match kind {
                        Kind::Tools => source.curate.get(original),
                        _ => None,
                    };
                    let shown = curate.and_then(|c| c.rename.as_deref()).unwrap_or(original);
                    let name = match kind {
                        Kind::Tools | Kind::Prompts => {
                            downstream_name(source.namespace, separator, shown)
                        }
                        Kind::Resources | Kind::Templates => {
                            downstream_uri(source.namespace, original)
                        }
                    };
                    if list.by_name.contains_key(&name) {
                        tracing::warn!(server = source.alias, kind = kind.field(), %name, "name collision: this server's item is dropped, an earlier server in config order has the name");
                        catalog.collisions.push(name);
                        continue;
                    }
                    let mut item = item.clone();
                    if name != original {
                        item[kind.key()] = Value::String(name.clone());
                    }
                    let tool = match kind {
                        Kind::Tools => match tool_info(&mut item, curate) {
                            Ok(tool) => Some(tool),
                            Err(why) => {
                                // A client must drop such a tool; Manifold does so for all of them.
                                tracing::warn!(server = source.alias, %name, %why, "tool dropped: invalid x-mcp-header");
                                continue;
                            }
                        },
                        _ => None,
                    };
                    let Ok(json) = serde_json::value::to_raw_value(&item) else {
                        continue;
                    };
                    list.json.push(json);
                    list.names.push(name.clone());
                    list.by_name.insert(
                        name,
                        Target {
                            upstream: index,
                            original: original.to_string(),
                            tool,
                        },
                    );
                }
            }
        }
        catalog
    }

    /// The items of `kind` that `view` shows, in merged order.
    pub fn visible(&self, kind: Kind, view: &View) -> Vec<&RawValue> {
        let list = &self.lists[kind.index()];
        let item_kind = item_kind(kind);
        list.json
            .iter()
            .zip(&list.names)
            .filter(|(_, name)| view.allows(item_kind, name))
            .map(|(json, _)| &**json)
            .collect()
    }

    /// The merged list of `kind`.
    pub fn list(&self, kind: Kind) -> &List {
        &self.lists[kind.index()]
    }

    /// Looks up a tool, prompt, resource or template by downstream key.
    pub fn lookup(&self, kind: Kind, name: &str) -> Option<&Target> {
        self.lists[kind.index()].by_name.get(name)
    }

    /// Whether two catalogs list the same items of `kind` (decides whether to send `list_changed`).
    pub fn same(&self, other: &Catalog, kind: Kind) -> bool {
        let (a, b) = (
            &self.lists[kind.index()].json,
            &other.lists[kind.index()].json,
        );
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.get() == y.get())
    }
}

/// The policy's name for what a list kind holds.
pub fn item_kind(kind: Kind) -> ItemKind {
    match kind {
        Kind::Tools => ItemKind::Tool,
        Kind::Prompts => ItemKind::Prompt,
        Kind::Resources | Kind::Templates => ItemKind::Resource,
    }
}

/// Applies curation to a tool as listed (description; pinned arguments removed from the schema
/// clients see) and keeps what calling it needs; an error for invalid `x-mcp-header`s.
fn tool_info(item: &mut Value, curate: Option<&Curate>) -> Result<Arc<ToolInfo>, String> {
    let schema = item
        .get("inputSchema")
        .cloned()
        .unwrap_or_else(|| serde_json::json!({"type": "object"}));
    let mirrors = manifold_protocol::param_headers::plan(&schema)?;
    let fixed = curate
        .map(|c| c.fixed_arguments.clone())
        .unwrap_or_default();
    if let Some(c) = curate {
        if let Some(d) = &c.description {
            item["description"] = Value::String(d.clone());
        }
        if let Some(shown) = item.get_mut("inputSchema").and_then(Value::as_object_mut) {
            if let Some(props) = shown.get_mut("properties").and_then(Value::as_object_mut) {
                for key in fixed.keys() {
                    props.remove(key);
                }
            }
            if let Some(required) = shown.get_mut("required").and_then(Value::as_array_mut) {
                required.retain(|r| r.as_str().is_none_or(|r| !fixed.contains_key(r)));
            }
        }
    }
    Ok(Arc::new(ToolInfo {
        schema,
        fixed,
        compiled: OnceLock::new(),
        mirrors,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    static NONE: BTreeMap<String, Curate> = BTreeMap::new();

    fn lists(tools: &[&str], resources: &[&str]) -> UpstreamLists {
        let mut l = UpstreamLists::default();
        l.items[Kind::Tools.index()] = tools
            .iter()
            .map(|n| json!({"name": n, "inputSchema": {"type": "object"}}))
            .collect();
        l.items[Kind::Resources.index()] = resources
            .iter()
            .map(|u| json!({"uri": u, "name": u}))
            .collect();
        l
    }

    #[test]
    fn a_tool_with_an_invalid_x_mcp_header_is_dropped_and_a_valid_one_kept() {
        let mut l = lists(&[], &[]);
        l.items[Kind::Tools.index()] = vec![
            json!({"name": "bad", "inputSchema": {"type": "object", "properties": {
                "n": {"type": "number", "x-mcp-header": "N"}}}}),
            json!({"name": "good", "inputSchema": {"type": "object", "properties": {
                "region": {"type": "string", "x-mcp-header": "Region"}}}}),
        ];
        let catalog = Catalog::build(
            &[Source {
                alias: "a",
                namespace: "a",
                lists: Some(&l),
                curate: &NONE,
            }],
            "__",
        );
        assert_eq!(catalog.list(Kind::Tools).names, ["a__good"]);
        let target = &catalog.list(Kind::Tools).by_name["a__good"];
        let mirrors = &target.tool.as_ref().unwrap().mirrors;
        assert_eq!(mirrors.len(), 1);
        assert_eq!(mirrors[0].header, "Region");
    }

    #[test]
    fn merges_in_config_order_with_namespaces() {
        let a = lists(&["echo", "add"], &["file:///x"]);
        let b = lists(&["echo"], &[]);
        let catalog = Catalog::build(
            &[
                Source {
                    alias: "a",
                    namespace: "a",
                    lists: Some(&a),
                    curate: &NONE,
                },
                Source {
                    alias: "down",
                    namespace: "d",
                    lists: None,
                    curate: &NONE,
                },
                Source {
                    alias: "b",
                    namespace: "b",
                    lists: Some(&b),
                    curate: &NONE,
                },
            ],
            "__",
        );
        let tools: Vec<&str> = catalog
            .list(Kind::Tools)
            .json
            .iter()
            .map(|j| j.get())
            .collect();
        assert_eq!(
            tools,
            [
                r#"{"name":"a__echo","inputSchema":{"type":"object"}}"#,
                r#"{"name":"a__add","inputSchema":{"type":"object"}}"#,
                r#"{"name":"b__echo","inputSchema":{"type":"object"}}"#,
            ]
        );
        let t = catalog.lookup(Kind::Tools, "b__echo").unwrap();
        assert_eq!((t.upstream, t.original.as_str()), (2, "echo"));
        let r = catalog.lookup(Kind::Resources, "a+file:///x").unwrap();
        assert_eq!((r.upstream, r.original.as_str()), (0, "file:///x"));
        assert!(catalog.collisions.is_empty());
    }

    #[test]
    fn collisions_keep_the_earlier_server() {
        let a = lists(&["echo"], &[]);
        let b = lists(&["echo", "other"], &[]);
        let catalog = Catalog::build(
            &[
                Source {
                    alias: "a",
                    namespace: "",
                    lists: Some(&a),
                    curate: &NONE,
                },
                Source {
                    alias: "b",
                    namespace: "",
                    lists: Some(&b),
                    curate: &NONE,
                },
            ],
            "__",
        );
        assert_eq!(catalog.lookup(Kind::Tools, "echo").unwrap().upstream, 0);
        assert_eq!(catalog.lookup(Kind::Tools, "other").unwrap().upstream, 1);
        assert_eq!(catalog.collisions, ["echo"]);
        assert_eq!(catalog.list(Kind::Tools).json.len(), 2);
    }

    #[test]
    fn change_detection() {
        let a = lists(&["echo"], &[]);
        let b = lists(&["echo", "add"], &[]);
        let one = Catalog::build(
            &[Source {
                alias: "a",
                namespace: "a",
                lists: Some(&a),
                curate: &NONE,
            }],
            "__",
        );
        let two = Catalog::build(
            &[Source {
                alias: "a",
                namespace: "a",
                lists: Some(&b),
                curate: &NONE,
            }],
            "__",
        );
        assert!(!one.same(&two, Kind::Tools));
        assert!(one.same(&two, Kind::Prompts));
    }
}
