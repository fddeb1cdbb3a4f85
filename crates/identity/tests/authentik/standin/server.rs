//! The stand-in's HTTP side: every request is checked against Authentik's schema,
//! routed under the lock, and its answer checked too; injected faults apply here.

use super::routes;
use super::{Call, Inner, TOKEN};
use crate::schema::{SCHEMA, check_all};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An answer: status, JSON body, and whether it is exempt from the schema check (with why).
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) body: Option<Value>,
    pub(super) exempt: Option<&'static str>,
}

pub(super) fn answer(status: u16, body: Value) -> Answer {
    Answer {
        status,
        body: Some(body),
        exempt: None,
    }
}

pub(super) fn empty(status: u16) -> Answer {
    Answer {
        status,
        body: None,
        exempt: None,
    }
}

pub(super) fn detail(status: u16, text: &str) -> Answer {
    answer(status, json!({ "detail": text }))
}

fn respond(status: u16, body: Option<&Value>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match body {
        Some(b) => (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            b.to_string(),
        )
            .into_response(),
        None => status.into_response(),
    }
}

pub(super) async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (response, delay) = {
        let mut st = inner.lock().unwrap_or_else(|p| p.into_inner());
        serve(&mut st, &method, &uri, &headers, &body)
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    response
}

/// Everything but the delay, under the lock.
fn serve(
    st: &mut Inner,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> (Response, Option<Duration>) {
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let number = st.calls.len() + 1;
    let tag = format!("call {number}: {method} {uri}");
    st.calls.push(Call {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: query.clone(),
        operation: String::new(),
    });

    if let Some(response) = super::browser::serve(st, method, uri, headers) {
        return (response, None);
    }
    let Some(rest) = uri.path().strip_prefix("/api/v3") else {
        st.violations.push(format!("{tag}: not under /api/v3"));
        return (respond(404, None), None);
    };
    let op = match SCHEMA.operation(method.as_str(), rest) {
        Ok(op) => op,
        Err(e) => {
            st.violations.push(format!("{tag}: {e}"));
            return (respond(405, Some(&json!({"detail": e}))), None);
        }
    };
    if let Some(call) = st.calls.last_mut() {
        call.operation = op.name.clone();
    }
    let call = (method.as_str(), rest);

    // The request, as the schema sees it.
    let json_body = if body.is_empty() {
        None
    } else {
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !is_json {
            st.violations
                .push(format!("{tag}: body is not sent as application/json"));
            let a = detail(415, "Unsupported media type in request.");
            return (finish(st, call, &tag, a), None);
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(v) => Some(v),
            Err(e) => {
                st.violations.push(format!("{tag}: body is not JSON: {e}"));
                let a = detail(400, &format!("JSON parse error - {e}"));
                return (finish(st, call, &tag, a), None);
            }
        }
    };
    let errors = check_all(|schema| {
        let op = schema.operation(call.0, call.1)?;
        Ok(schema.check_request(&op, &query, json_body.as_ref()))
    });
    if !errors.is_empty() {
        for e in &errors {
            st.violations.push(format!("{tag}: request: {e}"));
        }
        let a = answer(400, json!({ "non_field_errors": errors }));
        return (finish(st, call, &tag, a), None);
    }

    if st.down {
        return (respond(503, None), None);
    }
    let fault = st.faults.remove(&number).or_else(|| {
        let i = st.op_faults.iter().position(|(o, _)| *o == op.name)?;
        Some(st.op_faults.remove(i).1)
    });
    if let Some(f) = &fault
        && !f.after
    {
        let a = Answer {
            status: f.status,
            body: f.body.clone(),
            exempt: None,
        };
        return (finish(st, call, &tag, a), f.delay);
    }

    let a = match headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or(""))
    {
        None => detail(403, "Authentication credentials were not provided."),
        Some(v) if v == format!("Bearer {TOKEN}") => {
            routes::route(st, method, rest, &query, json_body.unwrap_or(Value::Null))
        }
        Some(_) => detail(403, "Token invalid/expired"),
    };
    let response = finish(st, call, &tag, a);
    match fault {
        Some(f) if f.status == 0 => (response, f.delay),
        Some(f) => {
            let a = Answer {
                status: f.status,
                body: f.body,
                exempt: None,
            };
            (finish(st, call, &tag, a), f.delay)
        }
        None => (response, None),
    }
}

/// Checks an answer against the schemas, then sends it.
fn finish(st: &mut Inner, call: (&str, &str), tag: &str, a: Answer) -> Response {
    if a.exempt.is_none() {
        let errors = check_all(|schema| {
            let op = schema.operation(call.0, call.1)?;
            Ok(schema.check_response(&op, a.status, a.body.as_ref()))
        });
        for e in errors {
            st.violations
                .push(format!("{tag}: answer {}: {e}", a.status));
        }
    }
    respond(a.status, a.body.as_ref())
}
