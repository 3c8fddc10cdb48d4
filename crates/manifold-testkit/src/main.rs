//! The `manifold-testkit` binary: parses flags and serves stdio or Streamable HTTP.

use manifold_testkit::{serve_http, serve_stdio, Crashed, Options, CRASH_EXIT_CODE};

#[tokio::main]
async fn main() {
    let opts = Options::parse_or_exit();
    if opts.fail_start {
        eprintln!(
            "testkit {}: failing at start as requested (--fail-start)",
            opts.name
        );
        std::process::exit(1);
    }
    eprintln!("testkit {} started", opts.name);
    let result = match opts.http.clone() {
        Some(addr) => match tokio::net::TcpListener::bind(&addr).await {
            Ok(listener) => {
                match listener.local_addr() {
                    Ok(bound) => println!("listening on http://{bound}/mcp"),
                    Err(err) => {
                        eprintln!("testkit: cannot read the bound address: {err}");
                        std::process::exit(1);
                    }
                }
                serve_http(opts, listener).await
            }
            Err(err) => Err(anyhow::anyhow!("cannot listen on {addr}: {err}")),
        },
        None => serve_stdio(opts, tokio::io::stdin(), tokio::io::stdout()).await,
    };
    match result {
        Ok(()) => std::process::exit(0),
        Err(err) if err.downcast_ref::<Crashed>().is_some() => std::process::exit(CRASH_EXIT_CODE),
        Err(err) => {
            eprintln!("testkit: {err:#}");
            std::process::exit(1);
        }
    }
}
