//! HTML the service writes: its pages inside the site's own layout (the shell the generator
//! builds from the theme's `service.html`), and e-mail bodies, all from minijinja templates
//! embedded in the binary.

use std::path::{Path, PathBuf};
use std::sync::{OnceLock, RwLock};
use std::time::SystemTime;

use minijinja::{AutoEscape, Environment};
use serde::Serialize;

const TEMPLATES: &[(&str, &str)] = &[
    ("pages/_parts.html", include_str!("../templates/pages/_parts.html")),
    ("pages/cart.html", include_str!("../templates/pages/cart.html")),
    ("pages/checkout.html", include_str!("../templates/pages/checkout.html")),
    ("pages/pay.html", include_str!("../templates/pages/pay.html")),
    ("pages/order.html", include_str!("../templates/pages/order.html")),
    ("pages/message.html", include_str!("../templates/pages/message.html")),
    ("pages/account/_form.html", include_str!("../templates/pages/account/_form.html")),
    ("pages/account/sign_in.html", include_str!("../templates/pages/account/sign_in.html")),
    ("pages/account/register.html", include_str!("../templates/pages/account/register.html")),
    ("pages/account/verify.html", include_str!("../templates/pages/account/verify.html")),
    ("pages/account/forgot.html", include_str!("../templates/pages/account/forgot.html")),
    ("pages/account/reset.html", include_str!("../templates/pages/account/reset.html")),
    ("pages/account/overview.html", include_str!("../templates/pages/account/overview.html")),
    ("pages/account/sign_in_code.html", include_str!("../templates/pages/account/sign_in_code.html")),
    ("pages/account/two_factor.html", include_str!("../templates/pages/account/two_factor.html")),
    ("pages/account/recovery_codes.html", include_str!("../templates/pages/account/recovery_codes.html")),
    ("pages/account/reordered.html", include_str!("../templates/pages/account/reordered.html")),
    ("pages/account/details.html", include_str!("../templates/pages/account/details.html")),
    ("pages/account/addresses.html", include_str!("../templates/pages/account/addresses.html")),
    ("pages/account/email_confirm.html", include_str!("../templates/pages/account/email_confirm.html")),
    ("pages/account/folio.html", include_str!("../templates/pages/account/folio.html")),
    ("pages/folio/subscribe.html", include_str!("../templates/pages/folio/subscribe.html")),
    ("pages/folio/pay.html", include_str!("../templates/pages/folio/pay.html")),
    ("pages/folio/gift.html", include_str!("../templates/pages/folio/gift.html")),
    ("pages/folio/gift_pay.html", include_str!("../templates/pages/folio/gift_pay.html")),
    ("pages/staff/_menu.html", include_str!("../templates/pages/staff/_menu.html")),
    ("pages/staff/home.html", include_str!("../templates/pages/staff/home.html")),
    ("pages/staff/orders.html", include_str!("../templates/pages/staff/orders.html")),
    ("pages/staff/order.html", include_str!("../templates/pages/staff/order.html")),
    ("pages/staff/pick_list.html", include_str!("../templates/pages/staff/pick_list.html")),
    ("pages/staff/stock.html", include_str!("../templates/pages/staff/stock.html")),
    ("pages/staff/stock_size.html", include_str!("../templates/pages/staff/stock_size.html")),
    ("pages/staff/purchase_orders.html", include_str!("../templates/pages/staff/purchase_orders.html")),
    ("pages/staff/purchase_order_new.html", include_str!("../templates/pages/staff/purchase_order_new.html")),
    ("pages/staff/purchase_order.html", include_str!("../templates/pages/staff/purchase_order.html")),
    ("pages/staff/customers.html", include_str!("../templates/pages/staff/customers.html")),
    ("pages/staff/customer.html", include_str!("../templates/pages/staff/customer.html")),
    ("pages/staff/subscribers.html", include_str!("../templates/pages/staff/subscribers.html")),
    ("pages/staff/dashboard.html", include_str!("../templates/pages/staff/dashboard.html")),
    ("pages/staff/testimonials.html", include_str!("../templates/pages/staff/testimonials.html")),
    ("pages/staff/team.html", include_str!("../templates/pages/staff/team.html")),
    ("pages/staff/roles.html", include_str!("../templates/pages/staff/roles.html")),
    ("pages/staff/audit.html", include_str!("../templates/pages/staff/audit.html")),
    ("pages/wishlist.html", include_str!("../templates/pages/wishlist.html")),
    ("pages/newsletter.html", include_str!("../templates/pages/newsletter.html")),
    ("pages/contact.html", include_str!("../templates/pages/contact.html")),
    ("email/order_confirmation.html", include_str!("../templates/email/order_confirmation.html")),
    ("email/order_confirmation.txt", include_str!("../templates/email/order_confirmation.txt")),
    ("email/low_stock.html", include_str!("../templates/email/low_stock.html")),
    ("email/low_stock.txt", include_str!("../templates/email/low_stock.txt")),
    ("email/account.html", include_str!("../templates/email/account.html")),
    ("email/account.txt", include_str!("../templates/email/account.txt")),
    ("email/folio_edition.html", include_str!("../templates/email/folio_edition.html")),
    ("email/folio_edition.txt", include_str!("../templates/email/folio_edition.txt")),
    ("email/folio_shortfall.txt", include_str!("../templates/email/folio_shortfall.txt")),
    ("email/contact_staff.txt", include_str!("../templates/email/contact_staff.txt")),
    ("email/contact_copy.txt", include_str!("../templates/email/contact_copy.txt")),
];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| if name.ends_with(".html") { AutoEscape::Html } else { AutoEscape::None });
        for (name, source) in TEMPLATES {
            // Embedded templates are checked by the tests; a broken one renders as an error note.
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "template does not parse");
            }
        }
        env
    })
}

/// Renders an embedded template; a failure is logged and leaves a short notice instead.
pub fn render(name: &str, ctx: &impl Serialize) -> String {
    match env().get_template(name).and_then(|t| t.render(ctx)) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(template = name, error = %e, "template failed");
            "<p>This page could not be shown. Please try again.</p>".to_string()
        }
    }
}

/// Whether every embedded template parses and renders with an empty context.
pub fn check_templates() -> Result<(), String> {
    for (name, _) in TEMPLATES {
        env().get_template(name).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

/// The site's layout around the service's pages, re-read when the site is rebuilt.
#[derive(Debug)]
pub struct Shell {
    path: PathBuf,
    cached: RwLock<(Option<SystemTime>, Parts)>,
}

#[derive(Debug, Clone)]
struct Parts {
    head: String,
    middle: String,
    tail: String,
}

/// Where the generator writes the shell, inside the site's output folder.
pub const SHELL_FILE: &str = "_service/shell.html";

impl Shell {
    /// The shell of a built site; a plain page while the site has none.
    pub fn load(site_dir: &Path) -> Shell {
        let shell = Shell { path: site_dir.join(SHELL_FILE), cached: RwLock::new((None, fallback())) };
        shell.refresh();
        shell
    }

    fn refresh(&self) -> Parts {
        let mtime = std::fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        if let Ok(c) = self.cached.read() {
            if c.0 == mtime && mtime.is_some() {
                return c.1.clone();
            }
        }
        let parts = std::fs::read_to_string(&self.path).ok().and_then(|t| parse(&t)).unwrap_or_else(|| {
            tracing::warn!(path = %self.path.display(), "no service shell in the built site; pages use a plain layout");
            fallback()
        });
        if let Ok(mut c) = self.cached.write() {
            *c = (mtime, parts.clone());
        }
        parts
    }

    /// A whole page: the title (escaped) and the main content.
    pub fn page(&self, title: &str, main: &str) -> String {
        let p = self.refresh();
        let title = title.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        format!("{}{title} — Atelier Arôme{}{main}{}", p.head, p.middle, p.tail)
    }
}

fn parse(text: &str) -> Option<Parts> {
    let (head, rest) = text.split_once("<!--ATELIER:TITLE-->")?;
    let (middle, tail) = rest.split_once("<!--ATELIER:MAIN-->")?;
    Some(Parts { head: head.to_string(), middle: middle.to_string(), tail: tail.to_string() })
}

fn fallback() -> Parts {
    parse(FALLBACK).unwrap_or(Parts { head: String::new(), middle: String::new(), tail: String::new() })
}

const FALLBACK: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title><!--ATELIER:TITLE--></title><link rel=\"stylesheet\" href=\"/css/manuscript.css\"></head><body><main id=\"main\"><!--ATELIER:MAIN--></main></body></html>";
