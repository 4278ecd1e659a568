//! Tampering with the stored trail — by someone who can bypass the append-only triggers — is
//! found by verification, at the right seq: a modified field, a deleted event, two reordered, a
//! forged one, a rewritten history (caught by signed checkpoints), a truncated tail.

use anaspoc::audit::{self, Event, SigningKey};
use anaspoc::db::entities::{audit_checkpoint, audit_event, audit_head};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use super::{all_events, verify};
use crate::documents::{create, metadata};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    the_trail_is_append_only,
    a_modified_field_is_found,
    a_deleted_event_is_found,
    reordered_events_are_found,
    a_forged_event_is_found,
    a_rewritten_history_is_caught_by_checkpoints,
    a_truncated_tail_is_caught_by_a_checkpoint,
);

/// An app with a dozen events in its trail.
async fn populated(backend: Backend) -> TestApp {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let ba = app.token("analyst-ba").await;
    let created = create(&app, &rs, &metadata("Chain"), b"chain").await;
    let id = created["id"].as_str().expect("id");
    for _ in 0..5 {
        app.get_as(&ba, &format!("/api/v1/documents/{id}")).await;
        app.get_as(&ba, &format!("/api/v1/documents/{id}/content")).await;
    }
    app.get_as(&rs, "/api/v1/me").await;
    assert_eq!(all_events(&app).await.len(), 12);
    // Checked through the library, which (unlike the HTTP route) adds no event of its own.
    let trail = audit::Trail::new(app.db.clone());
    assert!(audit::verify::verify_database(&trail, Vec::new(), None).await.expect("verify").is_ok());
    app
}

/// What an attacker with database administrator rights does first.
async fn bypass_triggers(app: &TestApp) {
    let statements: &[&str] = match app.db.get_database_backend() {
        DbBackend::Postgres => {
            &["ALTER TABLE audit_events DISABLE TRIGGER USER", "ALTER TABLE audit_checkpoints DISABLE TRIGGER USER"]
        }
        _ => &[
            "DROP TRIGGER audit_events_no_update",
            "DROP TRIGGER audit_events_no_delete",
            "DROP TRIGGER audit_checkpoints_no_delete",
        ],
    };
    for statement in statements {
        app.db.execute_unprepared(statement).await.expect(statement);
    }
}

async fn set_event(app: &TestApp, seq: i64, column: audit_event::Column, value: Value) {
    let value: sea_orm::Value = match value {
        Value::String(s) => s.into(),
        Value::Number(n) => n.as_i64().expect("integer").into(),
        other => other.to_string().into(),
    };
    audit_event::Entity::update_many()
        .col_expr(column, Expr::value(value))
        .filter(audit_event::Column::Seq.eq(seq))
        .exec(&app.db)
        .await
        .expect("tamper");
}

async fn set_head(app: &TestApp, seq: i64, hash: &str) {
    audit_head::Entity::update_many()
        .col_expr(audit_head::Column::Seq, Expr::value(seq))
        .col_expr(audit_head::Column::Hash, Expr::value(hash))
        .exec(&app.db)
        .await
        .expect("head");
}

async fn stored_body(app: &TestApp, seq: i64) -> Value {
    let row = audit_event::Entity::find_by_id(seq).one(&app.db).await.expect("select").expect("row");
    serde_json::from_str(&row.event).expect("json")
}

/// Verification (over HTTP) finds a break at `seq`.
async fn assert_broken_at(app: &TestApp, seq: i64) -> Value {
    let result = verify(app).await;
    assert_eq!(result["status"], "broken", "{result}");
    assert_eq!(result["seq"], seq, "{result}");
    result
}

async fn the_trail_is_append_only(backend: Backend) {
    let app = populated(backend).await;
    for statement in [
        "UPDATE audit_events SET outcome = 'allowed' WHERE seq = 2",
        "DELETE FROM audit_events WHERE seq = 3",
        "DELETE FROM audit_events",
    ] {
        let refused = app.db.execute_unprepared(statement).await.expect_err(statement);
        assert!(refused.to_string().contains("append-only"), "{statement}: {refused}");
    }
    assert_eq!(all_events(&app).await.len(), 12);
}

async fn a_modified_field_is_found(backend: Backend) {
    let app = populated(backend).await;
    bypass_triggers(&app).await;
    let mut body = stored_body(&app, 5).await;
    body["actor"]["sub"] = json!("analyst-xk");
    set_event(&app, 5, audit_event::Column::Event, Value::String(serde_json::to_string(&body).expect("json"))).await;
    let result = assert_broken_at(&app, 5).await;
    assert!(result["reason"].as_str().expect("reason").contains("actor.sub"), "{result}");

    // The same change in the hashed body and its filter column: the hash gives it away.
    set_event(&app, 5, audit_event::Column::ActorSub, json!("analyst-xk")).await;
    let result = assert_broken_at(&app, 5).await;
    assert!(result["reason"].as_str().expect("reason").contains("hash"), "{result}");
}

async fn a_deleted_event_is_found(backend: Backend) {
    let app = populated(backend).await;
    bypass_triggers(&app).await;
    audit_event::Entity::delete_by_id(6).exec(&app.db).await.expect("delete");
    let result = assert_broken_at(&app, 6).await;
    assert_eq!(result["expected"], "6");
    assert_eq!(result["found"], "7");
}

async fn reordered_events_are_found(backend: Backend) {
    let app = populated(backend).await;
    bypass_triggers(&app).await;
    // Swap events 3 and 4, body and number alike.
    let (third, fourth) = (stored_body(&app, 3).await, stored_body(&app, 4).await);
    let rows =
        audit_event::Entity::find().filter(audit_event::Column::Seq.is_in([3, 4])).all(&app.db).await.expect("rows");
    set_event(&app, 3, audit_event::Column::Seq, json!(-3)).await;
    set_event(&app, 4, audit_event::Column::Seq, json!(3)).await;
    set_event(&app, -3, audit_event::Column::Seq, json!(4)).await;
    let mut fourth_as_third = fourth;
    fourth_as_third["seq"] = json!(3);
    let mut third_as_fourth = third;
    third_as_fourth["seq"] = json!(4);
    set_event(&app, 3, audit_event::Column::Event, Value::String(fourth_as_third.to_string())).await;
    set_event(&app, 4, audit_event::Column::Event, Value::String(third_as_fourth.to_string())).await;
    assert_eq!(rows.len(), 2);
    assert_broken_at(&app, 3).await;
}

async fn a_forged_event_is_found(backend: Backend) {
    let app = populated(backend).await;
    bypass_triggers(&app).await;
    let events = all_events(&app).await;
    let last = events.last().expect("events");
    let mut forged: Event = last.clone();
    forged.seq = last.seq + 1;
    forged.id = uuid::Uuid::new_v4().to_string();
    forged.actor.sub = Some("analyst-al".into());
    forged.prev_hash = last.hash.clone();
    forged.hash = "f".repeat(64);
    let mut body = serde_json::to_value(&forged).expect("json");
    body.as_object_mut().expect("object").remove("hash");
    audit_event::Entity::insert(audit_event::ActiveModel {
        seq: sea_orm::Set(forged.seq),
        id: sea_orm::Set(forged.id.clone()),
        at: sea_orm::Set(forged.at.clone()),
        actor_sub: sea_orm::Set(forged.actor.sub.clone()),
        action: sea_orm::Set(forged.action.as_str().into()),
        outcome: sea_orm::Set(forged.outcome.as_str().into()),
        document_id: sea_orm::Set(forged.target.document_id.clone()),
        event: sea_orm::Set(audit::chain::canonical_without_hash(&body).expect("jcs")),
        prev_hash: sea_orm::Set(forged.prev_hash.clone()),
        hash: sea_orm::Set(forged.hash.clone()),
    })
    .exec_without_returning(&app.db)
    .await
    .expect("insert");
    set_head(&app, forged.seq, &forged.hash).await;
    let result = assert_broken_at(&app, 13).await;
    assert_eq!(result["found"], "f".repeat(64));
}

/// Recompute every hash from `from` on after changing event `from`: internally consistent.
async fn rewrite_history(app: &TestApp, from: i64) {
    let events = all_events(app).await;
    let mut prev = events[(from - 2) as usize].hash.clone();
    for event in events.into_iter().filter(|e| e.seq >= from) {
        let mut event = event;
        if event.seq == from {
            event.details = json!({"reason": "nothing to see here"});
        }
        event.prev_hash = prev.clone();
        event.hash = audit::chain::expected_hash(&event).expect("hash");
        let mut body = serde_json::to_value(&event).expect("json");
        body.as_object_mut().expect("object").remove("hash");
        set_event(
            app,
            event.seq,
            audit_event::Column::Event,
            Value::String(audit::chain::canonical_without_hash(&body).expect("jcs")),
        )
        .await;
        set_event(app, event.seq, audit_event::Column::PrevHash, Value::String(event.prev_hash.clone())).await;
        set_event(app, event.seq, audit_event::Column::Hash, Value::String(event.hash.clone())).await;
        prev = event.hash.clone();
        set_head(app, event.seq, &event.hash).await;
    }
}

fn signing_key(app: &TestApp) -> SigningKey {
    SigningKey::load_or_create(std::path::Path::new(&app.settings.audit.signing_key_file)).expect("key")
}

async fn a_rewritten_history_is_caught_by_checkpoints(backend: Backend) {
    let app = populated(backend).await;
    let key = signing_key(&app);
    let checkpoint = audit::Trail::new(app.db.clone()).sign_head(&key).await.expect("checkpoint");
    assert_eq!(checkpoint.seq, 12);
    bypass_triggers(&app).await;
    rewrite_history(&app, 4).await;
    // The chain itself is consistent again — only the signed checkpoint shows the rewrite.
    let result = assert_broken_at(&app, 12).await;
    assert!(result["reason"].as_str().expect("reason").contains("checkpoint"), "{result}");

    // An attacker who also deletes the stored checkpoints is caught by the copy kept outside.
    audit_checkpoint::Entity::delete_many().exec(&app.db).await.expect("delete checkpoints");
    let trail = audit::Trail::new(app.db.clone());
    let inside = audit::verify::verify_database(&trail, Vec::new(), Some(key.key_id())).await.expect("verify");
    assert!(inside.is_ok(), "without checkpoints a full rewrite is self-consistent: {inside:?}");
    let outside = audit::verify::verify_database(&trail, vec![checkpoint], Some(key.key_id())).await.expect("verify");
    assert!(matches!(outside, audit::Verification::Broken { seq: 12, .. }), "{outside:?}");
}

async fn a_truncated_tail_is_caught_by_a_checkpoint(backend: Backend) {
    let app = populated(backend).await;
    let key = signing_key(&app);
    audit::Trail::new(app.db.clone()).sign_head(&key).await.expect("checkpoint");
    bypass_triggers(&app).await;
    let events = all_events(&app).await;
    audit_event::Entity::delete_many().filter(audit_event::Column::Seq.gt(9)).exec(&app.db).await.expect("truncate");
    set_head(&app, 9, &events[8].hash).await;
    let result = assert_broken_at(&app, 10).await;
    assert!(result["reason"].as_str().expect("reason").contains("missing"), "{result}");
}
