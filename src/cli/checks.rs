//! Start-up checks for mistakes that would otherwise show only later, or never: each refuses to
//! start or warns, saying what is wrong and what to do. Pure functions, so each case is a unit
//! test; `scholia serve` and the admin commands call them.

use std::net::SocketAddr;
use std::path::Path;

use crate::client::ClientAssets;
use crate::config::Config;

/// The `SCHOLIA_*` variables of this process's environment that name no setting, each with
/// its warning.
pub fn env_warnings() -> Vec<String> {
    let names = std::env::vars_os().filter_map(|(k, _)| k.into_string().ok());
    crate::config::unknown_env_names(names)
        .into_iter()
        .map(|name| {
            format!(
                "{name} is set but names no setting: it is ignored (a typo? the settings are \
                 listed in the README's Configuration table)"
            )
        })
        .collect()
}

/// Compares the default authority recorded in the database (at the server's first start) with
/// the one this configuration gives. Users are `acct:NAME@AUTHORITY`: an authority that changed
/// silently (the public URL moved, `--listen` changed with no public URL) would make every
/// existing account unreachable for logins and admin commands. Derived from the public URL,
/// that is refused; given explicitly with `--authority`, it is the operator's choice, and warned
/// about.
pub fn authority(stored: Option<&str>, config: &Config) -> anyhow::Result<Option<String>> {
    let configured = config.authority();
    let Some(stored) = stored.filter(|s| *s != configured) else {
        return Ok(None);
    };
    if config.authority.is_some() {
        return Ok(Some(format!(
            "--authority {configured} differs from the default authority this database \
             recorded at its first start, {stored}: its existing users are acct:NAME@{stored}, \
             and admin commands given a bare username will look for NAME@{configured}"
        )));
    }
    anyhow::bail!(
        "this database's default authority is {stored} (recorded at its first start: its users \
         are acct:NAME@{stored}), but this configuration would use {configured}, the host of \
         the public URL {public}. An authority is part of every userid and cannot follow a new \
         URL. To keep the existing users, give it explicitly: `scholia serve --authority \
         {stored}` (or SCHOLIA_AUTHORITY={stored}, or authority = \"{stored}\" in scholia.toml).",
        public = config.public_url(None),
    )
}

/// A warning when the server listens on every interface without a public URL: the links and
/// WebSocket URL it hands out would then name `0.0.0.0` (or `[::]`), which no client can reach.
pub fn listen_everywhere(config: &Config) -> Option<String> {
    let addr: SocketAddr = config.listen.parse().ok()?;
    (addr.ip().is_unspecified() && config.public_url.is_none()).then(|| {
        format!(
            "listening on every interface ({}) without --public-url: links, the WebSocket URL \
             and the default authority would name {}, which clients cannot reach. Set \
             --public-url (SCHOLIA_PUBLIC_URL) to the URL clients use.",
            config.listen,
            addr.ip()
        )
    })
}

/// A warning when a proxy is trusted but no public URL is set: the proxy's forwarded scheme and
/// host do not make links (they are fixed at start, and events rendered for sockets have no
/// request to take them from), so links would name the listen address behind the proxy.
pub fn proxy_without_public_url(config: &Config) -> Option<String> {
    (!config.trusted_proxy.is_empty() && config.public_url.is_none()).then(|| {
        format!(
            "--trusted-proxy is set without --public-url: links and the WebSocket URL name {},              the address behind the proxy. Set --public-url (SCHOLIA_PUBLIC_URL) to the URL              clients reach the proxy at.",
            config.public_url(None)
        )
    })
}

/// An error when `--client-assets` names a folder without the client's files (rather than a
/// server that starts and answers `/app.html` with an explanation nobody reads).
pub fn client_assets(config: &Config) -> anyhow::Result<()> {
    let Some(dir) = &config.client_assets else {
        return Ok(());
    };
    match ClientAssets::load(Some(dir)) {
        ClientAssets::Ready { .. } => Ok(()),
        ClientAssets::Missing(reason) => anyhow::bail!("client_assets: {reason}"),
    }
}

/// Creates the data directory when the database is the default SQLite file in it, but only
/// inside a folder that exists: `--data-dir /srv/scholai/data` (a typo) must not start a new,
/// empty database somewhere unexpected. The default, `./scholia-data`, is created on first run.
pub fn data_dir(config: &Config) -> anyhow::Result<()> {
    if config.database_url.is_some() || config.data_dir.is_dir() {
        return Ok(());
    }
    let dir = &config.data_dir;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    anyhow::ensure!(
        parent.is_dir(),
        "the data directory {} cannot be created: {} does not exist (check the path; scholia \
         creates only the data directory itself)",
        dir.display(),
        parent.display()
    );
    std::fs::create_dir(dir)
        .map_err(|e| anyhow::anyhow!("cannot create data directory {}: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(public_url: Option<&str>, authority: Option<&str>) -> Config {
        Config {
            public_url: public_url.map(Into::into),
            authority: authority.map(Into::into),
            ..Config::default()
        }
    }

    #[test]
    fn a_derived_authority_that_moved_is_refused_with_the_flag_that_keeps_it() -> anyhow::Result<()>
    {
        let moved = config(Some("https://annotations.example.org"), None);
        let e = authority(Some("127.0.0.1"), &moved)
            .unwrap_err()
            .to_string();
        assert!(e.contains("default authority is 127.0.0.1"), "{e}");
        assert!(e.contains("would use annotations.example.org"), "{e}");
        assert!(e.contains("`scholia serve --authority 127.0.0.1`"), "{e}");
        // The same host, a new database, or an explicit choice: no refusal.
        assert!(authority(Some("annotations.example.org"), &moved)?.is_none());
        assert!(authority(None, &moved)?.is_none());
        let explicit = config(Some("https://annotations.example.org"), Some("other.org"));
        let warning = authority(Some("127.0.0.1"), &explicit)?.unwrap();
        assert!(warning.contains("acct:NAME@127.0.0.1"), "{warning}");
        let kept = config(Some("https://annotations.example.org"), Some("127.0.0.1"));
        assert!(authority(Some("127.0.0.1"), &kept)?.is_none());
        Ok(())
    }

    #[test]
    fn listening_everywhere_without_a_public_url_warns() {
        let mut c = Config {
            listen: "0.0.0.0:5000".into(),
            ..Config::default()
        };
        assert!(listen_everywhere(&c).unwrap().contains("--public-url"));
        c.listen = "[::]:5000".into();
        assert!(listen_everywhere(&c).is_some());
        c.public_url = Some("https://h.example".into());
        assert!(listen_everywhere(&c).is_none());
        assert!(listen_everywhere(&Config::default()).is_none());
    }

    #[test]
    fn a_trusted_proxy_without_a_public_url_warns() {
        assert!(proxy_without_public_url(&Config::default()).is_none());
        let mut c: Config =
            figment::Figment::from(figment::providers::Serialized::defaults(Config::default()))
                .merge(("trusted_proxy", vec!["127.0.0.1"]))
                .extract()
                .unwrap();
        assert!(
            proxy_without_public_url(&c)
                .unwrap()
                .contains("--public-url")
        );
        c.public_url = Some("https://h.example".into());
        assert!(proxy_without_public_url(&c).is_none());
    }

    #[test]
    fn client_assets_without_the_build_files_are_refused() {
        let empty = tempfile::tempdir().unwrap();
        let c = Config {
            client_assets: Some(empty.path().to_path_buf()),
            ..Config::default()
        };
        let e = client_assets(&c).unwrap_err().to_string();
        assert!(e.contains("boot-template.js"), "{e}");
        assert!(client_assets(&Config::default()).is_ok());
    }

    #[test]
    fn the_data_directory_is_created_only_inside_an_existing_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let c = |dir: &str| Config {
            data_dir: tmp.path().join(dir),
            ..Config::default()
        };
        data_dir(&c("data")).unwrap();
        assert!(tmp.path().join("data").is_dir());
        data_dir(&c("data")).unwrap();
        let e = data_dir(&c("typo/data")).unwrap_err().to_string();
        assert!(e.contains("does not exist"), "{e}");
        assert!(!tmp.path().join("typo").exists());
    }
}
