//! E-mail digests of alerts (`[notify]`): e-mail leaves the platform, so a digest says only how
//! many new documents match which of the person's saved searches, and links to the platform —
//! never a title, snippet or marking. One e-mail per person per interval at most, over TLS or
//! STARTTLS (lettre on rustls). Each notification is claimed by one replica before it is
//! counted (its `emailed_at`), and given back if the e-mail could not be sent.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sea_orm::DatabaseConnection;

use super::NotifyError;
use super::alerts::{SAVED_SEARCH, owner_principal};
use crate::config::NotifySettings;
use crate::db::documents as documents_repo;
use crate::db::entities::{notification, saved_search};
use crate::db::saved_searches::{self as repo, Owner};
use crate::policy::{Action, PolicyConfig, decide};

/// Notifications looked at per round, at the most.
const ROUND: u64 = 5_000;

/// Why digests cannot be sent with this configuration (start-up refuses it).
#[derive(Debug, thiserror::Error)]
#[error("[notify] {0}")]
pub struct DigestConfigError(String);

pub struct Digests {
    db: DatabaseConnection,
    policy: Arc<PolicyConfig>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    interval: Duration,
    /// Where the platform is, for the link.
    public_url: String,
}

impl Digests {
    /// The digests `settings` ask for, or `None` when `smtp_url` is empty (off).
    pub fn from_settings(
        settings: &NotifySettings,
        public_url: &str,
        db: DatabaseConnection,
        policy: Arc<PolicyConfig>,
    ) -> Result<Option<Self>, DigestConfigError> {
        let url = settings.smtp_url.expose().trim();
        if url.is_empty() {
            return Ok(None);
        }
        let transport = transport(url, &settings.ca_file)?;
        let from = settings.from.parse().map_err(|e| DigestConfigError(format!("from: {e}")))?;
        let interval = Duration::from_secs(settings.digest_interval_secs.max(1));
        let public_url = public_url.trim_end_matches('/').to_owned();
        Ok(Some(Self { db, policy, transport, from, interval, public_url }))
    }

    /// Send digests every interval, on the current runtime, for as long as it runs.
    pub fn spawn(self) {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(self.interval).await;
                match self.send_due().await {
                    Ok(sent) if sent > 0 => tracing::info!(sent, "e-mail digests sent"),
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "e-mail digests not sent; trying again next interval"),
                }
            }
        });
    }

    /// One round: a digest to each person with new saved-search notifications of documents they
    /// may still see. Returns how many e-mails were sent.
    pub async fn send_due(&self) -> Result<usize, NotifyError> {
        let rows = repo::not_emailed(&self.db, SAVED_SEARCH, ROUND).await?;
        let mut by_owner: BTreeMap<(String, String, String), Vec<notification::Model>> = BTreeMap::new();
        for row in rows {
            let key = (row.owner_sub.clone(), row.owner_organisation.clone(), row.owner_country.clone());
            by_owner.entry(key).or_default().push(row);
        }
        let mut sent = 0;
        for ((sub, organisation, country), rows) in by_owner {
            let owner = Owner { sub, organisation, country };
            if self.digest(&owner, rows).await? {
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// Claim `rows` of `owner`, count what they may see per saved search, and send; `true` if an
    /// e-mail went out.
    async fn digest(&self, owner: &Owner, rows: Vec<notification::Model>) -> Result<bool, NotifyError> {
        let searches: BTreeMap<String, saved_search::Model> =
            repo::list(&self.db, owner).await?.into_iter().map(|s| (s.id.clone(), s)).collect();
        let now = chrono::Utc::now();
        let mut claimed = Vec::new();
        for row in rows {
            // Another replica may be sending the same: each notification is counted once.
            if repo::claim_for_email(&self.db, &row.id, now).await? {
                claimed.push(row);
            }
        }
        let Some(address) = searches.values().find_map(|s| s.owner_email.clone()) else {
            return Ok(false);
        };
        let Some(any) = searches.values().next() else { return Ok(false) };
        let principal = owner_principal(any, &self.policy);
        let ids: Vec<String> = claimed.iter().filter_map(|row| row.document_id.clone()).collect();
        let documents = documents_repo::find_all(&self.db, &ids).await?;
        let visible = |id: &str| {
            documents
                .iter()
                .find(|d| d.id == id)
                .and_then(|d| documents_repo::read(d, &self.policy))
                .is_some_and(|readable| decide(&principal, &readable.facts, Action::See).is_allowed())
        };
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for row in &claimed {
            let (Some(search), Some(document)) = (row.saved_search_id.as_ref(), row.document_id.as_ref()) else {
                continue;
            };
            if let Some(search) = searches.get(search)
                && visible(document)
            {
                *counts.entry(search.name.clone()).or_default() += 1;
            }
        }
        if counts.is_empty() {
            return Ok(false);
        }
        let message = match self.message(&address, &counts) {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(%error, "an e-mail digest could not be written; not sent");
                return Ok(false);
            }
        };
        if let Err(error) = self.transport.send(message).await {
            // Given back: counted in the next digest.
            let ids: Vec<String> = claimed.iter().map(|row| row.id.clone()).collect();
            repo::unclaim_for_email(&self.db, &ids).await?;
            return Err(NotifyError::Email(error.to_string()));
        }
        Ok(true)
    }

    /// The digest: counts per saved search and the link; nothing of any document.
    fn message(&self, to: &str, counts: &BTreeMap<String, usize>) -> Result<Message, String> {
        let total: usize = counts.values().sum();
        let mut body = String::new();
        for (name, count) in counts {
            let documents = if *count == 1 { "1 new document matches" } else { "new documents match" };
            let line = if *count == 1 {
                format!("{documents} your saved search \u{201c}{name}\u{201d}.\n")
            } else {
                format!("{count} {documents} your saved search \u{201c}{name}\u{201d}.\n")
            };
            body.push_str(&line);
        }
        body.push_str(&format!(
            "\nSign in to see them: {}/notifications\n\nThis e-mail carries no title, summary or marking of any document: \
             they stay on the platform.\n",
            self.public_url
        ));
        let subject = if total == 1 {
            "ANASPOC: 1 new document matches your saved searches".to_owned()
        } else {
            format!("ANASPOC: {total} new documents match your saved searches")
        };
        Message::builder()
            .from(self.from.clone())
            .to(to.parse().map_err(|e| format!("to: {e}"))?)
            .subject(subject)
            .body(body)
            .map_err(|e| e.to_string())
    }
}

/// The SMTP transport of `url`: `smtps://` wraps the connection in TLS, `smtp://` requires
/// STARTTLS; there is no plain-text mode. `ca_file` adds CA certificates to the system's.
fn transport(url: &str, ca_file: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>, DigestConfigError> {
    let parsed = url::Url::parse(url).map_err(|e| DigestConfigError(format!("smtp_url: {e}")))?;
    let host = parsed.host_str().ok_or_else(|| DigestConfigError("smtp_url: no host".into()))?.to_owned();
    let mut tls = TlsParameters::builder(host.clone());
    if !ca_file.trim().is_empty() {
        let pem = std::fs::read(ca_file).map_err(|e| DigestConfigError(format!("ca_file {ca_file}: {e}")))?;
        let certificate = Certificate::from_pem(&pem).map_err(|e| DigestConfigError(format!("ca_file: {e}")))?;
        tls = tls.add_root_certificate(certificate);
    }
    let tls = tls.build_rustls().map_err(|e| DigestConfigError(format!("TLS: {e}")))?;
    let (tls, default_port) = match parsed.scheme() {
        "smtps" => (Tls::Wrapper(tls), 465),
        "smtp" => (Tls::Required(tls), 587),
        other => return Err(DigestConfigError(format!("smtp_url: `{other}` is not smtps or smtp"))),
    };
    // The builder without defaults: TLS is set just above, never left out.
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(parsed.port().unwrap_or(default_port))
        .tls(tls)
        .timeout(Some(Duration::from_secs(30)));
    if !parsed.username().is_empty() {
        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
        let password = parsed.password().map(decode).unwrap_or_default();
        builder = builder.credentials(Credentials::new(decode(parsed.username()), password));
    }
    Ok(builder.build())
}
