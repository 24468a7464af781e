//! The model's world: a server, its users and groups, one socket per viewer, what the model
//! knows of each annotation, and how each attempted write is performed.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::cases::{Clause, Membership, Op, Setup, URIS, USERS, WORLD};
use crate::helpers::{Backend, TestApp, spawn_app_with};
use crate::realtime::{MARKER_URI, Probe, Ws, filter};
use scholia::domain::{GroupType, Role, User};

/// What the model knows of one annotation the server accepted.
pub(super) struct Made {
    pub(super) id: String,
    pub(super) author: usize,
    pub(super) group: usize,
    pub(super) uri: usize,
    pub(super) hidden: bool,
    pub(super) deleted: bool,
}

pub(super) struct World {
    pub(super) app: TestApp,
    pub(super) users: Vec<(User, String)>,
    pub(super) pubids: Vec<String>,
    /// Current roles in the three groups (owners count as moderators).
    pub(super) roles: [[Membership; USERS]; 3],
    pub(super) nipsa: [bool; USERS],
    pub(super) filters: Vec<Vec<Clause>>,
    pub(super) sockets: Vec<Ws>,
    pub(super) probe: Probe,
    pub(super) made: Vec<Made>,
}

impl World {
    /// The token of viewer `v` (0 is anonymous).
    pub(super) fn token(&self, v: usize) -> Option<&str> {
        (v > 0).then(|| self.users[v - 1].1.as_str())
    }

    pub(super) fn is_moderator(&self, user: usize, group: usize) -> bool {
        group < WORLD && self.roles[group][user] == Membership::Moderator
    }

    pub(super) fn matches(&self, viewer: usize, m: &Made) -> bool {
        self.filters[viewer].iter().any(|c| match *c {
            Clause::Uri(u) => u == m.uri,
            Clause::Group(g) => g == m.group,
        })
    }

    /// The documented extra rules of the Real Time API over what a GET shows.
    pub(super) fn realtime_allows(&self, viewer: usize, m: &Made, hidden: bool) -> bool {
        let is_author = viewer == m.author + 1;
        if self.nipsa[m.author] && !is_author {
            return false;
        }
        if hidden && !is_author {
            return !m.deleted && viewer > 0 && self.is_moderator(viewer - 1, m.group);
        }
        true
    }

    pub(super) async fn get_as(&self, viewer: usize, id: &str) -> (StatusCode, Value) {
        self.app
            .get(&format!("/api/annotations/{id}"), self.token(viewer))
            .await
    }

    pub(super) fn body(&self, m_group: usize, shared: bool, author: usize) -> Value {
        let group = &self.pubids[m_group];
        let read = if shared {
            format!("group:{group}")
        } else {
            self.users[author].0.userid().to_string()
        };
        json!({"group": group, "permissions": {"read": [read]}})
    }

    /// Performs one op; returns the annotation it changed and the action, when it was accepted.
    pub(super) async fn perform(&mut self, op: &Op) -> Option<(usize, &'static str)> {
        let n = self.made.len();
        let pick = |i: usize| (n > 0).then(|| i % n);
        match *op {
            Op::Create {
                author,
                group,
                shared,
                uri,
            } => {
                let mut body = self.body(group, shared, author);
                body["uri"] = json!(URIS[uri]);
                body["text"] = json!(format!("op {n}"));
                self.create(author, group, uri, body).await
            }
            Op::Reply {
                author,
                parent,
                shared,
            } => {
                let p = pick(parent)?;
                let (group, uri, parent_id) = {
                    let m = &self.made[p];
                    (m.group, m.uri, m.id.clone())
                };
                let mut body = self.body(group, shared, author);
                body["uri"] = json!(URIS[uri]);
                body["text"] = json!(format!("reply {n}"));
                body["references"] = json!([parent_id]);
                self.create(author, group, uri, body).await
            }
            Op::Update { target, shared } => {
                let t = pick(target)?;
                let m = &self.made[t];
                let mut body = self.body(m.group, shared, m.author);
                body["text"] = json!(format!("updated by op {n}"));
                let token = self.users[m.author].1.clone();
                let (status, _) = self
                    .app
                    .patch(&format!("/api/annotations/{}", m.id), Some(&token), &body)
                    .await;
                status.is_success().then_some((t, "update"))
            }
            Op::Delete { target } => {
                let t = pick(target)?;
                let m = &self.made[t];
                let token = self.users[m.author].1.clone();
                let (status, _) = self
                    .app
                    .delete(&format!("/api/annotations/{}", m.id), Some(&token))
                    .await;
                if !status.is_success() {
                    return None;
                }
                self.made[t].deleted = true;
                Some((t, "delete"))
            }
            Op::Hide { target, by } | Op::Unhide { target, by } => {
                let hide = matches!(op, Op::Hide { .. });
                let t = pick(target)?;
                let path = format!("/api/annotations/{}/hide", self.made[t].id);
                let method = if hide {
                    reqwest::Method::PUT
                } else {
                    reqwest::Method::DELETE
                };
                let resp = self
                    .app
                    .req(method, &path, Some(&self.users[by].1))
                    .send()
                    .await
                    .expect("hide request");
                if !resp.status().is_success() {
                    return None;
                }
                self.made[t].hidden = hide;
                Some((t, "update"))
            }
            Op::Leave { user, group } => {
                let path = format!("/api/groups/{}/members/me", self.pubids[group]);
                let (status, _) = self.app.delete(&path, Some(&self.users[user].1)).await;
                if status.is_success() {
                    self.roles[group][user] = Membership::None;
                }
                // Not an annotation event; the next writes are judged with the new roles.
                None
            }
        }
    }

    pub(super) async fn create(
        &mut self,
        author: usize,
        group: usize,
        uri: usize,
        body: Value,
    ) -> Option<(usize, &'static str)> {
        let token = self.users[author].1.clone();
        let (status, made) = self.app.post("/api/annotations", Some(&token), &body).await;
        if !status.is_success() {
            return None;
        }
        self.made.push(Made {
            id: made["id"].as_str()?.to_owned(),
            author,
            group,
            uri,
            hidden: false,
            deleted: false,
        });
        Some((self.made.len() - 1, "create"))
    }

    /// Every annotation event each socket has received since the last call, in order; markers
    /// and session changes left out.
    pub(super) async fn received(&mut self) -> Vec<Vec<(String, String, Value)>> {
        let mut out = vec![];
        for ws in &mut self.sockets {
            let events = ws
                .drain()
                .await
                .into_iter()
                .filter(|e| e["type"] == "annotation-notification")
                .filter(|e| e["payload"][0]["uri"] != MARKER_URI)
                .map(|e| {
                    let action = e["options"]["action"].as_str().unwrap_or("").to_owned();
                    let payload = e["payload"][0].clone();
                    let id = payload["id"].as_str().unwrap_or("").to_owned();
                    (action, id, payload)
                })
                .collect();
            out.push(events);
        }
        out
    }
}

pub(super) async fn build(backend: Backend, setup: &Setup) -> World {
    let app = spawn_app_with(backend, |c| {
        // Pacing spreads a socket's writes out in time; it has no say in who gets what.
        c.ws.write_rate = 0.0;
    })
    .await;
    let mut users = vec![];
    for u in 0..USERS {
        users.push(app.user(&format!("user{u}")).await);
        if setup.nipsa[u] {
            app.db
                .set_nipsa(&users[u].0.userid().to_string(), true)
                .await
                .unwrap();
        }
    }
    let mut pubids = vec![];
    let mut roles = setup.roles;
    let types = [GroupType::Open, GroupType::Restricted, GroupType::Private];
    for (g, group_type) in types.into_iter().enumerate() {
        let creator = setup.creators[g];
        let pubid = app
            .group(&users[creator].0, &format!("group {g}"), group_type, false)
            .await;
        roles[g][creator] = Membership::Moderator;
        for (u, role) in setup.roles[g].iter().enumerate() {
            let role = match role {
                _ if u == creator => continue,
                Membership::None => continue,
                Membership::Member => Role::Member,
                Membership::Moderator => Role::Moderator,
            };
            app.add_member(&pubid, &users[u].0, role).await;
        }
        pubids.push(pubid);
    }
    pubids.push("__world__".to_owned());
    let mut probe = Probe::new(&app).await;
    // The setup's own changes (group joins) are routed before any viewer connects.
    probe.sync(&app).await;
    let mut sockets = vec![];
    for (v, clauses) in setup.filters.iter().enumerate() {
        let token = (v > 0).then(|| users[v - 1].1.clone());
        let mut ws = app.ws(token.as_deref()).await;
        let clauses: Vec<Value> = clauses
            .iter()
            .map(|c| match *c {
                Clause::Uri(u) => {
                    json!({"field": "/uri", "operator": "one_of", "value": [URIS[u]]})
                }
                Clause::Group(g) => {
                    json!({"field": "/group", "operator": "equals", "value": pubids[g]})
                }
            })
            .collect();
        ws.apply(&filter(Value::Array(clauses))).await;
        sockets.push(ws);
    }
    World {
        app,
        users,
        pubids,
        roles,
        nipsa: setup.nipsa,
        filters: setup.filters.clone(),
        sockets,
        probe,
        made: vec![],
    }
}
