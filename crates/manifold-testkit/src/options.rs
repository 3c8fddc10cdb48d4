//! Command-line options, with optional defaults from a TOML or JSON `--config` file.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, ValueEnum};
use serde::Deserialize;
use serde_json::Value;

/// Every knob of the fake server. `Options::default()` gives the documented defaults.
///
/// The same keys (kebab-case or snake_case) may come from a TOML or JSON file given
/// with `--config FILE`; flags given on the command line override the file.
#[derive(Parser, Debug, Clone, PartialEq, Eq)]
#[command(
    name = "manifold-testkit",
    version,
    about = "A configurable fake MCP server (stdio or Streamable HTTP) for tests, benchmarks and demos",
    long_about = "A configurable fake MCP server (stdio or Streamable HTTP) for tests, benchmarks and demos.\n\n\
Tools: echo, add, fail, sleep, hang, crash, garbage, big, link, whoami, toggle, sample (only if the \
client declared sampling), gen_<i> (--tools), a 60-character name (--long-names) and raw (--raw).\n\n\
--profile conformance replaces that catalog with the fixture of the official MCP conformance suite \
(test_* tools, test:// resources, test_* prompts), served in the legacy era and in the stateless \
2026-07-28 one (server/discover, MRTR tools, subscriptions/listen).\n\n\
Every option may also be set in a TOML or JSON file given with --config (keys in kebab-case or \
snake_case, e.g. page-size = 2); flags on the command line override the file."
)]
pub struct Options {
    /// Server name, reported in serverInfo and used in resource URIs.
    #[arg(long, default_value = "testkit")]
    pub name: String,

    /// `instructions` text returned by initialize.
    #[arg(long, value_name = "TEXT")]
    pub instructions: Option<String>,

    /// Number of extra generated echo-like tools gen_0 … gen_{N-1}.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub tools: usize,

    /// Number of resources testkit://NAME/res/0 … res/{N-1}.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub resources: usize,

    /// Number of extra generated prompts prompt_0 … prompt_{N-1} (no arguments).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub prompts: usize,

    /// Page size of every list method (0 = everything in one page).
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub page_size: usize,

    /// Add one tool whose name is 60 characters long ("long_" + 55 × "x").
    #[arg(long)]
    pub long_names: bool,

    /// Declare every tool's inputSchema as JSON Schema draft-07 with `additionalProperties: false`.
    #[arg(long)]
    pub strict_schemas: bool,

    /// Add the tool `raw`, whose result is its `result` argument sent verbatim (any JSON text:
    /// numbers as written, escapes, repeated keys), after its `notify` argument (a whole message,
    /// verbatim) if given; and answer `resources/read` of `testkit-raw:<json>` with `<json>`.
    #[arg(long)]
    pub raw: bool,

    /// Add the tool `roots`, which asks the client for its roots (`roots/list`) and answers
    /// with what came back, or with the refusal as text (the call succeeds either way).
    #[arg(long)]
    pub roots_tool: bool,

    /// Prefix prepended to every tool name.
    #[arg(long, value_name = "P", default_value = "")]
    pub tool_prefix: String,

    /// Delay in milliseconds before every response.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub latency_ms: u64,

    /// Exit with code 3 right after receiving the N-th tools/call, without answering it.
    #[arg(long, value_name = "N")]
    pub crash_after: Option<u64>,

    /// Never answer initialize.
    #[arg(long)]
    pub hang_initialize: bool,

    /// Never answer ping (a server that looks alive but no longer responds).
    #[arg(long)]
    pub ignore_ping: bool,

    /// Refuse every `resources/subscribe` with an error, after this many milliseconds (an
    /// upstream that takes its time to say no).
    #[arg(long, value_name = "MS")]
    pub refuse_subscribe_ms: Option<u64>,

    /// Offer `sample` and send sampling requests even to a client that did not declare sampling
    /// (a misbehaving server, to test how a gateway refuses what it cannot route).
    #[arg(long)]
    pub misbehave_sampling: bool,

    /// Print an error to stderr and exit 1 immediately.
    #[arg(long)]
    pub fail_start: bool,

    /// Append every received JSON-RPC line, verbatim, to FILE (HTTP: a `HEADERS {…}`
    /// line precedes each message; requests seen before initialize add a
    /// `BEFORE_INITIALIZE {…}` line, before notifications/initialized a `BEFORE_INITIALIZED {…}` line).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,

    /// Serve Streamable HTTP at http://ADDR/mcp instead of stdio (e.g. 127.0.0.1:0).
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,

    /// HTTP mode: answer POSTed requests with text/event-stream instead of application/json.
    #[arg(long)]
    pub sse: bool,

    /// HTTP mode: forget a session after it has received N requests (not counting
    /// initialize), so the next request with its id gets 404.
    #[arg(long, value_name = "N")]
    pub session_ttl_requests: Option<u64>,

    /// HTTP, 2026-07-28 era: also refuse (`-32020`) a request without `Mcp-Method`, or without
    /// `Mcp-Name` when its body names a tool, prompt or resource (by default only headers that
    /// disagree with the body are refused).
    #[arg(long)]
    pub strict_headers: bool,

    /// 2026-07-28 era: the lists say `ttlMs` N (by default 0: rely on `list_changed`).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub list_ttl_ms: u64,

    /// 2026-07-28 era: list changes are not announced on listen streams (a client learns of
    /// them only by listing again, as `--list-ttl-ms` tells it to).
    #[arg(long)]
    pub unannounced_changes: bool,

    /// Which catalog to serve: the testkit's own (`default`) or the fixture tools, resources
    /// and prompts the official MCP conformance suite expects (`conformance`). Under
    /// `conformance`, --tools, --resources, --prompts, --long-names and --tool-prefix are ignored.
    #[arg(long, value_enum, value_name = "PROFILE", default_value_t = Profile::Default)]
    pub profile: Profile,

    /// Read default values for these options from a TOML or JSON file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// The catalog a server exposes (`--profile`).
#[derive(ValueEnum, Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// The testkit's own tools (`echo`, `add`, …), resources and prompts.
    #[default]
    Default,
    /// The fixture of `@modelcontextprotocol/conformance` (`test_simple_text`, `test://static-text`, …).
    Conformance,
}

impl Default for Options {
    fn default() -> Self {
        Options::parse_from(["manifold-testkit"])
    }
}

/// The keys a `--config` file may contain (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct FileConfig {
    name: Option<String>,
    instructions: Option<String>,
    tools: Option<usize>,
    resources: Option<usize>,
    prompts: Option<usize>,
    page_size: Option<usize>,
    long_names: Option<bool>,
    strict_schemas: Option<bool>,
    raw: Option<bool>,
    tool_prefix: Option<String>,
    latency_ms: Option<u64>,
    crash_after: Option<u64>,
    hang_initialize: Option<bool>,
    ignore_ping: Option<bool>,
    misbehave_sampling: Option<bool>,
    fail_start: Option<bool>,
    record: Option<PathBuf>,
    http: Option<String>,
    sse: Option<bool>,
    session_ttl_requests: Option<u64>,
    strict_headers: Option<bool>,
    profile: Option<Profile>,
}

impl Options {
    /// Parses command-line arguments (the first item is the program name) and merges
    /// the `--config` file if one is given. Flags on the command line win over the file.
    pub fn parse_from_args<I, T>(args: I) -> anyhow::Result<Options>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = Options::command().try_get_matches_from(args)?;
        let mut opts = Options::from_arg_matches(&matches)?;
        if let Some(path) = opts.config.clone() {
            let file = load_file(&path)?;
            opts.merge_file(file, &matches);
        }
        Ok(opts)
    }

    /// Like [`Options::parse_from_args`] but on a parse error prints the message (or
    /// `--help`/`--version` output) and exits, as command-line programs do.
    pub fn parse_or_exit() -> Options {
        match Options::parse_from_args(std::env::args_os()) {
            Ok(opts) => opts,
            Err(err) => match err.downcast::<clap::Error>() {
                Ok(clap_err) => clap_err.exit(),
                Err(other) => {
                    eprintln!("manifold-testkit: {other:#}");
                    std::process::exit(2);
                }
            },
        }
    }

    fn merge_file(&mut self, file: FileConfig, matches: &ArgMatches) {
        let from_cli = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
        macro_rules! plain {
            ($($field:ident),*) => {$(
                if let Some(v) = file.$field {
                    if !from_cli(stringify!($field)) { self.$field = v; }
                }
            )*};
        }
        macro_rules! optional {
            ($($field:ident),*) => {$(
                if let Some(v) = file.$field {
                    if !from_cli(stringify!($field)) { self.$field = Some(v); }
                }
            )*};
        }
        plain!(
            name,
            tools,
            resources,
            prompts,
            page_size,
            long_names,
            strict_schemas,
            raw,
            tool_prefix,
            latency_ms,
            hang_initialize,
            ignore_ping,
            misbehave_sampling,
            fail_start,
            sse,
            strict_headers,
            profile
        );
        optional!(
            instructions,
            crash_after,
            record,
            http,
            session_ttl_requests
        );
    }
}

/// Reads a config file: JSON if it ends in `.json` or parses as JSON, TOML otherwise.
fn load_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let value: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(json_err) if is_json => {
            return Err(json_err).with_context(|| format!("parsing {}", path.display()))
        }
        Err(_) => {
            let table: toml::Table = toml::from_str(&text)
                .with_context(|| format!("parsing {} as TOML", path.display()))?;
            serde_json::to_value(table)?
        }
    };
    let Value::Object(map) = value else {
        anyhow::bail!("config file {} must hold a table/object", path.display());
    };
    let normalized: serde_json::Map<String, Value> = map
        .into_iter()
        .map(|(k, v)| (k.replace('_', "-"), v))
        .collect();
    serde_json::from_value(Value::Object(normalized))
        .with_context(|| format!("invalid config file {}", path.display()))
}
