//! Verification of the trail: recompute every link from seq 1, check the head and every signed
//! checkpoint, and report `ok` (count, head) or the first broken link (seq, expected, found).

use std::collections::BTreeMap;
use std::io::BufRead;

use serde::Serialize;
use serde_json::Value;

use super::AuditError;
use super::chain::{BrokenLink, ChainChecker, GENESIS_HASH};
use super::checkpoint::Checkpoint;
use super::query::Filter;
use super::trail::Trail;
use crate::db::entities::audit_event;

const PAGE: u64 = 1000;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Verification {
    Ok { count: i64, head_seq: i64, head_hash: String, checkpoints: usize },
    Broken { seq: i64, reason: String, expected: String, found: String },
}

impl Verification {
    pub fn is_ok(&self) -> bool {
        matches!(self, Verification::Ok { .. })
    }

    fn broken(link: BrokenLink) -> Self {
        Verification::Broken { seq: link.seq, reason: link.reason, expected: link.expected, found: link.found }
    }
}

/// Checks checkpoints against the hashes seen while walking the chain.
struct CheckpointCheck {
    /// seq → expected hash, for every checkpoint.
    wanted: BTreeMap<i64, Checkpoint>,
}

impl CheckpointCheck {
    fn new(checkpoints: Vec<Checkpoint>, trusted_key: Option<String>) -> Result<Self, Verification> {
        let mut wanted = BTreeMap::new();
        for checkpoint in checkpoints {
            let bad = |reason: &str| Verification::Broken {
                seq: checkpoint.seq,
                reason: reason.to_owned(),
                expected: String::new(),
                found: checkpoint.signature.clone(),
            };
            if !checkpoint.signature_valid() {
                return Err(bad("checkpoint signature is not valid"));
            }
            if trusted_key.as_ref().is_some_and(|key| *key != checkpoint.key_id) {
                return Err(bad("checkpoint is signed by a key other than this server's"));
            }
            wanted.insert(checkpoint.seq, checkpoint);
        }
        Ok(Self { wanted })
    }

    fn see(&self, seq: i64, hash: &str) -> Result<(), Verification> {
        match self.wanted.get(&seq) {
            Some(checkpoint) if checkpoint.hash != hash => Err(Verification::Broken {
                seq,
                reason: "event differs from the signed checkpoint".into(),
                expected: checkpoint.hash.clone(),
                found: hash.to_owned(),
            }),
            _ => Ok(()),
        }
    }

    /// After the walk: a checkpoint beyond the last event means the tail was cut off.
    fn finish(&self, count: i64) -> Result<(), Verification> {
        match self.wanted.last_key_value() {
            Some((&seq, checkpoint)) if seq > count => Err(Verification::Broken {
                seq: count + 1,
                reason: format!("events {}..={seq} are missing: a signed checkpoint covers them", count + 1),
                expected: checkpoint.hash.clone(),
                found: String::new(),
            }),
            _ => Ok(()),
        }
    }
}

/// Verify the trail in the database, with its stored checkpoints and any `external` ones.
pub async fn verify_database(
    trail: &Trail,
    external: Vec<Checkpoint>,
    trusted_key: Option<String>,
) -> Result<Verification, AuditError> {
    let stored = trail.checkpoints().await?;
    let count_checkpoints = stored.len() + external.len();
    let checkpoints = match CheckpointCheck::new(stored.into_iter().chain(external).collect(), trusted_key) {
        Ok(check) => check,
        Err(broken) => return Ok(broken),
    };
    let mut checker = ChainChecker::default();
    let mut after = 0;
    loop {
        let rows = trail.rows_after(&Filter::default(), after, PAGE).await?;
        let Some(last) = rows.last() else { break };
        after = last.seq;
        for row in rows {
            let seq = row.seq;
            let hash = row.hash.clone();
            if let Err(broken) = check_row(&mut checker, row) {
                return Ok(broken);
            }
            if let Err(broken) = checkpoints.see(seq, &hash) {
                return Ok(broken);
            }
        }
    }
    let head = trail.head().await?;
    let count = checker.count();
    if head.seq != count || head.hash != checker.head_hash() {
        let seq = head.seq.min(count) + 1;
        return Ok(Verification::Broken {
            seq,
            reason: format!("the chain head says seq {} but the events end at seq {count}", head.seq),
            expected: head.hash,
            found: checker.head_hash().to_owned(),
        });
    }
    if let Err(broken) = checkpoints.finish(count) {
        return Ok(broken);
    }
    Ok(Verification::Ok { count, head_seq: head.seq, head_hash: head.hash, checkpoints: count_checkpoints })
}

/// One stored row: its filter columns must agree with the hashed body, then the link is checked.
fn check_row(checker: &mut ChainChecker, row: audit_event::Model) -> Result<(), Verification> {
    let seq = row.seq;
    let mut value: Value = serde_json::from_str(&row.event).map_err(|e| Verification::Broken {
        seq,
        reason: "stored event is not JSON".into(),
        expected: String::new(),
        found: e.to_string(),
    })?;
    let field = |pointer: &str| value.pointer(pointer).and_then(Value::as_str).map(str::to_owned);
    let columns = [
        ("seq", Some(seq.to_string()), value.get("seq").map(|v| v.to_string())),
        ("id", Some(row.id.clone()), field("/id")),
        ("at", Some(row.at.clone()), field("/at")),
        ("actor.sub", row.actor_sub.clone(), field("/actor/sub")),
        ("action", Some(row.action.clone()), field("/action")),
        ("outcome", Some(row.outcome.clone()), field("/outcome")),
        ("target.document_id", row.document_id.clone(), field("/target/document_id")),
        ("prev_hash", Some(row.prev_hash.clone()), field("/prev_hash")),
    ];
    for (name, column, body) in columns {
        if column != body {
            return Err(Verification::Broken {
                seq,
                reason: format!("column {name} does not match the hashed event"),
                expected: body.unwrap_or_default(),
                found: column.unwrap_or_default(),
            });
        }
    }
    if let Some(object) = value.as_object_mut() {
        object.insert("hash".into(), Value::String(row.hash));
    }
    checker.check(&value).map_err(Verification::broken)
}

/// Verify a JSON Lines export (one full event per line), with optional checkpoints.
pub fn verify_export(reader: impl BufRead, checkpoints: Vec<Checkpoint>) -> Verification {
    let checkpoints = match CheckpointCheck::new(checkpoints, None) {
        Ok(check) => check,
        Err(broken) => return broken,
    };
    let mut checker = ChainChecker::default();
    for (n, line) in reader.lines().enumerate() {
        let line = match line {
            Ok(line) if line.trim().is_empty() => continue,
            Ok(line) => line,
            Err(e) => {
                return Verification::Broken {
                    seq: checker.count() + 1,
                    reason: format!("unreadable line {}", n + 1),
                    expected: String::new(),
                    found: e.to_string(),
                };
            }
        };
        let value: Value = match serde_json::from_str(&line) {
            Ok(value) => value,
            Err(e) => {
                return Verification::Broken {
                    seq: checker.count() + 1,
                    reason: format!("line {} is not JSON", n + 1),
                    expected: String::new(),
                    found: e.to_string(),
                };
            }
        };
        if let Err(broken) = checker.check(&value) {
            return Verification::broken(broken);
        }
        let seq = checker.count();
        if let Err(broken) = checkpoints.see(seq, checker.head_hash()) {
            return broken;
        }
    }
    if let Err(broken) = checkpoints.finish(checker.count()) {
        return broken;
    }
    let head_hash = if checker.count() == 0 { GENESIS_HASH.to_owned() } else { checker.head_hash().to_owned() };
    Verification::Ok {
        count: checker.count(),
        head_seq: checker.count(),
        head_hash,
        checkpoints: checkpoints.wanted.len(),
    }
}
