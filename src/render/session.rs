//! The session model (h's `h/session.py` `profile`): what `GET /api/profile` answers and what a
//! `session-change` event carries to a user's sockets after a group join or leave.

use serde_json::{Map, Value, json};

use super::Site;
use crate::domain::group::WORLD;
use crate::domain::{Group, Identity};
use crate::store::Db;

/// The session's group list: the world group of the user's authority if it exists, then the
/// user's groups by (lower-cased name, pubid) (h's `h/session.py` `_current_groups`).
pub async fn session_groups(
    db: &Db,
    who: Option<&Identity>,
    authority: &str,
) -> Result<Vec<Group>, sqlx::Error> {
    let mut groups = vec![];
    if let Some(world) = db.group_by_pubid(WORLD).await?
        && world.authority == authority
    {
        groups.push(world);
    }
    if let Some(who) = who {
        groups.extend(
            db.groups_of(who.user.id)
                .await?
                .into_iter()
                .filter(|g| g.pubid != WORLD),
        );
    }
    Ok(groups)
}

fn session_group_json(site: &Site, g: &Group) -> Value {
    let mut v = json!({"name": g.name, "id": g.pubid, "public": g.world_readable()});
    if !g.world_readable() {
        v["url"] = Value::from(format!(
            "{}/groups/{}/{}",
            site.public_url,
            g.pubid,
            g.slug()
        ));
    }
    v
}

/// Preferences as h reports them: `show_sidebar_tutorial` unless the user dismissed it.
fn preferences(who: Option<&Identity>) -> Value {
    let Some(who) = who else { return json!({}) };
    let stored = &who.user.preferences;
    let mut out = Map::new();
    if stored.get("show_sidebar_tutorial") != Some(&Value::Bool(false)) {
        out.insert("show_sidebar_tutorial".into(), Value::Bool(true));
    }
    for key in ["show_youtube_gdpr_banner", "shortcuts_preferences"] {
        if let Some(v) = stored.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    Value::Object(out)
}

/// The session model of `who` (anonymous: of `authority`, else the server's default).
pub async fn session_model(
    db: &Db,
    site: &Site,
    who: Option<&Identity>,
    authority: Option<String>,
) -> Result<Value, sqlx::Error> {
    let authority = match who {
        Some(w) => w.user.authority.clone(),
        None => authority.unwrap_or_else(|| site.authority.clone()),
    };
    let groups = session_groups(db, who, &authority).await?;
    let mut v = json!({
        "userid": who.map(|w| w.userid.clone()),
        "authority": authority,
        "groups": groups.iter().map(|g| session_group_json(site, g)).collect::<Vec<_>>(),
        "features": {},
        "preferences": preferences(who),
    });
    if let Some(w) = who {
        v["user_info"] = json!({"display_name": w.user.display_name});
    }
    Ok(v)
}
