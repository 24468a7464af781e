//! Serving the Hypothesis client: assets, `/embed.js`, `/app.html`, the demo page, and the
//! analytics sink the client posts to. (The real client in a real browser is `e2e/`.)

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, spawn_app, spawn_app_with};

/// A stand-in for the npm package's `build/` folder.
fn fake_assets() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("boot-template.js"),
        r#"boot({assetRoot:"__ASSET_ROOT__",sidebarAppUrl:"__SIDEBAR_APP_URL__",notebookAppUrl:"__NOTEBOOK_APP_URL__",profileAppUrl:"__PROFILE_APP_URL__"});"#,
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("scripts")).unwrap();
    std::fs::write(dir.path().join("scripts/sidebar.bundle.js"), "export {};").unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_assets_the_pages_say_how_to_add_them() {
    let app = spawn_app(Backend::Sqlite).await;
    let r = app.client.get(app.url("/app.html")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("npm install --prefix client hypothesis@")
    );
    let r = app.client.get(app.url("/embed.js")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.text().await.unwrap().starts_with("console.error("));
    let r = app
        .client
        .post(app.url("/api/analytics/events"))
        .json(&json!({"event": "client.realtime.apply_updates"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.status(reqwest::Method::GET, "/demo", None).await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_boot_script_and_sidebar_page() {
    let assets = fake_assets();
    let path = assets.path().to_path_buf();
    let app = spawn_app_with(Backend::Sqlite, |c| c.client_assets = Some(path)).await;
    let base = &app.base;

    let r = app.client.get(app.url("/embed.js")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert_eq!(
        r.text().await.unwrap(),
        format!(
            r#"boot({{assetRoot:"{base}/client/",sidebarAppUrl:"{base}/app.html",notebookAppUrl:"{base}/notebook",profileAppUrl:"{base}/user-profile"}});"#
        )
    );

    let r = app
        .client
        .get(app.url("/client/build/scripts/sidebar.bundle.js?045f77"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    for outside in [
        "/client/build/%2e%2e/boot-template.js",
        "/client/build/nope.js",
    ] {
        assert_eq!(
            app.status(reqwest::Method::GET, outside, None).await,
            StatusCode::NOT_FOUND,
            "{outside}"
        );
    }

    for page in ["/app.html", "/notebook", "/user-profile"] {
        let html = app
            .client
            .get(app.url(page))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("<hypothesis-app></hypothesis-app>"), "{page}");
        let config = html
            .split("type=\"application/json\">")
            .nth(1)
            .unwrap()
            .split("</script>")
            .next()
            .unwrap();
        let config: Value = serde_json::from_str(config).unwrap();
        assert_eq!(config["apiUrl"], format!("{base}/api/"));
        assert_eq!(config["authDomain"], crate::helpers::AUTHORITY);
        assert!(html.contains(&format!("<script src=\"{base}/embed.js\"></script>")));
    }
    let (_, index) = app.get("/api/", None).await;
    assert_eq!(
        index["links"]["analytics"]["events"]["create"]["url"],
        format!("{base}/api/analytics/events")
    );
}

/// The demo page's grant token logs the demo user in through the real JWT grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_page_logs_its_user_in_with_a_grant_token() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.demo = true).await;
    let html = app
        .client
        .get(app.url("/demo?user=bob"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!(
        "<link rel=\"canonical\" href=\"{}/demo\">",
        app.base
    )));
    let config = html
        .split("return ")
        .nth(1)
        .unwrap()
        .split("; };")
        .next()
        .unwrap();
    let config: Value = serde_json::from_str(config).unwrap();
    assert_eq!(config["openSidebar"], true);
    let service = &config["services"][0];
    assert_eq!(service["apiUrl"], format!("{}/api/", app.base));
    let r = app
        .client
        .post(app.url("/api/token"))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", service["grantToken"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let tokens: Value = r.json().await.unwrap();
    let (_, profile) = app
        .get("/api/profile", tokens["access_token"].as_str())
        .await;
    assert_eq!(
        profile["userid"],
        format!("acct:bob@{}", crate::helpers::AUTHORITY)
    );
    assert_eq!(
        app.status(reqwest::Method::GET, "/demo?user=mallory", None)
            .await,
        StatusCode::BAD_REQUEST
    );
}
