//! `GET /language?lang=sq&return_to=/…`: remember the interface language in a cookie and go back.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::see_other;
use crate::web::i18n;

#[derive(Deserialize)]
pub struct LanguageQuery {
    lang: String,
    return_to: Option<String>,
}

pub async fn switch(query: web::Query<LanguageQuery>) -> HttpResponse {
    let Some((code, _)) = i18n::LANGUAGES.iter().find(|(code, _)| *code == query.lang) else {
        return see_other("/");
    };
    let back = crate::redirect::local_path(query.return_to.as_deref());
    let cookie = actix_web::cookie::Cookie::build(i18n::COOKIE, *code)
        .path("/")
        .same_site(actix_web::cookie::SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::days(365))
        .finish();
    HttpResponse::SeeOther().cookie(cookie).insert_header((header::LOCATION, back.to_owned())).finish()
}
