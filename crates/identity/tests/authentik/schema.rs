//! Authentik's OpenAPI schemas (`shared/authentik/schema.yml`, Authentik 2026.2, and
//! `schema-2025.12.4.yml`), loaded once per test process, and a checker for the part of OpenAPI 3.0 that schema uses:
//! operations by method and path template, path and query parameters, request and
//! response bodies with `$ref`, `required`, `type`, `nullable`, `enum`, `format`,
//! `readOnly` and lengths.
//!
//! It is stricter than Authentik in one way on purpose: a property or query parameter
//! the schema does not name is an error. Authentik ignores those silently, which would
//! hide a typo such as `group_by_name` that turns a filtered list into a list of everyone.

use serde_json::Value;
use std::path::PathBuf;
use std::sync::LazyLock;

/// The schema of Authentik 2026.2, loaded on first use.
pub static SCHEMA: LazyLock<Schema> = LazyLock::new(|| Schema::load("schema.yml"));

/// The schema of Authentik 2025.12.4 (the version the examples were recorded from).
pub static SCHEMA_2025: LazyLock<Schema> = LazyLock::new(|| Schema::load("schema-2025.12.4.yml"));

/// Every schema a call is checked against, with its Authentik version.
pub fn schemas() -> [(&'static str, &'static Schema); 2] {
    [("2026.2", &SCHEMA), ("2025.12.4", &SCHEMA_2025)]
}

/// The errors `check` finds under every schema: an error all schemas agree on is
/// reported once as it is; one that only some schemas find names their versions.
pub fn check_all(mut check: impl FnMut(&Schema) -> Result<Vec<String>, String>) -> Vec<String> {
    let found: Vec<(&str, Vec<String>)> = schemas()
        .into_iter()
        .map(|(version, schema)| (version, check(schema).unwrap_or_else(|e| vec![e])))
        .collect();
    let mut out: Vec<String> = Vec::new();
    for (_, errors) in &found {
        for e in errors {
            if out
                .iter()
                .any(|o| o == e || o.starts_with(&format!("{e} (schema ")))
            {
                continue;
            }
            let versions: Vec<&str> = found
                .iter()
                .filter(|(_, errs)| errs.contains(e))
                .map(|(v, _)| *v)
                .collect();
            if versions.len() == found.len() {
                out.push(e.clone());
            } else {
                out.push(format!("{e} (schema {} only)", versions.join(", ")));
            }
        }
    }
    out
}

/// Where the schema is: `LOYALTY_AUTHENTIK_SCHEMA`, else `shared/authentik/` beside
/// the repository (as on the developers' machines and in CI).
pub fn shared_file(name: &str) -> PathBuf {
    if name == "schema.yml"
        && let Ok(p) = std::env::var("LOYALTY_AUTHENTIK_SCHEMA")
    {
        return PathBuf::from(p);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        manifest.join("../../../shared/authentik").join(name),
        manifest.join("../../shared/authentik").join(name),
        PathBuf::from("/work/shared/authentik").join(name),
    ];
    candidates
        .iter()
        .find(|p| p.exists())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "cannot find shared/authentik/{name} (looked at {candidates:?}); \
                 set LOYALTY_AUTHENTIK_SCHEMA to the schema file"
            )
        })
}

/// Authentik's OpenAPI document.
pub struct Schema {
    doc: Value,
}

/// One operation of the schema, matched to a request.
pub struct Operation<'a> {
    /// `GET /core/users/{id}/`.
    pub name: String,
    op: &'a Value,
    path_item: &'a Value,
    /// Path parameter values by name.
    path_params: Vec<(String, String)>,
}

/// A path template that fits a request: literal segments, template, path item, parameters.
type Match<'a> = (usize, &'a String, &'a Value, Vec<(String, String)>);

/// Whether a body is sent to Authentik or comes from it (`readOnly` properties may only
/// come from it).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Request,
    Response,
}

impl Schema {
    fn load(name: &str) -> Self {
        let path = shared_file(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let doc: Value = serde_yaml_ng::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
        assert_eq!(
            doc.pointer("/servers/0/url").and_then(Value::as_str),
            Some("/api/v3"),
            "schema's server URL"
        );
        Self { doc }
    }

    /// Follows `$ref`s (`#/components/...`) until a schema without one.
    fn resolve<'a>(&'a self, mut v: &'a Value) -> &'a Value {
        for _ in 0..32 {
            match v.get("$ref").and_then(Value::as_str) {
                Some(r) => {
                    let pointer = r.strip_prefix('#').unwrap_or(r);
                    v = self
                        .doc
                        .pointer(pointer)
                        .unwrap_or_else(|| panic!("schema: dangling $ref {r}"));
                }
                None => return v,
            }
        }
        panic!("schema: $ref chain too long")
    }

    /// The operation for `method` on `path` (relative to `/api/v3`, such as
    /// `/core/users/5/`): the template with the most literal segments wins, so
    /// `/core/users/me/` is `me`, not `{id}`.
    pub fn operation(&self, method: &str, path: &str) -> Result<Operation<'_>, String> {
        let want: Vec<&str> = path.split('/').collect();
        let paths = self
            .doc
            .get("paths")
            .and_then(Value::as_object)
            .ok_or("schema has no paths")?;
        let mut best: Option<Match<'_>> = None;
        for (template, item) in paths {
            let have: Vec<&str> = template.split('/').collect();
            if have.len() != want.len() {
                continue;
            }
            let mut literal = 0;
            let mut params = Vec::new();
            let fits = have.iter().zip(&want).all(|(h, w)| {
                if let Some(name) = h.strip_prefix('{').and_then(|h| h.strip_suffix('}')) {
                    params.push((name.to_owned(), (*w).to_owned()));
                    !w.is_empty()
                } else {
                    literal += 1;
                    h == w
                }
            });
            if fits && best.as_ref().is_none_or(|b| literal > b.0) {
                best = Some((literal, template, item, params));
            }
        }
        let (_, template, item, path_params) =
            best.ok_or_else(|| format!("no operation in the schema has the path {path}"))?;
        let op = item
            .get(method.to_ascii_lowercase())
            .ok_or_else(|| format!("the schema has no {method} on {template}"))?;
        Ok(Operation {
            name: format!("{method} {template}"),
            op,
            path_item: item,
            path_params,
        })
    }

    fn parameters<'a>(&'a self, op: &Operation<'a>) -> Vec<&'a Value> {
        let mut out = Vec::new();
        for list in [op.path_item.get("parameters"), op.op.get("parameters")]
            .into_iter()
            .flatten()
        {
            if let Some(items) = list.as_array() {
                out.extend(items.iter().map(|p| self.resolve(p)));
            }
        }
        out
    }

    /// Everything wrong with a request: path and query parameters, and the body.
    pub fn check_request(
        &self,
        op: &Operation<'_>,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Vec<String> {
        let mut errors = Vec::new();
        let params = self.parameters(op);
        let find = |place: &str, name: &str| {
            params.iter().copied().find(|p| {
                p.get("in").and_then(Value::as_str) == Some(place)
                    && p.get("name").and_then(Value::as_str) == Some(name)
            })
        };
        for (name, value) in &op.path_params {
            match find("path", name) {
                Some(p) => self.check_text(
                    p.get("schema").unwrap_or(&Value::Null),
                    value,
                    &format!("path parameter {name}"),
                    &mut errors,
                ),
                None => errors.push(format!("path parameter {name} is not declared")),
            }
        }
        for (i, (name, value)) in query.iter().enumerate() {
            let Some(p) = find("query", name) else {
                errors.push(format!("query parameter {name} is not in the schema"));
                continue;
            };
            let schema = self.resolve(p.get("schema").unwrap_or(&Value::Null));
            let is_array = schema.get("type").and_then(Value::as_str) == Some("array");
            if !is_array && query[..i].iter().any(|(n, _)| n == name) {
                errors.push(format!(
                    "query parameter {name} is repeated but not an array"
                ));
            }
            let item = if is_array {
                schema.get("items").unwrap_or(&Value::Null)
            } else {
                schema
            };
            self.check_text(item, value, &format!("query parameter {name}"), &mut errors);
        }
        for p in &params {
            if p.get("required").and_then(Value::as_bool) == Some(true)
                && p.get("in").and_then(Value::as_str) == Some("query")
            {
                let name = p.get("name").and_then(Value::as_str).unwrap_or("");
                if !query.iter().any(|(n, _)| n == name) {
                    errors.push(format!("required query parameter {name} is missing"));
                }
            }
        }
        let declared = op.op.get("requestBody").map(|b| self.resolve(b));
        match (declared, body) {
            (None, Some(_)) => errors.push("the operation takes no request body".into()),
            (Some(decl), None) => {
                if decl.get("required").and_then(Value::as_bool) == Some(true) {
                    errors.push("the request body is required".into());
                }
            }
            (Some(decl), Some(body)) => match decl.pointer("/content/application~1json/schema") {
                Some(schema) => {
                    self.check_value(schema, body, "body", Direction::Request, &mut errors)
                }
                None => errors.push("the operation takes no JSON body".into()),
            },
            (None, None) => {}
        }
        errors
    }

    /// Everything wrong with a response of `status` with `body`.
    ///
    /// drf-spectacular lists only the statuses a view declares, but Django REST
    /// framework answers 404 (unknown object), 405 and 5xx on every endpoint, with a
    /// `GenericError` body (`{"detail": ...}`) or none; those pass with such a body. For
    /// the same reason an error status declared without content may carry a
    /// `GenericError` body.
    pub fn check_response(
        &self,
        op: &Operation<'_>,
        status: u16,
        body: Option<&Value>,
    ) -> Vec<String> {
        let mut errors = Vec::new();
        let generic = serde_json::json!({"$ref": "#/components/schemas/GenericError"});
        let declared = op
            .op
            .get("responses")
            .and_then(|r| r.get(status.to_string()).or_else(|| r.get("default")))
            .map(|r| self.resolve(r));
        let schema = match declared {
            Some(r) => r.pointer("/content/application~1json/schema"),
            None if status == 404 || status == 405 || status >= 500 => {
                if let Some(body) = body {
                    self.check_value(&generic, body, "body", Direction::Response, &mut errors);
                }
                return errors;
            }
            None => {
                errors.push(format!("status {status} is not documented"));
                return errors;
            }
        };
        match (schema, body) {
            (Some(schema), Some(body)) => {
                self.check_value(schema, body, "body", Direction::Response, &mut errors)
            }
            (Some(_), None) => errors.push(format!("status {status} must have a JSON body")),
            (None, Some(body)) if status >= 400 => {
                self.check_value(&generic, body, "body", Direction::Response, &mut errors)
            }
            (None, Some(_)) => errors.push(format!("status {status} must have no body")),
            (None, None) => {}
        }
        errors
    }

    /// A path or query value (text) against a scalar schema.
    fn check_text(&self, schema: &Value, text: &str, at: &str, errors: &mut Vec<String>) {
        let schema = self.resolve(schema);
        let value = match schema.get("type").and_then(Value::as_str) {
            Some("integer") => match text.parse::<i64>() {
                Ok(n) => Value::from(n),
                Err(_) => {
                    errors.push(format!("{at}: {text:?} is not an integer"));
                    return;
                }
            },
            Some("number") => match text.parse::<f64>() {
                Ok(n) => Value::from(n),
                Err(_) => {
                    errors.push(format!("{at}: {text:?} is not a number"));
                    return;
                }
            },
            Some("boolean") => match text {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => {
                    errors.push(format!("{at}: {text:?} is not true or false"));
                    return;
                }
            },
            _ => Value::String(text.to_owned()),
        };
        self.check_value(schema, &value, at, Direction::Request, errors);
    }

    /// A JSON value against a schema.
    fn check_value(
        &self,
        schema: &Value,
        value: &Value,
        at: &str,
        direction: Direction,
        errors: &mut Vec<String>,
    ) {
        let schema = self.resolve(schema);
        // `{allOf: [$ref], nullable: true}` allows null whatever the referenced schema says
        // (as in `meta_icon_themed_urls`).
        if value.is_null() && schema.get("nullable").and_then(Value::as_bool) == Some(true) {
            return;
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for s in all {
                self.check_value(s, value, at, direction, errors);
            }
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(options) = schema.get(key).and_then(Value::as_array) {
                let fits = options.iter().any(|s| {
                    let mut e = Vec::new();
                    self.check_value(s, value, at, direction, &mut e);
                    e.is_empty()
                });
                if !fits {
                    errors.push(format!("{at}: matches none of {key}"));
                }
            }
        }
        if value.is_null() {
            if schema.get("nullable").and_then(Value::as_bool) != Some(true)
                && schema.get("type").is_some()
            {
                errors.push(format!("{at}: null, but not nullable"));
            }
            return;
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array)
            && !options.contains(value)
        {
            errors.push(format!("{at}: {value} is not one of {options:?}"));
        }
        let Some(kind) = schema.get("type").and_then(Value::as_str) else {
            return;
        };
        let type_ok = match kind {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            _ => true,
        };
        if !type_ok {
            errors.push(format!("{at}: {value} is not of type {kind}"));
            return;
        }
        match value {
            Value::Object(map) => self.check_object(schema, map, at, direction, errors),
            Value::Array(items) => {
                if let Some(item) = schema.get("items") {
                    for (i, v) in items.iter().enumerate() {
                        self.check_value(item, v, &format!("{at}[{i}]"), direction, errors);
                    }
                }
            }
            Value::String(s) => check_string(schema, s, at, errors),
            _ => {}
        }
    }

    fn check_object(
        &self,
        schema: &Value,
        map: &serde_json::Map<String, Value>,
        at: &str,
        direction: Direction,
        errors: &mut Vec<String>,
    ) {
        let empty = serde_json::Map::new();
        let props = schema
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !map.contains_key(name) {
                errors.push(format!("{at}: required property {name} is missing"));
            }
        }
        for (name, v) in map {
            let here = format!("{at}.{name}");
            match props.get(name) {
                Some(p) => {
                    let p_resolved = self.resolve(p);
                    let read_only = p.get("readOnly").or_else(|| p_resolved.get("readOnly"));
                    if direction == Direction::Request && read_only == Some(&Value::Bool(true)) {
                        errors.push(format!("{here}: read-only, must not be sent"));
                    }
                    self.check_value(p, v, &here, direction, errors);
                }
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) | None => {
                        errors.push(format!("{here}: not a property of this object"))
                    }
                    Some(Value::Bool(true)) => {}
                    Some(extra) => self.check_value(extra, v, &here, direction, errors),
                },
            }
        }
    }
}

fn check_string(schema: &Value, s: &str, at: &str, errors: &mut Vec<String>) {
    let len = s.chars().count() as u64;
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
        && len < min
    {
        errors.push(format!("{at}: shorter than {min}"));
    }
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
        && len > max
    {
        errors.push(format!("{at}: longer than {max}"));
    }
    let ok = match schema.get("format").and_then(Value::as_str) {
        Some("uuid") => uuid::Uuid::parse_str(s).is_ok(),
        Some("date-time") => {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
        }
        // Authentik answers "" for a user without email.
        Some("email") => s.is_empty() || s.contains('@'),
        _ => true,
    };
    if !ok {
        errors.push(format!(
            "{at}: {s:?} is not a valid {:?}",
            schema.get("format")
        ));
    }
}
