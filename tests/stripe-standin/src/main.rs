//! The Stripe stand-in as a program, for the browser suite: serves Stripe's API, its hosted
//! checkout page and signed events on a loopback port until killed.
//!
//! `stripe-standin --port PORT --webhook-url URL --webhook-secret SECRET` prints `ready URL`
//! once it listens. Its secret key is [`stripe_standin::SECRET_KEY`].

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let (Some(port), Some(webhook), Some(secret)) = (arg("--port"), arg("--webhook-url"), arg("--webhook-secret"))
    else {
        eprintln!("usage: stripe-standin --port PORT --webhook-url URL --webhook-secret SECRET");
        std::process::exit(2);
    };
    let Ok(port) = port.parse::<u16>() else {
        eprintln!("stripe-standin: `{port}` is not a port");
        std::process::exit(2);
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("stripe-standin: {e}");
            std::process::exit(1);
        }
    };
    runtime.block_on(async {
        let standin = match stripe_standin::StripeStandIn::start_on(port, &secret).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("stripe-standin: cannot listen on {port}: {e}");
                std::process::exit(1);
            }
        };
        standin.deliver_to(&webhook);
        println!("ready {}", standin.url);
        std::future::pending::<()>().await;
    });
}
