//! The admin commands: users, tokens, groups and auth clients. Each prints its result last.

use clap::{Args, Subcommand};

use crate::config::Config;
use crate::domain::{GroupType, Role, User};
use crate::store::{Db, NewGroup, NewUser};

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user; prints the userid.
    Add(UserAdd),
    /// Shadow-ban a user: their annotations are shown only to themselves.
    Nipsa(UserRef),
    /// Set a user's password, for logging in through the client's "Log in" popup: asked for
    /// at a terminal (without echo), else read from the first line of standard input.
    Passwd(UserRef),
    /// Lift a shadow ban.
    Unnipsa(UserRef),
}

#[derive(Args, Debug)]
pub struct UserAdd {
    /// A username (of `--authority`, default the server's) or a full userid
    /// `acct:name@authority`.
    pub username: String,
    /// The user's authority (default: the server's).
    #[arg(long = "authority", value_name = "A")]
    pub user_authority: Option<String>,
    #[arg(long)]
    pub email: Option<String>,
    #[arg(long)]
    pub display_name: Option<String>,
}

#[derive(Args, Debug)]
pub struct UserRef {
    /// A username of the default authority, or a full userid `acct:name@authority`.
    pub username: String,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a user's developer token; prints it. A user has one: if they have one already,
    /// `--replace` is needed, and their old token stops working at once.
    Create(TokenCreate),
}

#[derive(Args, Debug)]
pub struct TokenCreate {
    /// A username of the default authority, or a full userid `acct:name@authority`.
    pub username: String,
    /// Replace the user's existing token (whoever uses it is logged out).
    #[arg(long)]
    pub replace: bool,
}

#[derive(Subcommand, Debug)]
pub enum GroupCommand {
    /// Create a group owned by CREATOR; prints its pubid.
    Create(GroupCreate),
    /// Add a member (or change a member's role).
    AddMember(GroupMember),
    /// Remove a member.
    RemoveMember(GroupMemberRef),
    /// Add a Hide & Reveal checkpoint: students of the group see only their own and their
    /// instructors' annotations on the document at URI until the reveal time; prints its id.
    Checkpoint(GroupCheckpoint),
    /// Set (or, with `--at never`, clear) a checkpoint's reveal time; default: now.
    Reveal(CheckpointReveal),
}

#[derive(Args, Debug)]
pub struct GroupCheckpoint {
    pub pubid: String,
    /// Any URI of the (already annotated) document.
    pub uri: String,
    /// RFC 3339 time, e.g. 2026-12-01T09:00:00Z; unset: not yet scheduled.
    #[arg(long, value_name = "TIME")]
    pub reveal_at: Option<String>,
}

#[derive(Args, Debug)]
pub struct CheckpointReveal {
    pub id: i64,
    /// RFC 3339 time, or `never`.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

#[derive(Args, Debug)]
pub struct GroupCreate {
    pub name: String,
    #[arg(long = "type", value_name = "TYPE", default_value = "private")]
    pub group_type: String,
    #[arg(long, value_name = "USERNAME")]
    pub creator: String,
    #[arg(long)]
    pub description: Option<String>,
    #[arg(long)]
    pub pre_moderated: bool,
}

#[derive(Args, Debug)]
pub struct GroupMember {
    pub pubid: String,
    pub username: String,
    #[arg(long, default_value = "member")]
    pub role: String,
    /// LMS role for Hide & Reveal checkpoints: `instructor`, `student` or `none`.
    #[arg(long, value_name = "ROLE")]
    pub lms_role: Option<String>,
}

#[derive(Args, Debug)]
pub struct GroupMemberRef {
    pub pubid: String,
    pub username: String,
}

#[derive(Subcommand, Debug)]
pub enum AuthclientCommand {
    /// Register a client for the JWT grant; prints `CLIENT_ID CLIENT_SECRET`.
    Create(AuthclientCreate),
}

#[derive(Args, Debug)]
pub struct AuthclientCreate {
    /// The authority whose users the client may log in.
    #[arg(long = "authority", value_name = "A")]
    pub client_authority: Option<String>,
    #[arg(long)]
    pub name: Option<String>,
}

/// Opens the database and works out the server's default authority: the configured one, or
/// else the authority the server recorded on `__world__` at its first start (so `scholia serve
/// --authority X` and a later `scholia user add bob` agree without repeating the flag).
pub(super) async fn open(config: &Config) -> anyhow::Result<(Db, String)> {
    let db = Db::connect(&config.database_url()).await?;
    let authority = match &config.authority {
        Some(a) => a.clone(),
        None => match db.group_by_pubid(crate::domain::group::WORLD).await? {
            Some(world) => world.authority,
            None => config.authority(),
        },
    };
    Ok((db, authority))
}

/// `alice` means `acct:alice@<default authority>`; a full userid is taken as given.
fn userid_for(authority: &str, name: &str) -> String {
    if name.starts_with("acct:") {
        name.to_owned()
    } else {
        format!("acct:{name}@{authority}")
    }
}

pub(super) async fn find_user(db: &Db, authority: &str, name: &str) -> anyhow::Result<User> {
    let userid = userid_for(authority, name);
    db.user_by_userid(&userid)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no user {userid}"))
}

/// The username and authority of `user add`: `acct:name@authority` as given (with no other
/// `--authority`), else the name in `--authority` or the default one.
fn new_userid(a: &UserAdd, default: &str) -> anyhow::Result<(String, String)> {
    let Some(rest) = a.username.strip_prefix("acct:") else {
        let authority = a.user_authority.clone();
        return Ok((
            a.username.clone(),
            authority.unwrap_or_else(|| default.to_owned()),
        ));
    };
    let Some((name, authority)) = rest
        .split_once('@')
        .filter(|(n, a)| !n.is_empty() && !a.is_empty())
    else {
        anyhow::bail!("{:?} is not a userid: acct:NAME@AUTHORITY", a.username);
    };
    if let Some(other) = a.user_authority.as_deref().filter(|o| *o != authority) {
        anyhow::bail!(
            "{} names authority {authority}, --authority says {other}",
            a.username
        );
    }
    Ok((name.to_owned(), authority.to_owned()))
}

/// A new password: at a terminal, asked for twice without echo; otherwise the first line of
/// standard input (scripts, tests: `scholia user passwd bob < file`).
fn read_password(userid: &str) -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let first = rpassword::prompt_password(format!("New password for {userid}: "))?;
    let again = rpassword::prompt_password("Again: ")?;
    anyhow::ensure!(
        first == again,
        "the two passwords differ; nothing was changed"
    );
    Ok(first)
}

/// The site's signup and this command refuse the same names (`domain::user::check_username`).
fn valid_username(name: &str) -> anyhow::Result<()> {
    crate::domain::user::check_username(name).map_err(|e| anyhow::anyhow!("{e} Got {name:?}."))
}

pub async fn user(config: &Config, cmd: UserCommand) -> anyhow::Result<()> {
    let (db, authority) = open(config).await?;
    match cmd {
        UserCommand::Add(a) => {
            let (username, authority) = new_userid(&a, &authority)?;
            valid_username(&username)?;
            let user = db
                .create_user(&NewUser {
                    username: &username,
                    authority: &authority,
                    email: a.email.as_deref(),
                    display_name: a.display_name.as_deref(),
                })
                .await?;
            println!("{}", user.userid());
        }
        UserCommand::Nipsa(u) => {
            let user = find_user(&db, &authority, &u.username).await?;
            db.set_nipsa(&user.userid().to_string(), true).await?;
            println!("{} nipsa", user.userid());
        }
        UserCommand::Unnipsa(u) => {
            let user = find_user(&db, &authority, &u.username).await?;
            db.set_nipsa(&user.userid().to_string(), false).await?;
            println!("{} unnipsa", user.userid());
        }
        UserCommand::Passwd(u) => {
            let user = find_user(&db, &authority, &u.username).await?;
            let pass = read_password(&user.userid().to_string())?;
            anyhow::ensure!(
                pass.chars().count() >= crate::auth::password::MIN_LENGTH,
                "passwords are at least {} characters",
                crate::auth::password::MIN_LENGTH
            );
            let hash = crate::auth::password::hash(pass).await?;
            db.set_password_hash(user.id, &hash).await?;
            println!("{} password set", user.userid());
        }
    }
    db.close().await;
    Ok(())
}

pub async fn token(config: &Config, cmd: TokenCommand) -> anyhow::Result<()> {
    let (db, authority) = open(config).await?;
    let TokenCommand::Create(t) = cmd;
    let user = find_user(&db, &authority, &t.username).await?;
    // h's one developer token per user: creating another replaces it, which would log out
    // whatever script or client uses the old one; so that must be asked for.
    if !t.replace && db.has_developer_token(&user).await? {
        anyhow::bail!(
            "{} already has a developer token; `scholia token create {} --replace` replaces \
             it, and the old one stops working at once",
            user.userid(),
            t.username
        );
    }
    let token = db.create_developer_token(&user).await?;
    println!("{token}");
    db.close().await;
    Ok(())
}

/// Microseconds since the epoch for an RFC 3339 time; `never` is `None`.
fn parse_time(s: &str) -> anyhow::Result<Option<i64>> {
    if s == "never" {
        return Ok(None);
    }
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| anyhow::anyhow!("{s:?} is not an RFC 3339 time: {e}"))?;
    Ok(Some((t.unix_timestamp_nanos() / 1000) as i64))
}

pub async fn group(config: &Config, cmd: GroupCommand) -> anyhow::Result<()> {
    let (db, authority) = open(config).await?;
    match cmd {
        GroupCommand::Create(g) => {
            let group_type: GroupType = g.group_type.parse().map_err(anyhow::Error::msg)?;
            let len = g.name.chars().count();
            anyhow::ensure!(
                (3..=25).contains(&len),
                "group names are 3 to 25 characters"
            );
            let creator = find_user(&db, &authority, &g.creator).await?;
            let (group, _) = db
                .create_group(
                    &NewGroup {
                        name: &g.name,
                        description: g.description.as_deref(),
                        group_type,
                        pre_moderated: g.pre_moderated,
                        authority: &creator.authority,
                        authority_provided_id: None,
                        creator: Some(&creator),
                    },
                    None,
                )
                .await?;
            println!("{}", group.pubid);
        }
        GroupCommand::AddMember(m) => {
            let role: Role = m.role.parse().map_err(anyhow::Error::msg)?;
            let group = db
                .group_by_pubid(&m.pubid)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no group {}", m.pubid))?;
            let user = find_user(&db, &authority, &m.username).await?;
            db.add_member(&group, &user, role, None).await?;
            if let Some(lms) = &m.lms_role {
                let lms = match lms.as_str() {
                    "instructor" => Some(crate::store::checkpoints::INSTRUCTOR),
                    "student" => Some("lms_student"),
                    "none" => None,
                    other => {
                        anyhow::bail!("unknown LMS role {other:?}: instructor, student or none")
                    }
                };
                db.set_lms_role(&group, &user, lms).await?;
            }
            println!("{} {} {role}", group.pubid, user.userid());
        }
        GroupCommand::Checkpoint(c) => {
            let group = db
                .group_by_pubid(&c.pubid)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no group {}", c.pubid))?;
            let reveal = match &c.reveal_at {
                Some(t) => parse_time(t)?,
                None => None,
            };
            let id = db.create_checkpoint(&group, &c.uri, reveal).await?;
            println!("{id}");
        }
        GroupCommand::Reveal(r) => {
            let at = match &r.at {
                Some(t) => parse_time(t)?,
                None => Some(crate::domain::time::now_micros()),
            };
            db.set_reveal_date(r.id, at).await?;
            println!("{} {}", r.id, r.at.as_deref().unwrap_or("now"));
        }
        GroupCommand::RemoveMember(m) => {
            let group = db
                .group_by_pubid(&m.pubid)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no group {}", m.pubid))?;
            let user = find_user(&db, &authority, &m.username).await?;
            let change = db.remove_member(&group, &user, None).await?;
            println!(
                "{} {} {}",
                group.pubid,
                user.userid(),
                if change.is_changed() {
                    "removed"
                } else {
                    "was not a member"
                }
            );
        }
    }
    db.close().await;
    Ok(())
}

pub async fn authclient(config: &Config, cmd: AuthclientCommand) -> anyhow::Result<()> {
    let (db, authority) = open(config).await?;
    let AuthclientCommand::Create(c) = cmd;
    let authority = c.client_authority.unwrap_or(authority);
    let client = db.create_authclient(&authority, c.name.as_deref()).await?;
    println!("{} {}", client.id, client.secret);
    db.close().await;
    Ok(())
}
