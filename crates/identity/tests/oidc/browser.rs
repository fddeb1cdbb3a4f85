//! A minimal browser for the sign-in: follows redirects by hand (so that it can stop at
//! the one to our redirect URI), keeps cookies, and fills oidc-provider's development
//! login and consent forms.

use crate::provider::REDIRECT_URI;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use std::collections::BTreeMap;
use url::Url;

/// What came back to our redirect URI.
#[derive(Debug)]
pub struct Callback {
    /// `code`.
    pub code: String,
    /// `state`.
    pub state: String,
}

/// Signs in as `login` starting at `authorize_url`, and returns the callback's
/// parameters.
pub async fn sign_in(authorize_url: &Url, login: &str) -> Callback {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut cookies: BTreeMap<String, String> = BTreeMap::new();
    let mut url = authorize_url.clone();
    let mut form: Option<Vec<(&str, String)>> = None;
    for _ in 0..20 {
        let jar = cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut request = match form.take() {
            Some(fields) => http.post(url.clone()).form(&fields),
            None => http.get(url.clone()),
        };
        if !jar.is_empty() {
            request = request.header(COOKIE, jar);
        }
        let response = request.send().await.unwrap();
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                let gone = value.is_empty()
                    || text
                        .to_ascii_lowercase()
                        .contains("expires=thu, 01 jan 1970");
                if gone {
                    cookies.remove(name.trim());
                } else {
                    cookies.insert(name.trim().to_owned(), value.trim().to_owned());
                }
            }
        }
        let status = response.status();
        if status.is_redirection() {
            let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
            let next = url.join(&location).unwrap();
            if next.as_str().starts_with(REDIRECT_URI) {
                let param = |name: &str| {
                    next.query_pairs()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.into_owned())
                };
                if let Some(error) = param("error") {
                    panic!(
                        "the provider answered the sign-in with {error}: {:?}",
                        param("error_description")
                    );
                }
                return Callback {
                    code: param("code").expect("code in the callback"),
                    state: param("state").expect("state in the callback"),
                };
            }
            url = next;
            continue;
        }
        let is_html = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        let body = response.text().await.unwrap();
        assert!(
            status == StatusCode::OK && is_html,
            "unexpected answer {status} at {url}: {body}"
        );
        if body.contains(r#"name="prompt" value="login""#) {
            form = Some(vec![
                ("prompt", "login".into()),
                ("login", login.into()),
                ("password", "any password".into()),
            ]);
        } else if body.contains(r#"name="prompt" value="consent""#) {
            form = Some(vec![("prompt", "consent".into())]);
        } else {
            panic!("a page without the login or consent form at {url}: {body}");
        }
    }
    panic!("no redirect to {REDIRECT_URI} after 20 steps");
}

/// The provider's raw tokens for one sign-in, exchanged by the test itself (to look at
/// them and to edit them): `(id_token, access_token)`.
pub async fn raw_tokens(
    provider: &crate::provider::Provider,
    client: &loyalty_identity::oidc::OidcClient,
) -> (String, String) {
    use crate::provider::{CLIENT_ID, CLIENT_SECRET, SUBJECT};
    let start = client.begin_login();
    let callback = sign_in(&start.authorize_url, SUBJECT).await;
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/token", provider.issuer))
        .basic_auth(
            CLIENT_ID,
            Some(
                url::form_urlencoded::byte_serialize(CLIENT_SECRET.as_bytes()).collect::<String>(),
            ),
        )
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &callback.code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &start.pkce_verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let field = |name: &str| {
        answer[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} in {answer}"))
            .to_owned()
    };
    (field("id_token"), field("access_token"))
}
