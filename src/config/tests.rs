//! Configuration layering: defaults, file, environment, flags; the `[ws]` table and every
//! `SCHOLIA_*` name.
// figment::Jail's closures return figment's large error type.
#![allow(clippy::result_large_err)]
use super::*;

#[test]
fn defaults_need_no_file() {
    let c = Config::default();
    assert_eq!(c.listen, "127.0.0.1:5000");
    assert_eq!(c.public_url(None), "http://127.0.0.1:5000");
    assert_eq!(c.authority(), "127.0.0.1");
    assert_eq!(c.database_url(), "sqlite://scholia-data/scholia.db");
}

#[test]
fn authority_follows_public_url_host() {
    let c = Config {
        public_url: Some("https://annotate.example.org/".into()),
        ..Config::default()
    };
    assert_eq!(c.public_url(None), "https://annotate.example.org");
    assert_eq!(c.authority(), "annotate.example.org");
}

#[test]
fn flags_override_file_and_env() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "scholia.toml",
            "listen = \"127.0.0.1:7000\"\nauthority = \"file\"",
        )?;
        jail.set_env("SCHOLIA_AUTHORITY", "env");
        let c = Config::load(None, &Overrides::default()).map_err(|e| e.to_string())?;
        assert_eq!(c.listen, "127.0.0.1:7000");
        assert_eq!(c.authority(), "env");
        let o = Overrides {
            authority: Some("flag".into()),
            ..Overrides::default()
        };
        let c = Config::load(None, &o).map_err(|e| e.to_string())?;
        assert_eq!(c.authority(), "flag");
        Ok(())
    });
}

#[test]
fn rejects_a_bad_public_url() {
    let o = Overrides {
        public_url: Some("not a url".into()),
        ..Overrides::default()
    };
    figment::Jail::expect_with(|_| {
        assert!(Config::load(None, &o).is_err());
        Ok(())
    });
}

#[test]
fn the_ws_table_in_the_file_sets_the_socket_limits() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "scholia.toml",
            "listen = \"127.0.0.1:7000\"\n\
             [ws]\n\
             heartbeat_ms = 1000\n\
             idle_timeout_ms = 3000\n\
             max_message_bytes = 2048\n\
             queue_frames = 8\n\
             max_filter_clauses = 2\n\
             max_filter_values = 3\n\
             messages_per_second = 5.5\n\
             message_burst = 7\n\
             read_buffer_bytes = 512\n\
             write_rate = 2.5\n\
             write_burst = 4\n",
        )?;
        let c = Config::load(None, &Overrides::default()).map_err(|e| e.to_string())?;
        assert_eq!(c.listen, "127.0.0.1:7000");
        let l = c.socket_limits();
        assert_eq!(l.heartbeat, std::time::Duration::from_secs(1));
        assert_eq!(l.idle_timeout, std::time::Duration::from_secs(3));
        assert_eq!(l.max_message_bytes, 2048);
        assert_eq!(l.queue, 8);
        assert_eq!(l.filter.max_clauses, 2);
        assert_eq!(l.filter.max_values, 3);
        assert_eq!(l.messages_per_second, 5.5);
        assert_eq!(l.message_burst, 7.0);
        assert_eq!(l.read_buffer_bytes, 512);
        assert_eq!(l.write_rate, 2.5);
        assert_eq!(l.write_burst, 4.0);
        Ok(())
    });
}

#[test]
fn a_partial_ws_table_keeps_the_other_defaults_and_unknown_keys_are_refused() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("scholia.toml", "[ws]\nqueue_frames = 9\n")?;
        let c = Config::load(None, &Overrides::default()).map_err(|e| e.to_string())?;
        let expected = WsConfig {
            queue_frames: 9,
            ..WsConfig::default()
        };
        assert_eq!(c.ws, expected);
        jail.create_file("scholia.toml", "[ws]\nheartbeat = 9\n")?;
        assert!(Config::load(None, &Overrides::default()).is_err());
        Ok(())
    });
}

#[test]
fn default_socket_limits_are_the_sockets_own_defaults() {
    let from_config = Config::default().socket_limits();
    let own = crate::realtime::socket::Limits::default();
    assert_eq!(format!("{from_config:?}"), format!("{own:?}"));
}

/// Every `SCHOLIA_WS_*` name sets its `[ws]` key, over the file's value.
#[test]
fn every_scholia_ws_variable_sets_its_ws_key() {
    type Set = fn(&mut WsConfig);
    let cases: [(&str, &str, Set); 14] = [
        ("SCHOLIA_WS_HEARTBEAT_MS", "1000", |w| w.heartbeat_ms = 1000),
        ("SCHOLIA_WS_IDLE_TIMEOUT_MS", "95000", |w| {
            w.idle_timeout_ms = 95_000
        }),
        ("SCHOLIA_WS_MAX_MESSAGE_BYTES", "2048", |w| {
            w.max_message_bytes = 2048
        }),
        ("SCHOLIA_WS_QUEUE_FRAMES", "4", |w| w.queue_frames = 4),
        ("SCHOLIA_WS_MAX_FILTER_CLAUSES", "2", |w| {
            w.max_filter_clauses = 2
        }),
        ("SCHOLIA_WS_MAX_FILTER_VALUES", "3", |w| {
            w.max_filter_values = 3
        }),
        ("SCHOLIA_WS_MESSAGES_PER_SECOND", "2.5", |w| {
            w.messages_per_second = 2.5
        }),
        ("SCHOLIA_WS_MESSAGE_BURST", "6", |w| w.message_burst = 6),
        ("SCHOLIA_WS_READ_BUFFER_BYTES", "512", |w| {
            w.read_buffer_bytes = 512
        }),
        ("SCHOLIA_WS_WRITE_RATE", "1.5", |w| w.write_rate = 1.5),
        ("SCHOLIA_WS_WRITE_BURST", "3", |w| w.write_burst = 3),
        ("SCHOLIA_WS_REPLAY_MAX", "50", |w| w.replay_max = 50),
        ("SCHOLIA_WS_RESUME_TTL_SECS", "60", |w| {
            w.resume_ttl_secs = 60
        }),
        ("SCHOLIA_WS_CURSOR_FLUSH_MS", "250", |w| {
            w.cursor_flush_ms = 250
        }),
    ];
    // The table names every key of `[ws]`, each by its environment name.
    let names: Vec<String> = cases.iter().map(|(name, ..)| (*name).to_owned()).collect();
    let keys: Vec<String> = ws::KEYS
        .iter()
        .map(|k| format!("SCHOLIA_WS_{}", k.to_ascii_uppercase()))
        .collect();
    assert_eq!(names, keys);
    for (name, value, set) in cases {
        figment::Jail::expect_with(|jail| {
            // A file value the variable must override.
            let key = name.trim_start_matches("SCHOLIA_WS_").to_ascii_lowercase();
            let file_value = if key.ends_with("second") || key.ends_with("rate") {
                "7.0"
            } else {
                "70000"
            };
            jail.create_file("scholia.toml", &format!("[ws]\n{key} = {file_value}\n"))?;
            jail.set_env(name, value);
            let c =
                Config::load(None, &Overrides::default()).map_err(|e| format!("{name}: {e}"))?;
            let mut expected = WsConfig::default();
            set(&mut expected);
            assert_eq!(c.ws, expected, "{name}");
            Ok(())
        });
    }
}

/// The other `SCHOLIA_*` names still set top-level keys; names that are no setting do nothing.
#[test]
fn other_scholia_variables_stay_top_level() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("SCHOLIA_LISTEN", "127.0.0.1:7001");
        jail.set_env("SCHOLIA_DATA_DIR", "/tmp/d");
        jail.set_env("SCHOLIA_DATABASE_URL", "sqlite:///tmp/x.db");
        jail.set_env("SCHOLIA_PUBLIC_URL", "https://a.example");
        jail.set_env("SCHOLIA_AUTHORITY", "auth.example");
        jail.set_env("SCHOLIA_MAX_BODY_BYTES", "4096");
        jail.set_env("SCHOLIA_LOG_FORMAT", "json");
        jail.set_env("SCHOLIA_CLIENT_ASSETS", "/tmp/c");
        jail.set_env("SCHOLIA_DEMO", "true");
        jail.set_env("SCHOLIA_BUS", "postgres");
        jail.set_env("SCHOLIA_BUS_POLL_MS", "100");
        // Not settings read from the environment: ignored, as before.
        jail.set_env("SCHOLIA_BENCH_ENDPOINTS", "true");
        jail.set_env("SCHOLIA_WS_NO_SUCH_KEY", "1");
        jail.set_env("SCHOLIA_WS", "1");
        let c = Config::load(None, &Overrides::default()).map_err(|e| e.to_string())?;
        let expected = Config {
            listen: "127.0.0.1:7001".into(),
            data_dir: "/tmp/d".into(),
            database_url: Some("sqlite:///tmp/x.db".into()),
            public_url: Some("https://a.example".into()),
            authority: Some("auth.example".into()),
            max_body_bytes: 4096,
            log_format: "json".into(),
            client_assets: Some("/tmp/c".into()),
            demo: true,
            bus: "postgres".into(),
            bus_poll_ms: 100,
            ..Config::default()
        };
        assert_eq!(c, expected);
        Ok(())
    });
}

#[test]
fn env_names_map_to_their_keys() {
    let flat = &FLAT_ENV[..];
    assert_eq!(ws::env_key("LISTEN", flat).as_deref(), Some("listen"));
    assert_eq!(
        ws::env_key("ws_heartbeat_ms", flat).as_deref(),
        Some("ws.heartbeat_ms")
    );
    assert_eq!(ws::env_key("WS_NOPE", flat), None);
    assert_eq!(ws::env_key("BENCH_ENDPOINTS", flat), None);
    assert_eq!(ws::env_key("WS.HEARTBEAT_MS", flat), None);
}

#[test]
fn an_unknown_log_format_is_refused_listing_the_valid_ones() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("SCHOLIA_LOG_FORMAT", "xml");
        let e = Config::load(None, &Overrides::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"log_format "xml" is not one of: text, json"#
        );
        jail.set_env("SCHOLIA_LOG_FORMAT", "json");
        assert_eq!(
            Config::load(None, &Overrides::default())
                .unwrap()
                .log_format,
            "json"
        );
        Ok(())
    });
}

#[test]
fn scholia_variables_that_set_nothing_are_named() {
    let names = [
        "SCHOLIA_LISTEN",
        "SCHOLIA_LISTN",
        "SCHOLIA_WS_HEARTBEAT_MS",
        "SCHOLIA_WS_HEARTBEAT",
        "SCHOLIA_TEST_POSTGRES_URL",
        "SCHOLIA_TEST_NATS_URL",
        "SCHOLIA_MODEL_CASES",
        "SCHOLIA_BIN",
        "SCHOLIA_BENCH_POSTGRES_URL",
        "PATH",
    ];
    assert_eq!(
        super::unknown_env_names(names.map(String::from)),
        ["SCHOLIA_LISTN", "SCHOLIA_WS_HEARTBEAT"]
    );
}
