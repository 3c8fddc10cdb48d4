//! The end-to-end tier: one test binary driving the real `manifold` binary against real peers
//! (testkit upstreams, the official SDKs and reference servers, Prometheus). One module per
//! concern; the shared harness is `common` (stdio, HTTP, waiting). One binary rather than one
//! per concern, because linking each against the whole dependency tree is the tier's cost.

mod common;

mod admin;
mod auth;
mod cli;
mod client_input;
mod conformance;
mod dashboard;
mod faults;
mod hardening;
mod health;
mod http_face;
mod http_load;
mod modern;
mod policy;
mod progress;
mod prometheus;
mod python_sdk;
mod reference_servers;
mod relay;
mod routing;
mod supervision;
mod ts_client;
