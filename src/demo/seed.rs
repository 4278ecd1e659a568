//! Loading the sample corpus into an empty demo platform, through the documents service as the
//! personas' own uploads would go (validated, stored, extracted, indexed, each audited as
//! created by its persona), then a little of the use a network sees — reading, downloading, an
//! analyst probing for documents she may not see — so that the auditors' report, charts and
//! anomaly flags have something to show on the first start.

use std::collections::BTreeMap as HashMap;

use futures_util::stream;
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};

use super::SeedError;
use super::corpus::{self, Entry, Status};
use super::files;
use crate::auth::operator::operator;
use crate::caller::Caller;
use crate::config::Settings;
use crate::db::entities::document;
use crate::document_id::RequestedId;
use crate::documents::{DocumentsError, Precondition, Service};
use crate::policy::{Action, Decision, PolicyConfig, decide};

/// The user agent recorded in the audit events of everything the demo does for its personas.
pub const USER_AGENT: &str = "anaspoc demo (sample corpus)";

/// What a start did.
#[derive(Debug, PartialEq, Eq)]
pub enum Seeded {
    /// The platform already held documents: nothing was added.
    AlreadyInUse,
    Loaded {
        documents: usize,
        events: usize,
    },
}

/// Load the corpus unless the platform holds any document (so restarts add nothing).
pub async fn seed(
    settings: &Settings,
    policy: &PolicyConfig,
    db: &DatabaseConnection,
    documents: &Service,
) -> Result<Seeded, SeedError> {
    if document::Entity::find().count(db).await? > 0 {
        return Ok(Seeded::AlreadyInUse);
    }
    let corpus = corpus::load()?;
    let mut callers: HashMap<&str, Caller> = HashMap::new();
    for persona in crate::auth::demo_idp::PERSONAS {
        callers.insert(persona.username, operator(settings, policy, persona.username, USER_AGENT)?);
    }
    let mut loaded = Vec::with_capacity(corpus.len());
    for entry in &corpus {
        let caller = callers
            .get(entry.uploader.as_str())
            .ok_or_else(|| SeedError::Corpus(format!("{}: no persona {}", entry.key, entry.uploader)))?;
        match upload(documents, caller, entry).await {
            Ok(id) => loaded.push((entry, id)),
            // The scanned sample is drawn with a system font; without it the demo still starts.
            Err(SeedError::File(key, files::FileError::Scan(error))) => {
                tracing::warn!(document = %key, %error, "demo: sample left out (install fonts-dejavu-core)");
            }
            Err(error) => return Err(error),
        }
    }
    let events = activity(policy, documents, &callers, &loaded).await?;
    tracing::info!(documents = loaded.len(), events, "demo: sample corpus loaded");
    Ok(Seeded::Loaded { documents: loaded.len(), events })
}

/// Upload `entry` as `caller` (withdrawing it afterwards when the corpus says so).
async fn upload(documents: &Service, caller: &Caller, entry: &Entry) -> Result<String, SeedError> {
    let failed = |error: DocumentsError| SeedError::Upload { key: entry.key.clone(), error };
    let email = caller.principal.email.clone().unwrap_or_default();
    let (bytes, filename) = files::render(entry, &email).map_err(|e| SeedError::File(entry.key.clone(), e))?;
    let plan = documents.plan_create(caller, entry.metadata()).await.map_err(failed)?;
    let body = stream::iter([Ok::<_, std::convert::Infallible>(bytes::Bytes::from(bytes))]);
    let object = documents.receive(&plan, body).await.map_err(failed)?;
    let view = documents.commit_create(caller, plan, object, Some(&filename)).await.map_err(failed)?;
    if entry.status == Status::Withdrawn {
        documents.withdraw(caller, &RequestedId::parse(&view.id), Precondition::None).await.map_err(failed)?;
    }
    Ok(view.id)
}

/// The first hour of a network's use, as the audit trail records it: every reader opens what
/// concerns them, the EUROPOL advisor downloads everything released to the EU in one go (a bulk
/// download of many organisations' material), and the Albanian analyst opens every document
/// of the network, also those she may not see (each refusal audited). Returns the events made.
async fn activity(
    policy: &PolicyConfig,
    documents: &Service,
    callers: &HashMap<&str, Caller>,
    loaded: &[(&Entry, String)],
) -> Result<usize, SeedError> {
    let mut events = 0;
    for (persona, caller) in callers {
        let visible: Vec<&(&Entry, String)> =
            loaded.iter().filter(|(entry, _)| may_see(policy, callers, caller, entry)).collect();
        match *persona {
            "advisor-europol" => {
                for (_, id) in &visible {
                    download(documents, caller, id).await?;
                    events += 1;
                }
            }
            "analyst-al" => {
                for (_, id) in loaded {
                    view(documents, caller, id).await?;
                    events += 1;
                }
            }
            _ => {
                for (index, (_, id)) in visible.iter().enumerate().take(4) {
                    view(documents, caller, id).await?;
                    if index % 2 == 0 {
                        download(documents, caller, id).await?;
                        events += 1;
                    }
                    events += 1;
                }
            }
        }
    }
    Ok(events)
}

fn may_see(policy: &PolicyConfig, callers: &HashMap<&str, Caller>, reader: &Caller, entry: &Entry) -> bool {
    let Some(uploader) = callers.get(entry.uploader.as_str()).map(|c| &c.principal) else { return false };
    entry
        .document(policy, uploader)
        .is_some_and(|document| decide(&reader.principal, &document, Action::See) == Decision::Allow)
}

/// Open a document's page; a refusal is what the trail should show, not a failure.
async fn view(documents: &Service, caller: &Caller, id: &str) -> Result<(), SeedError> {
    match documents.get(caller, &RequestedId::parse(id)).await {
        Ok(_) | Err(DocumentsError::NotFound) => Ok(()),
        Err(error) => Err(SeedError::Activity(error)),
    }
}

async fn download(documents: &Service, caller: &Caller, id: &str) -> Result<(), SeedError> {
    use futures_util::StreamExt;
    let content = documents.content(caller, &RequestedId::parse(id), None).await.map_err(SeedError::Activity)?;
    let mut body = documents.open(caller, &content, None).await.map_err(SeedError::Activity)?.stream;
    while let Some(chunk) = body.next().await {
        chunk.map_err(|e| SeedError::Activity(e.into()))?;
    }
    Ok(())
}
