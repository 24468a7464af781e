//! The site: server-rendered pages at the addresses h's pages have (h's `h/routes.py`), so that
//! every link the Hypothesis client shows leads somewhere: `/`, `/a/<id>`, `/users/<name>`,
//! `/groups/...`, `/account/...`, `/signup`, `/search`, `/stream`. HTML through maud, one small
//! stylesheet, no JavaScript except where live updates are the point (`/stream`). Forms carry a
//! CSRF token ([`visitor`]); errors are pages ([`errors`]).
//!
//! The login form itself stays with the client's OAuth popup (`src/client/login.rs`), which
//! uses this module's session and CSRF helpers.

mod account;
mod activity;
pub mod annotation;
mod cards;
pub mod errors;
mod groups;
mod home;
mod layout;
pub mod limiter;
mod signup;
mod stream;
pub mod visitor;

use axum::Router;
use axum::routing::get;

use crate::app::AppState;

pub use annotation::Embedders;
pub use layout::{csrf_field, page_with};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home::home))
        .route("/docs/help", get(home::help))
        .route(layout::STYLESHEET, get(layout::stylesheet))
        .route(stream::SCRIPT_PATH, get(stream::script))
        .route("/stream", get(stream::stream))
        .route("/a/{id}", get(annotation::annotation_page))
        .route("/u/{user}", get(activity::user_redirect))
        .route("/users/{username}", get(activity::user_page))
        .route("/search", get(activity::search_page))
        .route("/groups/new", get(groups::new_form).post(groups::create))
        .route("/groups/{pubid}", get(groups::without_slug))
        // Join and Leave post to the page itself (`action=join|leave`).
        .route(
            "/groups/{pubid}/{slug}",
            get(groups::group_page).post(groups::membership),
        )
        .route(
            "/account/settings",
            get(account::settings).post(account::change_settings),
        )
        .route(
            "/account/developer",
            get(account::developer).post(account::generate_token),
        )
        .route("/logout", get(account::logout_page).post(account::logout))
        .route("/signup", get(signup::signup_form).post(signup::signup))
        .route("/forgot-password", get(signup::forgot_password))
}
