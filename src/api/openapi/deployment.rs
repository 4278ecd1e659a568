//! What the generated document cannot know or say by itself: this deployment's markings (levels
//! up to `max_classification`, countries), query parameters that take a date or a time and read
//! an empty value as absent, that the upload's `metadata` part is JSON, and the links from a
//! created document to the operations on it (clients and property-based testers follow them).

use serde_json::{Value, json};

use crate::policy::PolicyConfig;

/// TLP 2.0 labels and handling codes, as `policy::markings` parses them.
const TLP: [&str; 5] = ["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"];
const HANDLING_CODES: [&str; 4] = ["H0", "H1", "H2", "H3"];

pub fn describe(document: &mut Value, policy: &PolicyConfig) {
    let ladder = &policy.ladder;
    let levels: Vec<&str> =
        ladder.levels().iter().filter(|l| l.rank() <= ladder.max_classification().rank()).map(|l| l.name()).collect();
    let mut countries: Vec<&str> = policy.countries.iter().map(String::as_str).collect();
    countries.push("ALL");
    for (schema, nullable) in [("NewDocument", false), ("DocumentPatch", true)] {
        let properties = &mut document["components"]["schemas"][schema]["properties"];
        constrain(&mut properties["classification"], &levels, nullable);
        constrain(&mut properties["tlp"], &TLP, nullable);
        constrain(&mut properties["handling_code"], &HANDLING_CODES, nullable);
        constrain(&mut properties["releasable_to"]["items"], &countries, false);
    }
    let network: Vec<&str> = policy.countries.iter().map(String::as_str).collect();
    constrain(&mut document["components"]["schemas"]["Recipient"]["properties"]["country"], &network, false);
    let paths = &mut document["paths"];
    let date_or_time =
        json!({"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]});
    for path in ["/api/v1/search", "/api/v1/audit", "/api/v1/audit/export"] {
        for bound in ["from", "to"] {
            set_parameter(&mut paths[path]["get"], bound, |schema| *schema = date_or_time.clone());
        }
    }
    set_parameter(&mut paths["/api/v1/search"]["get"], "sort", |schema| {
        *schema = json!({"enum": ["relevance", "date"]})
    });
    set_parameter(&mut paths["/api/v1/audit/export"]["get"], "format", |schema| {
        *schema = json!({"enum": ["jsonl", "csv"]})
    });
    // The audit routes share their parsing with the web page's filter form, which sends every
    // field: an empty value means "not given" — so it is valid there.
    for path in ["/api/v1/audit", "/api/v1/audit/export"] {
        for name in ["actor", "document", "action", "outcome", "from", "to", "cursor", "limit", "format"] {
            set_parameter(&mut paths[path]["get"], name, |schema| {
                *schema = json!({"anyOf": [schema.take(), {"type": "string", "maxLength": 0}]});
            });
        }
    }
    for name in ["from", "to", "sort", "cursor"] {
        set_parameter(&mut paths["/api/v1/search"]["get"], name, |schema| {
            *schema = json!({"anyOf": [schema.take(), {"type": "string", "maxLength": 0}]});
        });
    }

    // An upload takes exactly its parts (anything else answers 400 malformed-request).
    for form in ["UploadForm", "VersionForm"] {
        document["components"]["schemas"][form]["additionalProperties"] = Value::Bool(false);
    }

    for path in ["/api/v1/documents", "/api/v1/documents/{id}/derivatives"] {
        document["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]["encoding"] =
            json!({"metadata": {"contentType": "application/json"}});
    }
    let upload = &mut document["paths"]["/api/v1/documents"]["post"];
    let id = json!({"id": "$response.body#/id"});
    upload["responses"]["201"]["links"] = json!({
        "GetDocument": {"operationId": "get", "parameters": id},
        "UpdateDocument": {"operationId": "update", "parameters": id},
        "GetContent": {"operationId": "content", "parameters": id},
        "AddVersion": {"operationId": "add_version", "parameters": id},
        "Publish": {"operationId": "publish", "parameters": id},
        "Withdraw": {"operationId": "withdraw", "parameters": id},
        "RequestFromProvider": {"operationId": "create_request", "parameters": id},
        "CreateDerivative": {"operationId": "create_derivative", "parameters": id},
    });
    let request = &mut document["paths"]["/api/v1/documents/{id}/requests"]["post"];
    request["responses"]["201"]["links"] = json!({"Decide": {"operationId": "decide_request", "parameters": id}});
}

/// Rewrite the schema of `operation`'s parameter `name`.
fn set_parameter(operation: &mut Value, name: &str, change: impl FnOnce(&mut Value)) {
    let parameter =
        operation["parameters"].as_array_mut().and_then(|parameters| parameters.iter_mut().find(|p| p["name"] == name));
    if let Some(parameter) = parameter {
        change(&mut parameter["schema"]);
    }
}

/// `values` are the only ones a field accepts (and `null`, where it may be cleared).
fn constrain(field: &mut Value, values: &[&str], nullable: bool) {
    let mut allowed: Vec<Value> = values.iter().map(|v| json!(v)).collect();
    if nullable {
        allowed.push(Value::Null);
    }
    if let Some(field) = field.as_object_mut() {
        field.insert("enum".into(), Value::Array(allowed));
    }
}
