//! The unmodified Hypothesis client, in Debian's headless Chromium, against this build of the
//! server (`e2e/tests/client.test.js`, driven by playwright-core): live notes, sidebar posts,
//! edits and deletes, reconnection after a restart (and a note posted before the sidebar is back),
//! the login popup and a publisher's own users (client.test.js); the site's pages with it
//! (site.test.js); the shipped nginx config with TLS in front (tls.test.js).
//! Run from here so the README's one test command covers it. It needs `npm ci` in `e2e/` and
//! `/usr/bin/chromium` (`.ci/run` installs both); without them it says so and skips, except under
//! CI=true, where it fails.

use std::path::Path;
use std::process::Command;

#[test]
fn browser_the_unmodified_hypothesis_client_works_in_chromium() {
    let e2e = Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let missing: Vec<&str> = [
        (!e2e.join("node_modules/playwright-core").is_dir())
            .then_some("e2e/node_modules (run `npm ci --prefix e2e`)"),
        (!Path::new(&chromium).exists()).then_some("Chromium (apt-get install chromium)"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !missing.is_empty() {
        let msg = format!("the browser test needs {}", missing.join(" and "));
        assert!(!std::env::var("CI").is_ok_and(|v| v == "true"), "{msg}");
        eprintln!("NOTICE: skipping: {msg}");
        return;
    }
    let out = Command::new("node")
        .args([
            "--experimental-websocket",
            "--test",
            "--test-concurrency=1",
            "tests/",
        ])
        .current_dir(&e2e)
        .env("SCHOLIA_BIN", env!("CARGO_BIN_EXE_scholia"))
        .env("CHROMIUM", &chromium)
        .output()
        .expect("run node (is Node.js installed?)");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "browser test failed:\n{report}");
    // client.test.js 8, site.test.js 5, tls.test.js 1 (skipped, with a notice, without nginx).
    let nginx = Path::new("/usr/sbin/nginx").exists();
    if !nginx {
        eprintln!("NOTICE: nginx is not installed; the TLS scenario was skipped");
    }
    let expected = if nginx { 14 } else { 13 };
    assert!(
        report.contains(&format!("# pass {expected}\n")) && report.contains("# fail 0"),
        "unexpected report:\n{report}"
    );
}
