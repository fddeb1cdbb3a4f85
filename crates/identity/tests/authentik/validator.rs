//! The stand-in's schema checks themselves: real recorded answers pass, and requests the
//! schema rejects are caught (so a green run means something).

use crate::schema::{SCHEMA, shared_file};
use crate::standin::{StandIn, TOKEN};
use serde_json::{Value, json};

fn example(name: &str) -> (String, String, u16, Value) {
    let text = std::fs::read_to_string(shared_file(&format!("examples/{name}"))).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let request = v["request"].as_str().unwrap();
    let mut words = request.split_whitespace();
    let method = words.next().unwrap().to_owned();
    let path = words
        .next()
        .unwrap()
        .strip_prefix("/api/v3")
        .unwrap()
        .to_owned();
    (
        method,
        path,
        v["status"].as_u64().unwrap() as u16,
        v["body"].clone(),
    )
}

#[test]
fn recorded_authentik_answers_pass_the_schema_checks() {
    for name in [
        "01_group_create.json",
        "02_group_dup.json",
        "03_user_create.json",
        "04_user_dup.json",
        "07_group_get.json",
    ] {
        let (method, path, status, body) = example(name);
        let path = path.replace("{pk}", "dd2d56da-286c-4cc7-9060-3c4bc536b555");
        let op = SCHEMA.operation(&method, &path).unwrap();
        let errors = SCHEMA.check_response(&op, status, Some(&body));
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
}

#[test]
fn answers_the_schema_rejects_are_caught() {
    let (_, _, _, mut user) = example("03_user_create.json");
    let op = SCHEMA.operation("POST", "/core/users/").unwrap();
    user.as_object_mut().unwrap().remove("uid");
    user["pk"] = json!("5");
    user["surname"] = json!("x");
    let errors = SCHEMA.check_response(&op, 201, Some(&user));
    assert_eq!(
        errors,
        [
            "body: required property uid is missing",
            "body.pk: \"5\" is not of type integer",
            "body.surname: not a property of this object",
        ]
    );
    assert_eq!(
        SCHEMA.check_response(&op, 204, None),
        ["status 204 is not documented"]
    );
}

#[test]
fn requests_the_schema_rejects_are_caught() {
    let op = SCHEMA.operation("POST", "/core/users/").unwrap();
    let errors = SCHEMA.check_request(
        &op,
        &[],
        Some(&json!({"username": "a", "is_active": "yes"})),
    );
    assert_eq!(
        errors,
        [
            "body: required property name is missing",
            "body.is_active: \"yes\" is not of type boolean",
        ]
    );
    let op = SCHEMA.operation("GET", "/core/users/").unwrap();
    let query = [("group_by_name".to_owned(), "x".to_owned())];
    assert_eq!(
        SCHEMA.check_request(&op, &query, None),
        ["query parameter group_by_name is not in the schema"]
    );
    let op = SCHEMA.operation("GET", "/core/users/me/").unwrap();
    assert_eq!(op.name, "GET /core/users/me/");
    let op = SCHEMA.operation("GET", "/core/users/abc/").unwrap();
    assert_eq!(
        SCHEMA.check_request(&op, &[], None),
        ["path parameter id: \"abc\" is not an integer"]
    );
    assert!(
        SCHEMA.operation("GET", "/core/users/5/recovery/").is_err(),
        "recovery is POST"
    );
}

#[tokio::test]
async fn the_stand_in_refuses_and_records_a_request_the_schema_rejects() {
    let ak = StandIn::start().await;
    loyalty_identity::authentik::install_crypto_provider();
    let response = reqwest::Client::new()
        .post(format!("{}/api/v3/core/groups/", ak.url))
        .bearer_auth(TOKEN)
        .json(&json!({"nam": "typo-admins"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let violations = ak.take_violations();
    assert_eq!(violations.len(), 2, "{violations:?}");
    assert!(violations[0].ends_with("request: body: required property name is missing"));
    assert!(violations[1].ends_with("request: body.nam: not a property of this object"));
    assert!(ak.group_names().is_empty());
}

#[tokio::test]
#[should_panic(expected = "schema rejects")]
async fn a_test_whose_calls_the_schema_rejects_fails() {
    let ak = StandIn::start().await;
    loyalty_identity::authentik::install_crypto_provider();
    let _ = reqwest::Client::new()
        .get(format!("{}/api/v3/core/users/?group_by_name=x", ak.url))
        .bearer_auth(TOKEN)
        .send()
        .await;
    // `ak` is dropped here with a violation recorded, which fails the test.
}
