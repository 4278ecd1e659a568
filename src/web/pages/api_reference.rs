//! `GET /api/reference`: the OpenAPI document (`api::openapi`) for people — every operation with
//! its parameters, body and responses, then the schemas — rendered here from the same document
//! that `/api/openapi.json` serves, so the two cannot differ. No script, no CDN: the page is plain
//! HTML under the platform's Content-Security-Policy. Public, like the document.

use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::context;
use serde_json::{Value, json};

use super::html_page;
use crate::api::openapi::Spec;
use crate::web::{WebError, WebState, i18n};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

pub async fn page(
    req: HttpRequest,
    state: web::Data<WebState>,
    spec: web::Data<Spec>,
) -> Result<HttpResponse, WebError> {
    let document = spec.document();
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        for method in METHODS.iter().filter(|m| item.get(**m).is_some()) {
            operations.push(operation(method, path, &item[*method]));
        }
    }
    let schemas: Vec<Value> = document["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, schema)| schema_view(name, schema))
        .collect();
    let html = state.render(
        "api.html",
        i18n::negotiate(&req),
        None,
        minijinja::Value::from_serialize(context! {
            title => document["info"]["title"].as_str().unwrap_or_default(),
            version => document["info"]["version"].as_str().unwrap_or_default(),
            description => document["info"]["description"].as_str().unwrap_or_default(),
            server => document["servers"][0]["url"].as_str().unwrap_or_default(),
            discovery => document["components"]["securitySchemes"]["oidc"]["openIdConnectUrl"].as_str().unwrap_or_default(),
            operations => operations,
            schemas => schemas,
        }),
    )?;
    Ok(html_page(html))
}

fn operation(method: &str, path: &str, operation: &Value) -> Value {
    let parameters: Vec<Value> = operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            json!({
                "name": p["name"], "in": p["in"], "required": p["required"].as_bool().unwrap_or(false),
                "type": type_of(&p["schema"]), "description": p["description"],
            })
        })
        .collect();
    let body = operation["requestBody"]["content"].as_object().map(|content| {
        content.iter().map(|(media, c)| json!({"media": media, "type": type_of(&c["schema"])})).collect::<Vec<_>>()
    });
    let responses: Vec<Value> = operation["responses"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(status, r)| {
            let content: Vec<Value> = r["content"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(media, c)| json!({"media": media, "type": type_of(&c["schema"])}))
                .collect();
            let headers: Vec<&String> = r["headers"].as_object().into_iter().flat_map(|h| h.keys()).collect();
            json!({"status": status, "description": r["description"], "content": content, "headers": headers})
        })
        .collect();
    json!({
        "method": method.to_uppercase(), "path": path, "anchor": format!("{method}-{}", anchor(path)),
        "tag": operation["tags"][0], "description": operation["description"],
        "parameters": parameters, "body": body, "responses": responses,
    })
}

fn schema_view(name: &str, schema: &Value) -> Value {
    let required: Vec<&str> = schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let properties: Vec<Value> = schema["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(field, s)| {
            json!({"name": field, "type": type_of(s), "required": required.contains(&field.as_str()), "description": s["description"]})
        })
        .collect();
    json!({"name": name, "anchor": format!("schema-{name}"), "description": schema["description"], "type": type_of(schema), "properties": properties})
}

/// A schema in a few words: `string (date)`, `array of Hit`, `CLEAR | GREEN | …`.
fn type_of(schema: &Value) -> String {
    if let Some(reference) = schema["$ref"].as_str() {
        return reference.rsplit('/').next().unwrap_or(reference).to_owned();
    }
    if let Some(values) = schema["enum"].as_array() {
        return values
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(" | ");
    }
    for combinator in ["anyOf", "oneOf", "allOf"] {
        if let Some(options) = schema[combinator].as_array() {
            let joiner = if combinator == "allOf" { " & " } else { " | " };
            return options.iter().map(type_of).collect::<Vec<_>>().join(joiner);
        }
    }
    let kind = match &schema["type"] {
        Value::String(kind) => kind.clone(),
        Value::Array(kinds) => kinds.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" | "),
        _ => return "any".into(),
    };
    match (kind.as_str(), schema["format"].as_str()) {
        (k, _) if k.starts_with("array") => format!("array of {}", type_of(&schema["items"])),
        (_, Some(format)) => format!("{kind} ({format})"),
        _ if schema["maxLength"] == 0 => "empty".into(),
        _ => kind,
    }
}

fn anchor(path: &str) -> String {
    path.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect()
}
