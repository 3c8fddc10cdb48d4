//! The `manifold` command: CLI parsing, logging setup, signals and wiring of the library crates.
//! No logic worth unit-testing lives here; the end-to-end tests drive this binary.

mod catalog_cmd;
mod stdio;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Manifold: an MCP gateway. To a host it is one MCP server; behind it, many.
#[derive(Parser, Debug)]
#[command(name = "manifold", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve MCP: over Streamable HTTP (default), or on stdin/stdout with --stdio (for a host).
    Serve {
        /// Configuration file (TOML, YAML, JSON, or a hosts' {"mcpServers": …} JSON file).
        #[arg(long, short, default_value = "manifold.toml")]
        config: PathBuf,
        /// Speak MCP on stdin/stdout (logs go to stderr).
        #[arg(long)]
        stdio: bool,
        /// Address of the Streamable HTTP face (default: `[listen] http`, else 127.0.0.1:8080).
        #[arg(long, conflicts_with = "stdio")]
        listen: Option<String>,
    },
    /// Validate a configuration file and print a summary; exit status 2 if it is invalid.
    Check {
        /// Configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Connect to every upstream and print the merged catalog.
    Catalog {
        /// Configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let code = match cli.command {
        Command::Check { config } => check(&config),
        Command::Serve {
            config,
            stdio: true,
            ..
        } => run_async(serve_stdio(config)),
        Command::Serve { config, listen, .. } => run_multi_thread(serve_http(config, listen)),
        Command::Catalog { config, json } => run_async(catalog_cmd::run(config, json)),
    };
    // Exit without waiting for the runtime's blocking stdin reader, which would never return.
    std::process::exit(i32::from(code));
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

/// Runs `fut` on a multi-threaded runtime: the HTTP face serves many sessions at once.
fn run_multi_thread(fut: impl std::future::Future<Output = u8>) -> u8 {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(fut),
        Err(e) => {
            eprintln!("manifold: cannot start the runtime: {e}");
            1
        }
    }
}

/// Runs `fut` on a single-threaded runtime. The stdio face relays one client's messages; on one
/// thread every hand-off between its tasks is a local wake-up instead of a cross-thread futex
/// round trip, which measured 20–40 % less gateway CPU per call (benches/README.md).
fn run_async(fut: impl std::future::Future<Output = u8>) -> u8 {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(fut),
        Err(e) => {
            eprintln!("manifold: cannot start the runtime: {e}");
            1
        }
    }
}

fn load(path: &std::path::Path) -> Result<manifold_config::Config, u8> {
    manifold_config::load(path).map_err(|e| {
        eprintln!("manifold: invalid configuration\n{e}");
        2
    })
}

fn check(path: &std::path::Path) -> u8 {
    match load(path) {
        Ok(config) => {
            for notice in &config.notices {
                println!("note: {notice}");
            }
            println!("{}", config.summary());
            0
        }
        Err(code) => code,
    }
}

async fn serve_stdio(config: PathBuf) -> u8 {
    let config = match load(&config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    for notice in &config.notices {
        tracing::info!("{notice}");
    }
    let admin = manifold_server::admin::bind(&config).await;
    match manifold_server::serve_stdio(
        &config,
        stdio::input(),
        stdio::output(),
        shutdown_signal(),
        admin,
    )
    .await
    {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!(error = %e, "stdio face failed");
            1
        }
    }
}

/// The default address of the HTTP face: loopback only, unless configured otherwise.
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

async fn serve_http(config: PathBuf, listen: Option<String>) -> u8 {
    let config = match load(&config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    for notice in &config.notices {
        tracing::info!("{notice}");
    }
    let addr = match listen {
        Some(a) => a,
        None => config
            .listen
            .http
            .map_or_else(|| DEFAULT_LISTEN.to_string(), |a| a.to_string()),
    };
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("manifold: cannot listen on {addr}: {e}");
            return 1;
        }
    };
    let bound = listener.local_addr().map_or(addr, |a| a.to_string());
    // Tests and scripts read the bound addresses from stdout; a closed stdout is not an error.
    let scheme = if config.listen.tls.is_some() {
        "https"
    } else {
        "http"
    };
    announce(&format!(
        "listening on {scheme}://{bound}{}",
        config.listen.path
    ));
    tracing::info!(address = %bound, path = %config.listen.path, "Streamable HTTP face up");
    let admin = manifold_server::admin::bind(&config).await;
    if let Some(a) = admin.as_ref().and_then(|l| l.local_addr().ok()) {
        announce(&format!("admin listening on http://{a}"));
    }
    match manifold_server::serve_http(&config, listener, shutdown_signal(), admin).await {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!(error = %e, "HTTP face failed");
            1
        }
    }
}

/// Prints one line on stdout, ignoring a closed stdout.
fn announce(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
}
