//! `GET /notifications`: the viewer's notifications, newest first, each decided again as it is
//! shown (a document they may no longer see is "no longer available", nothing more);
//! `POST /notifications/{id}/open` marks one read and goes to its document or request box;
//! `POST /notifications/read-all`.

use actix_web::{HttpResponse, web};
use minijinja::context;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Pairs, first, html_page, level_class, see_other, tlp_class};
use crate::notify::{NotificationView, NotificationsQuery, Opens, Service};
use crate::web::session::Viewer;
use crate::web::{WebError, WebState};

#[derive(Deserialize)]
pub struct PageQuery {
    cursor: Option<String>,
}

pub async fn page(
    viewer: Viewer,
    query: web::Query<PageQuery>,
    state: web::Data<WebState>,
    service: web::Data<Service>,
) -> Result<HttpResponse, WebError> {
    let asked = NotificationsQuery { cursor: query.into_inner().cursor, ..NotificationsQuery::default() };
    let page =
        service.notifications(&viewer.caller, asked).await.map_err(|e| WebError::from_service(e, viewer.lang))?;
    let items: Vec<Value> = page.items.iter().map(shown).collect();
    let next = page.next_cursor.map(|cursor| format!("/notifications?cursor={cursor}"));
    let html = state.render(
        "notifications.html",
        viewer.lang,
        Some(&viewer),
        context! { items => items, next => next, unread => page.unread },
    )?;
    Ok(html_page(html))
}

fn shown(item: &NotificationView) -> Value {
    json!({
        "id": item.id,
        "kind": item.kind.replace('-', "_"),
        "created_at": item.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        "read": item.read,
        "available": item.available,
        "saved_search": item.saved_search.as_ref().map(|s| s.name.clone()),
        "title": item.document.as_ref().map(|d| d.title.clone()),
        "classification": item.document.as_ref().map(|d| d.markings.classification().name().to_owned()),
        "classification_class": item.document.as_ref().map(|d| level_class(d.markings.classification())),
        "tlp": item.document.as_ref().map(|d| d.markings.tlp().as_str()),
        "tlp_class": item.document.as_ref().map(|d| tlp_class(d.markings.tlp())),
    })
}

/// `POST /notifications/{id}/open`: read, then to what it points to.
pub async fn open(
    viewer: Viewer,
    id: web::Path<String>,
    form: web::Form<Pairs>,
    service: web::Data<Service>,
) -> Result<HttpResponse, WebError> {
    let pairs = form.into_inner();
    viewer.check_csrf(first(&pairs, "csrf").unwrap_or_default())?;
    let failed = |e| WebError::from_service(e, viewer.lang);
    service.mark_read(&viewer.caller, &id).await.map_err(failed)?;
    let target = match service.opens(&viewer.caller, &id).await.map_err(failed)? {
        Some(Opens::Document(id)) => format!("/documents/{id}"),
        Some(Opens::IncomingRequests) => "/requests?box=incoming".to_owned(),
        Some(Opens::OutgoingRequests) => "/requests?box=outgoing".to_owned(),
        None => "/notifications".to_owned(),
    };
    Ok(see_other(&target))
}

/// `POST /notifications/read-all`.
pub async fn read_all(
    viewer: Viewer,
    form: web::Form<Pairs>,
    service: web::Data<Service>,
) -> Result<HttpResponse, WebError> {
    let pairs = form.into_inner();
    viewer.check_csrf(first(&pairs, "csrf").unwrap_or_default())?;
    service.mark_all_read(&viewer.caller).await.map_err(|e| WebError::from_service(e, viewer.lang))?;
    Ok(see_other("/notifications"))
}
