//! Spec §9 items 62–64: Hide & Reveal checkpoints withhold classmates' annotations from
//! students until the reveal date; instructors and anonymous sockets are never affected.

use serde_json::{Value, json};

use super::{Probe, Ws, assert_no_event, notification};
use crate::helpers::{Backend, TestApp, spawn_app};
use crate::on_both_engines;
use scholia::domain::{GroupType, Role};
use scholia::store::checkpoints::INSTRUCTOR;

on_both_engines!(checkpoints_withhold_classmates_until_reveal);

const URI: &str = "https://course.example/reading";

async fn socket(app: &TestApp, token: Option<&str>) -> Ws {
    let mut ws = app.ws(token).await;
    ws.subscribe_uri(URI).await;
    ws
}

async fn note(app: &TestApp, token: &str, group: &str, references: &[&Value]) -> String {
    let refs: Vec<&Value> = references.to_vec();
    let ann = app
        .annotate(token, json!({"uri": URI, "group": group, "text": "n", "references": refs, "permissions": {"read": [format!("group:{group}")]}}))
        .await;
    ann["id"].as_str().unwrap().to_owned()
}

async fn next_id(ws: &mut Ws) -> String {
    notification(&ws.event().await).1["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn checkpoints_withhold_classmates_until_reveal(backend: Backend) {
    let app = spawn_app(backend).await;
    let (teacher, teacher_t) = app.user("teacher").await;
    let (s1, s1_t) = app.user("student1").await;
    let (s2, s2_t) = app.user("student2").await;
    let mut probe = Probe::new(&app).await;
    let course = app
        .group(&teacher, "Course", GroupType::Restricted, false)
        .await;
    app.add_member(&course, &s1, Role::Member).await;
    app.add_member(&course, &s2, Role::Member).await;
    let group = app.db.group_by_pubid(&course).await.unwrap().unwrap();
    app.db
        .set_lms_role(&group, &teacher, Some(INSTRUCTOR))
        .await
        .unwrap();
    for s in [&s1, &s2] {
        app.db
            .set_lms_role(&group, s, Some("lms_student"))
            .await
            .unwrap();
    }
    // The document must exist before a checkpoint can name it.
    note(&app, &teacher_t, &course, &[]).await;
    let checkpoint = app.db.create_checkpoint(&group, URI, None).await.unwrap();
    probe.sync(&app).await;

    let mut student = socket(&app, Some(&s1_t)).await;
    let mut instructor = socket(&app, Some(&teacher_t)).await;
    let mut anon = socket(&app, None).await;

    // A classmate's annotation: withheld from the student only (items 62, 64).
    let peer = note(&app, &s2_t, &course, &[]).await;
    assert_eq!(next_id(&mut instructor).await, peer);
    assert_eq!(next_id(&mut anon).await, peer);
    // The student's own annotation, an instructor's top-level note, and an instructor's reply
    // to the student are delivered; an instructor's reply to the classmate is not.
    let own = note(&app, &s1_t, &course, &[]).await;
    assert_eq!(next_id(&mut student).await, own);
    let top = note(&app, &teacher_t, &course, &[]).await;
    assert_eq!(next_id(&mut student).await, top);
    let to_student = note(&app, &teacher_t, &course, &[&json!(own)]).await;
    assert_eq!(next_id(&mut student).await, to_student);
    let to_peer = note(&app, &teacher_t, &course, &[&json!(peer)]).await;
    assert_no_event(&app, &mut probe, &mut [&mut student]).await;
    for id in [&own, &top, &to_student, &to_peer] {
        assert_eq!(&next_id(&mut instructor).await, id);
        assert_eq!(&next_id(&mut anon).await, id);
    }

    // Once the reveal date has passed, classmates' annotations flow (item 63).
    app.db
        .set_reveal_date(
            checkpoint,
            Some(scholia::domain::time::now_micros() - 1_000_000),
        )
        .await
        .unwrap();
    let later = note(&app, &s2_t, &course, &[]).await;
    assert_eq!(next_id(&mut student).await, later);
}
