//! The OpenID provider stand-in as a program, for the browser suite: serves discovery, the
//! JWKS, the authorisation page and the token endpoint on a loopback port until killed.
//!
//! `oidc-standin --port PORT` prints `ready URL` once it listens. Its client is
//! [`oidc_standin::CLIENT_ID`] with [`oidc_standin::CLIENT_SECRET`].

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port = args.iter().position(|a| a == "--port").and_then(|i| args.get(i + 1)).cloned();
    let Some(Ok(port)) = port.map(|p| p.parse::<u16>()) else {
        eprintln!("usage: oidc-standin --port PORT");
        std::process::exit(2);
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("oidc-standin: {e}");
            std::process::exit(1);
        }
    };
    runtime.block_on(async {
        let standin = match oidc_standin::OidcStandIn::start_on(port).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("oidc-standin: cannot listen on {port}: {e}");
                std::process::exit(1);
            }
        };
        println!("ready {}", standin.url);
        std::future::pending::<()>().await;
    });
}
