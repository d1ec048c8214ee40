//! The command line, as clap sees it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Atelier Arôme: build the site, serve the shop, check the content.
#[derive(Debug, Parser)]
#[command(name = "atelier", version, about)]
pub struct Cli {
    /// The site's root folder.
    #[arg(short, long, global = true, default_value = ".")]
    pub root: PathBuf,
    /// The configuration file, relative to the root (default: zola.toml when the root has one,
    /// as Zola reads it first, else config.toml).
    #[arg(short, long, global = true)]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the site into static files.
    Build(BuildArgs),
    /// Build, serve on one port and rebuild on every edit, with live reload.
    Serve(ServeArgs),
    /// Check content, links and templates without writing anything.
    Check(CheckArgs),
    /// Run the checkout service alone (for production, behind the CDN).
    Checkout(CheckoutArgs),
    /// Apply the service's database migrations.
    Migrate,
    /// The catalog the service sells from.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Stock levels.
    #[command(subcommand)]
    Stock(StockCommand),
    /// Write data/stock.json for the site's stock badges, and data/testimonials.json with the
    /// approved testimonials for the home page.
    Export,
    /// Orders: list them, and move paid ones along (fulfil, ship, deliver).
    #[command(subcommand)]
    Order(OrderCommand),
    /// The e-mail outbox.
    #[command(subcommand)]
    Mail(MailCommand),
    /// The Folio subscription.
    #[command(subcommand)]
    Folio(FolioCommand),
    /// The staff who may open the console at /staff (changes are in its audit log).
    #[command(subcommand)]
    Staff(StaffCommand),
}

/// `atelier staff …`.
#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Add someone to the staff. An address without an account gets one, and an invitation to
    /// choose its password; the first owner is made this way.
    Add {
        /// Their e-mail address.
        email: String,
        /// owner, manager, fulfilment, support, or a role made since.
        #[arg(long)]
        role: String,
        /// Their name (needed when the address has no account yet).
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List the staff and their roles.
    List,
    /// Give a staff member another role.
    Role {
        /// Their e-mail address.
        email: String,
        /// The new role.
        role: String,
    },
    /// Take someone off the staff (their account stays).
    Remove {
        /// Their e-mail address.
        email: String,
    },
}

/// `atelier folio …`.
#[derive(Debug, Subcommand)]
pub enum FolioCommand {
    /// Send every edition whose day has come to the subscriptions that paid for it and have not
    /// had it (an order and an e-mail each, once); the service does this every minute.
    Deliver {
        /// Deliver as if it were this day (YYYY-MM-DD), to try an edition ahead of its date.
        #[arg(long)]
        as_of: Option<String>,
    },
    /// Move the sandbox's clock forward (sandbox payments only), then run the renewals and
    /// editions that fell due: a year of the Folio in a minute, to try it.
    Advance {
        /// Days to move forward.
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..=3_660))]
        days: i64,
    },
}

/// `atelier mail …`.
#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Send a failed message again (staff are e-mailed its id when one fails).
    Retry {
        /// The message's outbox id, `obx_…`.
        outbox_id: String,
    },
}

/// `atelier order …`.
#[derive(Debug, Subcommand)]
pub enum OrderCommand {
    /// List orders, newest first.
    List {
        /// Only orders in this state (paid, fulfilled, shipped, …).
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=10_000))]
        limit: i64,
    },
    /// Mark a paid order as packed.
    Fulfil {
        /// Order number (AA-2026-000042) or id.
        order: String,
    },
    /// Mark an order as handed to the carrier; the shopper is e-mailed.
    Ship {
        /// Order number (AA-2026-000042) or id.
        order: String,
        /// The carrier's tracking reference.
        #[arg(long)]
        tracking: Option<String>,
    },
    /// Mark a shipped order as delivered.
    Deliver {
        /// Order number (AA-2026-000042) or id.
        order: String,
    },
    /// Refund part or all of a paid order through the payment provider; the order follows the
    /// provider's confirmation and the shopper is e-mailed.
    Refund {
        /// Order number (AA-2026-000042) or id.
        order: String,
        /// How much goes back, as a decimal (12.50); all that is left when not given.
        #[arg(long)]
        amount: Option<String>,
        /// Bottles that go back on the shelf once the refund is confirmed, SKU=COUNT
        /// (repeat for each size).
        #[arg(long, value_name = "SKU=COUNT")]
        restock: Vec<String>,
        /// Why the money goes back (kept with the refund and in the audit log).
        #[arg(long)]
        reason: String,
    },
}

/// `atelier catalog …`.
#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Load the generator's catalog export (public/catalog.json by default) into the database.
    Sync {
        /// The export to load.
        #[arg(long)]
        file: Option<PathBuf>,
    },
}

/// `atelier stock …`.
#[derive(Debug, Subcommand)]
pub enum StockCommand {
    /// Set the bottles on hand of a SKU.
    Set {
        /// The size's SKU.
        sku: String,
        /// Bottles on hand.
        quantity: i64,
        /// Why, for the stock's ledger.
        #[arg(long, default_value = "counted")]
        reason: String,
    },
    /// Add (or with a negative number remove) bottles of a SKU.
    Adjust {
        /// The size's SKU.
        sku: String,
        /// Change, e.g. 12 or -1.
        #[arg(allow_hyphen_values = true)]
        delta: i64,
        /// Why, for the stock's ledger.
        #[arg(long, default_value = "adjusted")]
        reason: String,
    },
    /// List stock levels.
    List,
}

/// Options of `checkout`.
#[derive(Debug, Args)]
pub struct CheckoutArgs {
    /// Address to listen on.
    #[arg(short, long, default_value = "127.0.0.1")]
    pub interface: String,
    /// Port to listen on.
    #[arg(short, long, default_value_t = 8081)]
    pub port: u16,
    /// The built site, for the layout of the service's pages.
    #[arg(long, default_value = "public")]
    pub site: PathBuf,
    /// The public address of the shop, for links in e-mail.
    #[arg(long, default_value = "http://127.0.0.1:8081")]
    pub public_url: String,
}

/// Options of `build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Where to write the site (default: public/ under the root).
    #[arg(short, long)]
    pub output_dir: Option<PathBuf>,
    /// Replace base_url from the configuration.
    #[arg(short = 'u', long)]
    pub base_url: Option<String>,
    /// Include pages and sections marked draft.
    #[arg(long)]
    pub drafts: bool,
    /// Build into a folder that holds files atelier did not write.
    #[arg(short, long)]
    pub force: bool,
    /// Fetch the stock levels the pages show from the service first (its `/api/stock`), into
    /// data/stock.json; if it cannot answer, a copy at most 15 minutes old stands in, or the
    /// pages claim no availability.
    #[arg(long, value_name = "URL")]
    pub stock_from: Option<String>,
    /// Fetch the approved testimonials the home page shows from the service first (its
    /// `/api/testimonials`), into data/testimonials.json; if it cannot answer, the file is left
    /// as it is.
    #[arg(long, value_name = "URL")]
    pub testimonials_from: Option<String>,
}

/// Options of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(short, long, default_value = "127.0.0.1")]
    pub interface: String,
    /// Port to listen on.
    #[arg(short, long, default_value_t = 8080)]
    pub port: u16,
    /// Where to write the site (default: public/ under the root).
    #[arg(short, long)]
    pub output_dir: Option<PathBuf>,
    /// Include pages and sections marked draft.
    #[arg(long)]
    pub drafts: bool,
    /// Build into a folder that holds files atelier did not write.
    #[arg(long)]
    pub force: bool,
    /// The address the pages link to, instead of the one served on (the port is added unless
    /// `--no-port-append`): for a tunnel, a phone on the same network, or a proxy.
    #[arg(short = 'u', long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Use `--base-url` as given, without the port.
    #[arg(long)]
    pub no_port_append: bool,
    /// Open the site in the default browser once it is served.
    #[arg(short = 'O', long)]
    pub open: bool,
    /// Accepted as Zola's: every rebuild already renders only what an edit changed.
    #[arg(short = 'f', long)]
    pub fast: bool,
    /// Accepted as Zola's: the site is always written to the output folder.
    #[arg(long)]
    pub store_html: bool,
    /// Another file or folder whose changes rebuild the site, relative to the root (repeatable).
    #[arg(long, value_name = "PATH")]
    pub extra_watch_path: Vec<PathBuf>,
    /// At most how long edits are gathered into one rebuild, in milliseconds.
    #[arg(short = 'd', long, value_name = "MS", default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..))]
    pub debounce: u64,
    /// Leave a new shop's shelves empty (by default, with sandbox payments, a database that never
    /// had stock nor an order gets 12 bottles of every size, and says so).
    #[arg(long)]
    pub no_demo_stock: bool,
}

/// Options of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Include pages and sections marked draft.
    #[arg(long)]
    pub drafts: bool,
    /// How long to wait for each external link, in seconds (10 by default).
    #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "10")]
    pub external: Option<f64>,
    /// Leave external links unchecked (they are checked by default, as Zola checks them; that
    /// needs the network).
    #[arg(long, conflicts_with = "external")]
    pub skip_external_links: bool,
}
