//! The stand-in's endpoints: what each one does to the in-memory groups, users and
//! memberships, and Authentik's answers (shapes and error bodies) for it.

use super::{Answer, Group, Inner, Recovery, User, answer, detail, empty, now};
use axum::http::Method;
use serde_json::{Value, json};
use uuid::Uuid;

pub(super) fn flag(query: &[(String, String)], name: &str, default: bool) -> bool {
    query
        .iter()
        .find(|(n, _)| n == name)
        .map_or(default, |(_, v)| v == "true")
}

pub(super) fn values<'a>(query: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    query
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn invalid_choice(field: &str, value: &str) -> Answer {
    answer(
        400,
        json!({ field: [format!("Select a valid choice. {value} is not one of the available choices.")] }),
    )
}

pub(super) fn route(
    st: &mut Inner,
    method: &Method,
    rest: &str,
    query: &[(String, String)],
    body: Value,
) -> Answer {
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["core", "groups"]) => st.list_groups(query),
        ("POST", ["core", "groups"]) => st.create_group(&body),
        ("GET", ["core", "groups", id]) => match st.group_index(id) {
            Some(i) => answer(
                200,
                st.group_json(&st.groups[i], flag(query, "include_users", true)),
            ),
            None => detail(404, "No Group matches the given query."),
        },
        ("POST", ["core", "groups", id, verb @ ("add_user" | "remove_user")]) => {
            st.membership(id, verb, &body)
        }
        ("GET", ["core", "users"]) => st.list_users(query),
        ("POST", ["core", "users"]) => st.create_user(&body),
        ("GET", ["core", "users", "me"]) => answer(200, st.me()),
        ("GET", ["core", "users", id]) => match st.user_index(id) {
            Some(i) => answer(200, st.user_json(&st.users[i], true)),
            None => detail(404, "No User matches the given query."),
        },
        ("PATCH", ["core", "users", id]) => st.patch_user(id, &body),
        ("DELETE", ["core", "users", id]) => match st.user_index(id) {
            Some(i) => {
                let gone = st.users.remove(i);
                st.members.retain(|(_, pk)| *pk != gone.pk);
                empty(204)
            }
            None => detail(404, "No User matches the given query."),
        },
        ("POST", ["core", "users", id, "set_password"]) => match st.user_index(id) {
            Some(i) => {
                st.users[i].password = body
                    .get("password")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                st.users[i].password_change_date = now();
                empty(204)
            }
            None => detail(404, "No User matches the given query."),
        },
        ("POST", ["core", "users", id, "recovery"]) => st.recovery(id),
        (m, ["flows" | "stages", ..]) | (m, ["core", "brands", ..]) => {
            super::flows::route(st, m, &segments, query, &body)
        }
        (m, ["propertymappings" | "crypto" | "providers", ..])
        | (m @ ("POST" | "PATCH"), ["core", "applications", ..])
        | (m @ "GET", ["core", "applications", _]) => {
            super::oauth::route(st, m, &segments, query, &body)
        }
        _ => {
            st.violations.push(format!(
                "{method} {rest}: in the schema, but the stand-in does not serve it"
            ));
            detail(405, "Not served by the stand-in.")
        }
    }
}

impl Inner {
    fn group_index(&self, id: &str) -> Option<usize> {
        let uuid = Uuid::parse_str(id).ok()?;
        self.groups.iter().position(|g| g.uuid == uuid)
    }

    fn user_index(&self, id: &str) -> Option<usize> {
        let pk: i64 = id.parse().ok()?;
        self.users.iter().position(|u| u.pk == pk)
    }

    fn partial_user(u: &User) -> Value {
        json!({
            "pk": u.pk, "username": u.username, "name": u.name, "is_active": u.is_active,
            "last_login": null, "email": u.email, "attributes": u.attributes, "uid": u.uid,
        })
    }

    pub(super) fn group_json(&self, g: &Group, include_users: bool) -> Value {
        let users: Vec<&User> = self
            .users
            .iter()
            .filter(|u| self.members.contains(&(g.uuid, u.pk)))
            .collect();
        json!({
            "pk": g.uuid, "num_pk": g.num_pk, "name": g.name, "is_superuser": false,
            "parents": [], "parents_obj": null,
            "users": users.iter().map(|u| u.pk).collect::<Vec<_>>(),
            "users_obj": include_users.then(|| users.iter().map(|u| Self::partial_user(u)).collect::<Vec<_>>()),
            "attributes": g.attributes, "roles": [], "roles_obj": [],
            "inherited_roles_obj": null, "children": [], "children_obj": null,
        })
    }

    pub(super) fn user_json(&self, u: &User, include_groups: bool) -> Value {
        let groups: Vec<&Group> = self
            .groups
            .iter()
            .filter(|g| self.members.contains(&(g.uuid, u.pk)))
            .collect();
        json!({
            "pk": u.pk, "username": u.username, "name": u.name, "is_active": u.is_active,
            "last_login": null, "date_joined": u.date_joined, "is_superuser": false,
            "groups": groups.iter().map(|g| g.uuid).collect::<Vec<_>>(),
            "groups_obj": include_groups.then(|| groups.iter().map(|g| json!({
                "pk": g.uuid, "num_pk": g.num_pk, "name": g.name, "is_superuser": false,
                "attributes": g.attributes,
            })).collect::<Vec<_>>()),
            "roles": [], "roles_obj": [], "email": u.email,
            "avatar": "data:image/svg+xml;base64,...", "attributes": u.attributes,
            "uid": u.uid, "path": u.path, "type": u.kind, "uuid": u.uuid,
            "password_change_date": u.password_change_date, "last_updated": u.last_updated,
        })
    }

    fn me(&self) -> Value {
        json!({ "user": {
            "pk": 1, "username": "akadmin", "name": "authentik Default Admin",
            "is_active": true, "is_superuser": true, "groups": [], "roles": [],
            "email": "admin@example.test", "avatar": "data:image/svg+xml;base64,...",
            "uid": "0".repeat(64), "settings": {}, "type": "internal",
            "system_permissions": [],
        }})
    }

    /// One page of `items`, Authentik's pagination block included.
    pub(super) fn page(&self, query: &[(String, String)], items: Vec<Value>) -> Answer {
        let asked: usize = values(query, "page_size")
            .first()
            .and_then(|v| v.parse().ok())
            .unwrap_or(self.page_size);
        let size = asked.clamp(1, self.page_size);
        let page: usize = values(query, "page")
            .first()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let count = items.len();
        let total_pages = count.div_ceil(size).max(1);
        if page == 0 || page > total_pages {
            return detail(404, "Invalid page.");
        }
        let start = (page - 1) * size;
        let results: Vec<Value> = items.into_iter().skip(start).take(size).collect();
        let shown = results.len();
        answer(
            200,
            json!({
                "pagination": {
                    "next": if page < total_pages { page + 1 } else { 0 },
                    "previous": page.saturating_sub(1),
                    "count": count, "current": page, "total_pages": total_pages,
                    "start_index": if shown == 0 { 0 } else { start + 1 },
                    "end_index": start + shown,
                },
                "results": results,
                "autocomplete": {},
            }),
        )
    }

    pub(super) fn unsupported(&mut self, query: &[(String, String)], served: &[&str]) -> bool {
        let mut bad = false;
        for (name, _) in query {
            if !served.contains(&name.as_str()) {
                self.violations.push(format!(
                    "filter {name} is in the schema but the stand-in does not serve it"
                ));
                bad = true;
            }
        }
        bad
    }

    fn list_groups(&mut self, query: &[(String, String)]) -> Answer {
        let served = [
            "name",
            "members_by_pk",
            "members_by_username",
            "include_users",
            "page",
            "page_size",
        ];
        if self.unsupported(query, &served) {
            return detail(400, "unsupported filter");
        }
        let mut pks = Vec::new();
        for v in values(query, "members_by_pk") {
            match v
                .parse::<i64>()
                .ok()
                .filter(|pk| self.users.iter().any(|u| u.pk == *pk))
            {
                Some(pk) => pks.push(pk),
                None => return invalid_choice("members_by_pk", v),
            }
        }
        for v in values(query, "members_by_username") {
            match self.users.iter().find(|u| u.username == v) {
                Some(u) => pks.push(u.pk),
                None => return invalid_choice("members_by_username", v),
            }
        }
        let names = values(query, "name");
        let include_users = flag(query, "include_users", true);
        let mut groups: Vec<&Group> = self
            .groups
            .iter()
            .filter(|g| names.iter().all(|n| g.name == *n))
            .filter(|g| {
                pks.is_empty() || pks.iter().any(|pk| self.members.contains(&(g.uuid, *pk)))
            })
            .collect();
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        let items = groups
            .iter()
            .map(|g| self.group_json(g, include_users))
            .collect();
        self.page(query, items)
    }

    fn create_group(&mut self, body: &Value) -> Answer {
        let name = body["name"].as_str().unwrap_or_default().to_owned();
        if self.groups.iter().any(|g| g.name == name) {
            return answer(
                400,
                json!({"name": ["Group with this name already exists."]}),
            );
        }
        let group = Group {
            uuid: Uuid::new_v4(),
            num_pk: self.next_num_pk,
            name,
            attributes: body.get("attributes").cloned().unwrap_or_else(|| json!({})),
        };
        self.next_num_pk += 1;
        for pk in body["users"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_i64)
        {
            self.members.insert((group.uuid, pk));
        }
        let out = self.group_json(&group, true);
        self.groups.push(group);
        answer(201, out)
    }

    fn membership(&mut self, id: &str, verb: &str, body: &Value) -> Answer {
        let Some(g) = self.group_index(id) else {
            return detail(404, "No Group matches the given query.");
        };
        let pk = body["pk"].as_i64().unwrap_or_default();
        if !self.users.iter().any(|u| u.pk == pk) {
            return detail(404, "Not found.");
        }
        let key = (self.groups[g].uuid, pk);
        if verb == "add_user" {
            self.members.insert(key);
        } else {
            self.members.remove(&key);
        }
        empty(204)
    }

    fn list_users(&mut self, query: &[(String, String)]) -> Answer {
        let served = [
            "username",
            "email",
            "groups_by_name",
            "groups_by_pk",
            "is_active",
            "include_groups",
            "page",
            "page_size",
        ];
        if self.unsupported(query, &served) {
            return detail(400, "unsupported filter");
        }
        let mut in_groups = Vec::new();
        for v in values(query, "groups_by_name") {
            match self.groups.iter().find(|g| g.name == v) {
                Some(g) => in_groups.push(g.uuid),
                None => return invalid_choice("groups_by_name", v),
            }
        }
        for v in values(query, "groups_by_pk") {
            match self.groups.iter().find(|g| g.uuid.to_string() == v) {
                Some(g) => in_groups.push(g.uuid),
                None => return invalid_choice("groups_by_pk", v),
            }
        }
        let usernames = values(query, "username");
        let emails = values(query, "email");
        let active = values(query, "is_active");
        let include_groups = flag(query, "include_groups", true);
        let mut users: Vec<&User> = self
            .users
            .iter()
            // Exact and case-sensitive, as observed on Authentik.
            .filter(|u| usernames.iter().all(|n| u.username == *n))
            .filter(|u| emails.iter().all(|e| u.email == *e))
            .filter(|u| active.iter().all(|a| (*a == "true") == u.is_active))
            .filter(|u| {
                in_groups.is_empty() || in_groups.iter().any(|g| self.members.contains(&(*g, u.pk)))
            })
            .collect();
        users.sort_by(|a, b| a.username.cmp(&b.username));
        let items = users
            .iter()
            .map(|u| self.user_json(u, include_groups))
            .collect();
        self.page(query, items)
    }

    fn create_user(&mut self, body: &Value) -> Answer {
        let username = body["username"].as_str().unwrap_or_default().to_owned();
        if self.users.iter().any(|u| u.username == username) {
            return answer(400, json!({"username": ["This field must be unique."]}));
        }
        let path = body["path"].as_str().unwrap_or("users").to_owned();
        if path.starts_with('/') || path.ends_with('/') {
            return answer(
                400,
                json!({"path": ["No leading or trailing slashes allowed."]}),
            );
        }
        let email = body["email"].as_str().unwrap_or_default().to_owned();
        if !email.is_empty() && !email.contains('@') {
            return answer(400, json!({"email": ["Enter a valid email address."]}));
        }
        let kind = body["type"].as_str().unwrap_or("internal").to_owned();
        if kind == "internal_service_account" {
            return answer(
                400,
                json!({"type": ["Setting a user to internal service account is not allowed."]}),
            );
        }
        let stamp = now();
        let user = User {
            pk: self.next_pk,
            uuid: Uuid::new_v4(),
            // 64 hex digits, like Authentik's hashed user id.
            uid: format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple()),
            username,
            name: body["name"].as_str().unwrap_or_default().to_owned(),
            email,
            is_active: body["is_active"].as_bool().unwrap_or(true),
            path,
            kind,
            attributes: body.get("attributes").cloned().unwrap_or_else(|| json!({})),
            date_joined: stamp.clone(),
            last_updated: stamp.clone(),
            password_change_date: stamp,
            password: None,
        };
        self.next_pk += 1;
        for g in body["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if let Ok(uuid) = Uuid::parse_str(g) {
                self.members.insert((uuid, user.pk));
            }
        }
        let out = self.user_json(&user, true);
        self.users.push(user);
        answer(201, out)
    }

    fn patch_user(&mut self, id: &str, body: &Value) -> Answer {
        let Some(i) = self.user_index(id) else {
            return detail(404, "No User matches the given query.");
        };
        if let Some(name) = body["username"].as_str()
            && self
                .users
                .iter()
                .any(|u| u.username == name && u.pk != self.users[i].pk)
        {
            return answer(400, json!({"username": ["This field must be unique."]}));
        }
        let u = &mut self.users[i];
        if let Some(v) = body["username"].as_str() {
            u.username = v.to_owned();
        }
        if let Some(v) = body["name"].as_str() {
            u.name = v.to_owned();
        }
        if let Some(v) = body["email"].as_str() {
            u.email = v.to_owned();
        }
        if let Some(v) = body["is_active"].as_bool() {
            u.is_active = v;
        }
        if let Some(v) = body["path"].as_str() {
            u.path = v.to_owned();
        }
        if let Some(v) = body.get("attributes") {
            u.attributes = v.clone();
        }
        u.last_updated = now();
        answer(200, self.user_json(&self.users[i], true))
    }

    fn recovery(&mut self, id: &str) -> Answer {
        // The brand's flow is checked before the user is looked up, as in Authentik.
        let brand = &self.brands[self.brand_index()];
        let flow = self
            .flow_by_pk(&brand["flow_recovery"])
            .and_then(|f| f["slug"].as_str())
            .map(str::to_owned);
        match (flow, self.recovery) {
            (None, Recovery::NoFlowLegacy) => Answer {
                status: 404,
                body: Some(json!({"link": ""})),
                exempt: Some("the answer of Authentik before 2024, whose schema listed 404: Link"),
            },
            (None, _) => Answer {
                status: 400,
                body: Some(json!({"non_field_errors": "No recovery flow set."})),
                exempt: Some(
                    "observed on Authentik: non_field_errors is a string here, not the schema's array",
                ),
            },
            (Some(slug), _) => match self.user_index(id) {
                Some(_) => answer(
                    200,
                    json!({"link": format!(
                        "{}/if/flow/{slug}/?flow_token={}",
                        self.base_url,
                        Uuid::new_v4().simple()
                    )}),
                ),
                None => detail(404, "No User matches the given query."),
            },
        }
    }
}
