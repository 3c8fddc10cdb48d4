//! One configured server as the router sees it: its alias and namespace, its list filters, how
//! its tools are presented, its policy, whether clients share its upstream session, and the spec
//! its upstream sessions are started from.

use std::collections::BTreeMap;
use std::sync::Arc;

use manifold_config::{Config, Curate, Filter, HttpProtocol, Sharing, Transport};
use manifold_policy::{Policy, ServerPolicy};
use manifold_transport::{HttpParams, StdioParams};
use manifold_upstream::{Connector, RestartPolicy, TransportSpec, UpstreamSpec};

use crate::catalog::Kind;

/// One configured server (config order is its index everywhere in the router).
pub(crate) struct Server {
    /// Its position in the config: its index in every [`crate::set::UpstreamSet`] and catalog.
    pub(crate) index: usize,
    pub(crate) namespace: String,
    pub(crate) tools: Filter,
    pub(crate) prompts: Filter,
    pub(crate) resources: Filter,
    /// Its limits and deadlines.
    pub(crate) policy: Arc<ServerPolicy>,
    /// How its tools are presented (renames, descriptions, fixed arguments).
    pub(crate) curate: BTreeMap<String, Curate>,
    /// One upstream session for every client, or one per downstream session.
    pub(crate) sharing: Sharing,
    /// What each of its upstream sessions is started from.
    pub(crate) spec: UpstreamSpec,
}

impl Server {
    /// The servers of `config`, in config order; those named in `in_process` are reached
    /// through its connectors instead of their configured transports.
    pub(crate) fn all(
        config: &Config,
        policy: &Policy,
        in_process: &BTreeMap<String, Connector>,
    ) -> Vec<Arc<Server>> {
        for alias in in_process.keys() {
            if !config.servers.iter().any(|s| &s.alias == alias) {
                tracing::warn!(server = %alias, "an in-process connector names no configured server");
            }
        }
        config
            .servers
            .iter()
            .enumerate()
            .map(|(index, server)| {
                Arc::new(Server {
                    index,
                    namespace: server.namespace.clone(),
                    tools: server.tools.clone(),
                    prompts: server.prompts.clone(),
                    resources: server.resources.clone(),
                    policy: policy.server(&server.alias),
                    curate: server.curate.clone(),
                    sharing: server.sharing,
                    spec: spec(config, server, in_process.get(&server.alias)),
                })
            })
            .collect()
    }

    pub(crate) fn alias(&self) -> &str {
        &self.spec.alias
    }

    pub(crate) fn filter(&self, kind: Kind) -> &Filter {
        match kind {
            Kind::Tools => &self.tools,
            Kind::Prompts => &self.prompts,
            Kind::Resources | Kind::Templates => &self.resources,
        }
    }

    /// Whether a name (downstream, namespaced) belongs to this server's namespace.
    pub(crate) fn owns_name(&self, name: &str, separator: &str) -> bool {
        self.namespace.is_empty()
            || name
                .strip_prefix(self.namespace.as_str())
                .is_some_and(|rest| rest.starts_with(separator))
    }
}

/// How an upstream session of `server` is started (through `in_process` when given) and
/// supervised.
fn spec(
    config: &Config,
    server: &manifold_config::Server,
    in_process: Option<&Connector>,
) -> UpstreamSpec {
    let g = &config.gateway;
    let transport = match (&server.transport, in_process) {
        (_, Some(connector)) => TransportSpec::InProcess(connector.clone()),
        (Transport::Stdio(s), None) => TransportSpec::Stdio(StdioParams {
            alias: server.alias.clone(),
            command: s.command.clone(),
            args: s.args.clone(),
            env: s.env.clone(),
            cwd: s.cwd.clone(),
            max_message_bytes: g.max_message_bytes,
            queue_bytes: g.upstream_queue_bytes,
        }),
        (Transport::Http(h), None) => TransportSpec::Http(HttpParams {
            alias: server.alias.clone(),
            url: h.url.clone(),
            headers: h.headers.clone(),
            max_message_bytes: g.max_message_bytes,
            queue_bytes: g.upstream_queue_bytes,
            protocol: match h.protocol {
                HttpProtocol::Auto => manifold_transport::HttpProtocol::Auto,
                HttpProtocol::Streamable => manifold_transport::HttpProtocol::Streamable,
                HttpProtocol::LegacySse => manifold_transport::HttpProtocol::LegacySse,
            },
        }),
    };
    UpstreamSpec {
        alias: server.alias.clone(),
        transport,
        timeout: server.timeout.unwrap_or(g.request_timeout),
        restart: RestartPolicy {
            initial_backoff: g.restart.initial_backoff,
            max_backoff: g.restart.max_backoff,
            unhealthy_after: g.restart.unhealthy_after,
        },
        shutdown_grace: g.shutdown_grace,
        ping_interval: g.ping_interval,
        era: match server.era {
            manifold_config::UpstreamEra::Auto => manifold_upstream::Era::Auto,
            manifold_config::UpstreamEra::Legacy => manifold_upstream::Era::Legacy,
            manifold_config::UpstreamEra::Modern => manifold_upstream::Era::Modern,
        },
    }
}
