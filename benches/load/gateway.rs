//! `LOAD_EXTRA=1`: the bench executable re-run as a gateway, for comparisons of runtimes.

use std::path::Path;

/// `LOAD_EXTRA=1` only: this executable, re-run as a gateway. It serves Manifold's router
/// (`manifold_server::serve_stdio`, the code `manifold serve --stdio` runs) on stdin/stdout opened
/// as non-blocking pipes (epoll) instead of `tokio::io::stdin()/stdout()` (a blocking-pool thread
/// per read and per write), on a multi-thread or a current-thread runtime. An experiment to see
/// where the gateway's time goes; not what users run.
pub(crate) fn serve_nonblocking(config: &Path, flavor: &str) -> ! {
    use std::os::fd::AsFd;
    let mut builder = if flavor == "current" {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let rt = builder.enable_all().build().expect("tokio runtime");
    let code = rt.block_on(async {
        let config = match manifold_config::load(config) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("load gateway: invalid configuration\n{e}");
                return 2;
            }
        };
        let stdin = std::io::stdin().as_fd().try_clone_to_owned();
        let stdout = std::io::stdout().as_fd().try_clone_to_owned();
        let reader = stdin.and_then(tokio::net::unix::pipe::Receiver::from_owned_fd);
        let writer = stdout.and_then(tokio::net::unix::pipe::Sender::from_owned_fd);
        let (Ok(reader), Ok(writer)) = (reader, writer) else {
            eprintln!("load gateway: stdin and stdout must be pipes");
            return 2;
        };
        match manifold_server::serve_stdio(&config, reader, writer, std::future::pending(), None)
            .await
        {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("load gateway: {e}");
                1
            }
        }
    });
    std::process::exit(code)
}
