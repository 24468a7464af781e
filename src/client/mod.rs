//! Serves the Hypothesis client (the npm package `hypothesis`) so that the unmodified sidebar
//! runs against this server (hypothesis-client.md §5; h's `h/views/client.py`):
//!
//! - `/client/build/...`: the package's `build/` folder, with JavaScript and CSS MIME types and
//!   `Access-Control-Allow-Origin: *` (module scripts and fonts load cross-origin);
//! - `/embed.js`: the package's `boot-template.js` with this server's URLs filled in, the one
//!   script a host page needs;
//! - `/app.html` (and `/notebook`, `/user-profile`): the sidebar page, with this server's config.
//!
//! Without assets (no `--client-assets`), these pages say how to add them instead of failing
//! obscurely.

pub mod demo;
pub mod login;

use std::path::{Component, Path, PathBuf};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::app::AppState;

/// The npm package version the project pins (e2e/package.json) and the README installs.
pub const PINNED_VERSION: &str = "1.1766.0";

/// The client's files, checked once at start-up.
#[derive(Debug)]
pub enum ClientAssets {
    Ready {
        root: PathBuf,
        /// `boot-template.js`, placeholders still in.
        boot_template: String,
    },
    /// Why there is no client (shown on `/app.html` and `/embed.js`).
    Missing(String),
}

impl ClientAssets {
    /// Looks at `dir` (the package's `build/` folder).
    pub fn load(dir: Option<&Path>) -> ClientAssets {
        let Some(dir) = dir else {
            return ClientAssets::Missing(format!(
                "This server was started without the Hypothesis client. Install it with \
                 `npm install --prefix client hypothesis@{PINNED_VERSION}` and start the server \
                 with `--client-assets client/node_modules/hypothesis/build`."
            ));
        };
        match std::fs::read_to_string(dir.join("boot-template.js")) {
            Ok(boot_template) if dir.join("scripts/sidebar.bundle.js").is_file() => {
                ClientAssets::Ready {
                    root: dir.to_path_buf(),
                    boot_template,
                }
            }
            Ok(_) => ClientAssets::Missing(format!(
                "{} has no scripts/sidebar.bundle.js: it is not the build/ folder of the hypothesis npm package.",
                dir.display()
            )),
            Err(e) => ClientAssets::Missing(format!(
                "Cannot read {}: {e}. --client-assets must name the build/ folder of the hypothesis npm package.",
                dir.join("boot-template.js").display()
            )),
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/embed.js", get(embed_js))
        .route("/app.html", get(app_html))
        .route("/notebook", get(app_html))
        .route("/user-profile", get(app_html))
        .route("/client/build/{*path}", get(asset))
        // Browsers ask every site for one; an empty answer keeps their consoles clean.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .merge(demo::router())
        .merge(login::router())
}

fn missing(reason: &str) -> Response {
    let page = format!(
        "<!DOCTYPE html><meta charset=\"utf-8\"><title>Hypothesis client not installed</title>\
         <h1>Hypothesis client not installed</h1><p>{}</p>",
        html_escape(reason)
    );
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

/// `/embed.js`: the boot script with `__ASSET_ROOT__` and the three app URLs set to this server
/// (as the client's `scripts/render-boot-template.js` does for its CDN).
async fn embed_js(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    // The page loading the client: `/a/<id>` sends readers of its site's annotations there.
    if let Some(referer) = headers.get(header::REFERER).and_then(|v| v.to_str().ok()) {
        state.embedders().record(referer);
    }
    let boot_template = match state.client().as_ref() {
        ClientAssets::Ready { boot_template, .. } => boot_template,
        ClientAssets::Missing(reason) => {
            let script = format!("console.error({});", json!(format!("scholia: {reason}")));
            return js(StatusCode::SERVICE_UNAVAILABLE, script);
        }
    };
    let base = &state.site().public_url;
    let script = boot_template
        .replace(
            "\"__ASSET_ROOT__\"",
            &json!(format!("{base}/client/")).to_string(),
        )
        .replace(
            "\"__SIDEBAR_APP_URL__\"",
            &json!(format!("{base}/app.html")).to_string(),
        )
        .replace(
            "\"__NOTEBOOK_APP_URL__\"",
            &json!(format!("{base}/notebook")).to_string(),
        )
        .replace(
            "\"__PROFILE_APP_URL__\"",
            &json!(format!("{base}/user-profile")).to_string(),
        );
    js(StatusCode::OK, script)
}

fn js(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// The sidebar page (h's `h/templates/app.html.jinja2`): `<hypothesis-app>`, the config block
/// and the boot script. The client picks the sidebar, Notebook or profile view from the path.
async fn app_html(State(state): State<AppState>) -> Response {
    if let ClientAssets::Missing(reason) = state.client().as_ref() {
        return missing(reason);
    }
    let base = &state.site().public_url;
    let config = json!({
        "apiUrl": format!("{base}/api/"),
        "authDomain": state.authority(),
        "oauthClientId": state.first_party_client_id(),
    });
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Hypothesis</title>\n</head>\n<body>\n<hypothesis-app></hypothesis-app>\n\
         <script class=\"js-hypothesis-config\" type=\"application/json\">{}</script>\n\
         <script src=\"{base}/embed.js\"></script>\n</body>\n</html>\n",
        script_json(&config)
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

/// JSON safe inside a `<script>` element (no `</script>` can end it early).
pub fn script_json(v: &serde_json::Value) -> String {
    v.to_string().replace('<', "\\u003c")
}

pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A file of the package. The query string (cache-busting hashes) is ignored; paths that
/// would leave the folder are refused.
async fn asset(State(state): State<AppState>, UrlPath(path): UrlPath<String>) -> Response {
    let ClientAssets::Ready { root, .. } = state.client().as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let relative = Path::new(&path);
    if !relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return StatusCode::NOT_FOUND.into_response();
    }
    match tokio::fs::read(root.join(relative)).await {
        Ok(bytes) => {
            let mut response = bytes.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(mime_of(&path)),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            );
            response
        }
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// MIME types of what the package ships.
fn mime_of(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "html" => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::{mime_of, script_json};

    #[test]
    fn mime_types_and_script_safe_json() {
        assert_eq!(
            mime_of("scripts/sidebar.bundle.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            mime_of("styles/fonts/KaTeX_Main-Regular.woff2"),
            "font/woff2"
        );
        assert_eq!(mime_of("styles/sidebar.css"), "text/css; charset=utf-8");
        assert_eq!(
            script_json(&serde_json::json!("</script>")),
            "\"\\u003c/script>\""
        );
    }
}
