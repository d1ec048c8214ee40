//! SMTP transports from their URL.

use std::path::Path;
use std::time::Duration;

use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, Tokio1Executor};

use super::MailerError;

/// An SMTP transport from its URL:
/// - `smtp://[user:password@]host[:port]`: plain SMTP (port 25), as a relay on the same
///   network speaks it;
/// - `smtp://…?tls=required`: STARTTLS, refusing to send if the server does not offer it
///   (`?tls=opportunistic` uses it when offered); port 587 then;
/// - `smtps://…`: TLS from the first byte (port 465).
///
/// Certificates are checked against the public roots and, when given, the roots in `ca_file`.
pub(super) fn smtp_transport(
    url: &str,
    ca_file: Option<&Path>,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailerError> {
    let bad = |m: &str| MailerError(format!("SMTP_URL `{}`: {m}", crate::config::redact_url(url)));
    let (wrapped, rest) = match (url.strip_prefix("smtp://"), url.strip_prefix("smtps://")) {
        (Some(rest), _) => (false, rest),
        (_, Some(rest)) => (true, rest),
        _ => return Err(bad("expected smtp://host[:port][?tls=required] or smtps://host[:port]")),
    };
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut starttls = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("tls", "required")) if !wrapped => starttls = Some(true),
            Some(("tls", "opportunistic")) if !wrapped => starttls = Some(false),
            Some(("tls", _)) if wrapped => return Err(bad("smtps:// is TLS already; `tls=` is for smtp://")),
            _ => return Err(bad(&format!("unknown option `{pair}` (tls=required or tls=opportunistic)"))),
        }
    }
    let (auth, host_port) = match rest.rsplit_once('@') {
        Some((a, h)) => (Some(a), h),
        None => (None, rest),
    };
    let host_port = host_port.trim_end_matches('/');
    let default_port = match (wrapped, starttls) {
        (true, _) => 465,
        (false, Some(_)) => 587,
        (false, None) => 25,
    };
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad("the port is not a number"))?),
        None => (host_port, default_port),
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let mut builder =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).port(port).timeout(Some(Duration::from_secs(10)));
    if wrapped || starttls.is_some() {
        let mut tls = TlsParameters::builder(host.to_string());
        if let Some(file) = ca_file {
            let pem = std::fs::read(file).map_err(|e| MailerError(format!("SMTP_CA_FILE {}: {e}", file.display())))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| MailerError(format!("SMTP_CA_FILE {}: not a PEM certificate: {e}", file.display())))?;
            tls = tls.add_root_certificate(cert);
        }
        let tls = tls.build().map_err(|e| bad(&format!("TLS: {e}")))?;
        builder = builder.tls(match (wrapped, starttls) {
            (true, _) => Tls::Wrapper(tls),
            (false, Some(true)) => Tls::Required(tls),
            _ => Tls::Opportunistic(tls),
        });
    }
    if let Some(auth) = auth {
        let (user, pass) = auth.split_once(':').unwrap_or((auth, ""));
        builder = builder
            .credentials(lettre::transport::smtp::authentication::Credentials::new(user.to_string(), pass.to_string()));
    }
    Ok(builder.build())
}
