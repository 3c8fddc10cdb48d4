//! `manifold catalog`: connect to every upstream as a client with no optional capabilities and
//! print the merged catalog as a table or JSON.

use std::path::PathBuf;

use manifold_protocol::version;
use manifold_router::catalog::{Catalog, Kind};
use manifold_router::Gateway;
use manifold_upstream::{ClientIdentity, Health};
use serde_json::{json, Value};

pub(crate) async fn run(path: PathBuf, as_json: bool) -> u8 {
    let config = match crate::load(&path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let gateway = Gateway::start(&config);
    let raw = |v: Value| serde_json::value::to_raw_value(&v).expect("static JSON");
    gateway.set_identity(ClientIdentity {
        protocol_version: version::LATEST.to_string(),
        capabilities: raw(json!({})),
        client_info: raw(
            json!({ "name": "manifold-catalog", "version": env!("CARGO_PKG_VERSION") }),
        ),
    });
    gateway.wait_settled(config.gateway.startup_wait).await;
    let catalog = gateway.catalog();
    let upstreams = gateway.upstreams();
    if as_json {
        println!("{}", to_json(&catalog, &upstreams));
    } else {
        print_table(&catalog, &upstreams);
    }
    gateway.shutdown().await;
    0
}

fn status(health: &Health) -> String {
    match health {
        Health::Up(_) => "up".to_string(),
        Health::Starting => "starting".to_string(),
        Health::Down {
            reason,
            unhealthy: true,
        } => format!("unhealthy: {reason}"),
        Health::Down { reason, .. } => format!("down: {reason}"),
        Health::Stopped => "stopped".to_string(),
    }
}

fn items(catalog: &Catalog, kind: Kind) -> Vec<Value> {
    catalog
        .list(kind)
        .json
        .iter()
        .filter_map(|raw| serde_json::from_str(raw.get()).ok())
        .collect()
}

fn to_json(catalog: &Catalog, upstreams: &[(String, String, Health)]) -> String {
    let servers: Vec<Value> = upstreams
        .iter()
        .map(|(alias, ns, h)| json!({ "alias": alias, "namespace": ns, "status": status(h) }))
        .collect();
    let mut doc = json!({ "servers": servers });
    for kind in Kind::ALL {
        doc[kind.field()] = Value::Array(items(catalog, kind));
    }
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

fn print_table(catalog: &Catalog, upstreams: &[(String, String, Health)]) {
    println!("{:<20} {:<16} STATUS", "SERVER", "NAMESPACE");
    for (alias, ns, health) in upstreams {
        let ns = if ns.is_empty() { "(pass-through)" } else { ns };
        println!("{alias:<20} {ns:<16} {}", status(health));
    }
    for kind in Kind::ALL {
        let list = catalog.list(kind);
        println!("\n{} ({})", kind.field(), list.json.len());
        let mut rows: Vec<(String, String)> = list
            .by_name
            .iter()
            .map(|(name, t)| {
                (
                    name.clone(),
                    upstreams
                        .get(t.upstream)
                        .map(|u| u.0.clone())
                        .unwrap_or_default(),
                )
            })
            .collect();
        rows.sort();
        for (name, server) in rows {
            println!("  {name:<56} {server}");
        }
    }
}
