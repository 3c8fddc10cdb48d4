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
        None => match stdio_pipes() {
            Some((input, output)) => serve_stdio(opts, input, output).await,
            None => serve_stdio(opts, tokio::io::stdin(), tokio::io::stdout()).await,
        },
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

/// stdin/stdout as reactor-driven pipes when they are pipes (the usual case under a gateway or a
/// benchmark); tokio's `stdin()`/`stdout()` would hand each read and write to a blocking thread.
fn stdio_pipes() -> Option<(
    tokio::net::unix::pipe::Receiver,
    tokio::net::unix::pipe::Sender,
)> {
    use std::os::fd::AsFd;
    let input = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
    let output = std::io::stdout().as_fd().try_clone_to_owned().ok()?;
    let input = tokio::net::unix::pipe::Receiver::from_owned_fd(input).ok()?;
    let output = tokio::net::unix::pipe::Sender::from_owned_fd(output).ok()?;
    Some((input, output))
}
