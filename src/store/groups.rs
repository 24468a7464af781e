//! Groups and memberships. Joining and leaving append `group-join` / `group-leave` rows to the
//! change log (the realtime `session-change` source, spec §5.4); a join that changes nothing and
//! a leave of a non-member append nothing, as in h.

use super::changelog::{Change, ChangeAction, ChangeEntry, append_change};
use super::rows::{GROUP_COLS, GroupRow};
use sqlx::AssertSqlSafe;

use super::exec::{Exec, HeldConnection};
use super::{Db, StoreError, is_unique_violation};
use crate::domain::group::WORLD;
use crate::domain::ids::generate_pubid;
use crate::domain::time::now_micros;
use crate::domain::{Group, GroupType, Role, User};

/// A group to create.
#[derive(Clone, Debug)]
pub struct NewGroup<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub group_type: GroupType,
    pub pre_moderated: bool,
    pub authority: &'a str,
    /// h's `groupid` for third-party authorities (`group:<id>@<authority>`).
    pub authority_provided_id: Option<&'a str>,
    /// Becomes the owner (and gets a `group-join`).
    pub creator: Option<&'a User>,
}

/// What a membership call did, with the change-log row it appended (to announce), if any.
#[derive(Clone, Debug, PartialEq)]
pub enum MembershipChange {
    /// The user joined (`group-join`) or left (`group-leave`).
    Changed(Change),
    /// Membership as it was; `Some` when a member's role changed (`user-change`).
    Unchanged(Option<Change>),
}

impl MembershipChange {
    pub fn is_changed(&self) -> bool {
        matches!(self, MembershipChange::Changed(_))
    }

    /// The appended change, to announce.
    pub fn into_change(self) -> Option<Change> {
        match self {
            MembershipChange::Changed(c) => Some(c),
            MembershipChange::Unchanged(c) => c,
        }
    }
}

impl Db {
    /// Creates the Public group `__world__` for `authority` if it does not exist yet.
    pub async fn ensure_world_group(&self, authority: &str) -> Result<(), sqlx::Error> {
        self.execute(
            "INSERT INTO groups (pubid, authority, name, group_type, pre_moderated, created) \
             VALUES ($1, $2, 'Public', 'open', FALSE, $3) ON CONFLICT (pubid) DO NOTHING",
            &[WORLD.into(), authority.into(), now_micros().into()],
        )
        .await?;
        Ok(())
    }

    /// Creates a group; the creator becomes its owner in the same transaction. Returns the
    /// group and the creator's `group-join` change (to announce), if there is a creator.
    pub async fn create_group(
        &self,
        new: &NewGroup<'_>,
        src_client_id: Option<&str>,
    ) -> Result<(Group, Option<Change>), StoreError> {
        let pubid = generate_pubid();
        let result = self.insert_group(new, &pubid, src_client_id).await;
        let change = match result {
            Ok(change) => change,
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!(
                    "group with groupid '{}' already exists",
                    new.authority_provided_id.unwrap_or(&pubid)
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let group = self
            .group_by_pubid(&pubid)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("group {pubid} vanished")))?;
        Ok((group, change))
    }

    /// [`Db::create_group`]'s transaction: the group, and its creator as owner.
    async fn insert_group(
        &self,
        new: &NewGroup<'_>,
        pubid: &str,
        src_client_id: Option<&str>,
    ) -> Result<Option<Change>, sqlx::Error> {
        let now = now_micros();
        let mut conn = HeldConnection::take(self).await?;
        let mut tx = conn.begin_write().await?;
        let (id,): (i64,) = tx
            .fetch_one(
                "INSERT INTO groups (pubid, authority, authority_provided_id, name, description, \
                 group_type, pre_moderated, creator_id, created) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                &[
                    pubid.into(),
                    new.authority.into(),
                    new.authority_provided_id.into(),
                    new.name.into(),
                    new.description.into(),
                    new.group_type.as_str().into(),
                    new.pre_moderated.into(),
                    new.creator.map(|u| u.id).into(),
                    now.into(),
                ],
            )
            .await?;
        let mut change = None;
        if let Some(creator) = new.creator {
            tx.execute(
                "INSERT INTO group_members (group_id, user_id, role, created) \
                 VALUES ($1, $2, $3, $4)",
                &[
                    id.into(),
                    creator.id.into(),
                    Role::Owner.as_str().into(),
                    now.into(),
                ],
            )
            .await?;
            let userid = creator.userid().to_string();
            let entry = ChangeEntry {
                userid: Some(&userid),
                groupid: Some(pubid),
                src_client_id,
                ..ChangeEntry::new(ChangeAction::GroupJoin)
            };
            change = Some(append_change(&mut tx, &entry).await?);
        }
        tx.commit().await?;
        Ok(change)
    }

    /// Looks a group up by pubid.
    pub async fn group_by_pubid(&self, pubid: &str) -> Result<Option<Group>, sqlx::Error> {
        let sql = format!("SELECT {GROUP_COLS} FROM groups WHERE pubid = $1");
        let row: Option<GroupRow> = self
            .fetch_optional(AssertSqlSafe(sql), &[pubid.into()])
            .await?;
        Ok(row.map(Group::from))
    }

    /// [`Db::group_by_pubid`] on a direct connection (see [`super::direct`]).
    pub(crate) fn group_by_pubid_direct(
        conn: &rusqlite::Connection,
        pubid: &str,
    ) -> rusqlite::Result<Option<Group>> {
        let sql = format!("SELECT {GROUP_COLS} FROM groups WHERE pubid = $1");
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query([pubid])?;
        Ok(match rows.next()? {
            Some(row) => Some(GroupRow::from_direct(row)?.into()),
            None => None,
        })
    }

    /// Looks a group up by h's `group:<authority_provided_id>@<authority>` form.
    pub async fn group_by_groupid(&self, groupid: &str) -> Result<Option<Group>, sqlx::Error> {
        let Some((id, authority)) = groupid
            .strip_prefix("group:")
            .and_then(|s| s.rsplit_once('@'))
        else {
            return Ok(None);
        };
        let sql = format!(
            "SELECT {GROUP_COLS} FROM groups WHERE authority_provided_id = $1 AND authority = $2"
        );
        let args = [id.into(), authority.into()];
        let row: Option<GroupRow> = self.fetch_optional(AssertSqlSafe(sql), &args).await?;
        Ok(row.map(Group::from))
    }

    /// Every group the user belongs to, sorted by lower-cased name then pubid (h's session
    /// order).
    pub async fn groups_of(&self, user_id: i64) -> Result<Vec<Group>, sqlx::Error> {
        let sql = format!(
            "SELECT {GROUP_COLS} FROM groups WHERE id IN \
             (SELECT group_id FROM group_members WHERE user_id = $1) ORDER BY LOWER(name), pubid"
        );
        let rows: Vec<GroupRow> = self
            .fetch_all(AssertSqlSafe(sql), &[user_id.into()])
            .await?;
        Ok(rows.into_iter().map(Group::from).collect())
    }

    /// Open and restricted groups of an authority other than `__world__`, by name.
    pub async fn public_groups_of_authority(
        &self,
        authority: &str,
    ) -> Result<Vec<Group>, sqlx::Error> {
        let sql = format!(
            "SELECT {GROUP_COLS} FROM groups WHERE authority = $1 AND pubid <> $2 \
             AND group_type IN ('open', 'restricted') ORDER BY LOWER(name), pubid"
        );
        let args = [authority.into(), WORLD.into()];
        let rows: Vec<GroupRow> = self.fetch_all(AssertSqlSafe(sql), &args).await?;
        Ok(rows.into_iter().map(Group::from).collect())
    }

    /// The role of a user in a group, if a member.
    pub async fn role_in(&self, group_id: i64, user_id: i64) -> Result<Option<Role>, sqlx::Error> {
        let role: Option<(String,)> = self
            .fetch_optional(
                "SELECT role FROM group_members WHERE group_id = $1 AND user_id = $2",
                &[group_id.into(), user_id.into()],
            )
            .await?;
        Ok(role.and_then(|(r,)| r.parse().ok()))
    }

    /// Adds a member, or changes an existing member's role. A new membership appends
    /// `group-join`; a role change appends `user-change`, which clients never see (h publishes
    /// nothing for role edits) but which makes running servers reload the user's roles.
    pub async fn add_member(
        &self,
        group: &Group,
        user: &User,
        role: Role,
        src_client_id: Option<&str>,
    ) -> Result<MembershipChange, sqlx::Error> {
        let userid = user.userid().to_string();
        let mut conn = HeldConnection::take(self).await?;
        let mut tx = conn.begin_write().await?;
        let existing: Option<(String,)> = tx
            .fetch_optional(
                "SELECT role FROM group_members WHERE group_id = $1 AND user_id = $2",
                &[group.id.into(), user.id.into()],
            )
            .await?;
        let changed = match existing {
            Some((old,)) if old != role.as_str() => {
                tx.execute(
                    "UPDATE group_members SET role = $1 WHERE group_id = $2 AND user_id = $3",
                    &[role.as_str().into(), group.id.into(), user.id.into()],
                )
                .await?;
                // Clients hear nothing (as in h), but running servers must reload the user's
                // roles: moderators see hidden annotations.
                let entry = ChangeEntry {
                    userid: Some(&userid),
                    groupid: Some(&group.pubid),
                    src_client_id,
                    ..ChangeEntry::new(ChangeAction::UserChange)
                };
                MembershipChange::Unchanged(Some(append_change(&mut tx, &entry).await?))
            }
            Some(_) => MembershipChange::Unchanged(None),
            None => insert_member(&mut tx, group, user, role, src_client_id).await?,
        };
        tx.commit().await?;
        Ok(changed)
    }

    /// Makes `user` a plain member unless they are one already, whatever their role (a private
    /// group's invitation accepted): one statement, so a concurrent role change can never be
    /// overwritten with `member`. Appends `group-join` only if they joined.
    pub async fn join_group(
        &self,
        group: &Group,
        user: &User,
        src_client_id: Option<&str>,
    ) -> Result<MembershipChange, sqlx::Error> {
        let mut conn = HeldConnection::take(self).await?;
        let mut tx = conn.begin_write().await?;
        let changed = insert_member(&mut tx, group, user, Role::Member, src_client_id).await?;
        tx.commit().await?;
        Ok(changed)
    }

    /// Removes a member; appends `group-leave` if they were one.
    pub async fn remove_member(
        &self,
        group: &Group,
        user: &User,
        src_client_id: Option<&str>,
    ) -> Result<MembershipChange, sqlx::Error> {
        let userid = user.userid().to_string();
        let mut conn = HeldConnection::take(self).await?;
        let mut tx = conn.begin_write().await?;
        let removed = tx
            .execute(
                "DELETE FROM group_members WHERE group_id = $1 AND user_id = $2",
                &[group.id.into(), user.id.into()],
            )
            .await?;
        if removed == 0 {
            // Nothing changed: the transaction only ends.
            tx.commit().await?;
            return Ok(MembershipChange::Unchanged(None));
        }
        let entry = ChangeEntry {
            userid: Some(&userid),
            groupid: Some(&group.pubid),
            src_client_id,
            ..ChangeEntry::new(ChangeAction::GroupLeave)
        };
        let change = append_change(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(MembershipChange::Changed(change))
    }
}

/// Adds `user` with `role` unless they are a member already (then nothing changes), appending
/// `group-join` when they joined.
async fn insert_member(
    tx: &mut impl Exec,
    group: &Group,
    user: &User,
    role: Role,
    src_client_id: Option<&str>,
) -> Result<MembershipChange, sqlx::Error> {
    let inserted = tx
        .execute(
            "INSERT INTO group_members (group_id, user_id, role, created) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (group_id, user_id) DO NOTHING",
            &[
                group.id.into(),
                user.id.into(),
                role.as_str().into(),
                now_micros().into(),
            ],
        )
        .await?;
    if inserted == 0 {
        return Ok(MembershipChange::Unchanged(None));
    }
    let userid = user.userid().to_string();
    let entry = ChangeEntry {
        userid: Some(&userid),
        groupid: Some(&group.pubid),
        src_client_id,
        ..ChangeEntry::new(ChangeAction::GroupJoin)
    };
    Ok(MembershipChange::Changed(append_change(tx, &entry).await?))
}
