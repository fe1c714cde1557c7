//! The page shell every page shares: skip link, header with navigation, search box, language
//! switch and session, the main content, footer. The style sheet is a file of its own
//! (`/assets/app.<hash>.css`, cached for a year), so the CSP allows no inline style.

use super::Ctx;
use maud::{DOCTYPE, Markup, html};
use std::sync::LazyLock;

pub const CSS: &str = include_str!("app.css");

/// The style sheet's path, named by a hash of its content so a new build is fetched anew.
pub static CSS_PATH: LazyLock<String> = LazyLock::new(|| {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    CSS.hash(&mut h);
    format!("/assets/app.{:016x}.css", h.finish())
});

/// Which navigation entry a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Home,
    Search,
    Stores,
    Quality,
    Ops,
    None,
}

pub fn shell(ctx: &Ctx, section: Section, title: &str, body: Markup) -> Markup {
    let t = ctx.t;
    let nav = [
        (Section::Home, "/", t.nav_home),
        (Section::Search, "/search", t.nav_search),
        (Section::Stores, "/stores", t.nav_stores),
        (Section::Quality, "/quality", t.nav_quality),
        (Section::Ops, "/ops", t.nav_ops),
    ];
    html! {
        (DOCTYPE)
        html lang=(ctx.lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Preciso" }
                link rel="stylesheet" href=(CSS_PATH.as_str());
            }
            body {
                a.skip href="#main" { (t.skip) }
                header.top {
                    div.bar {
                        a.logo href="/" { "Preciso" }
                        nav.main aria-label=(t.nav_home) {
                            ul {
                                @for (s, href, label) in nav {
                                    li { a href=(href) aria-current=[(s == section).then_some("page")] { (label) } }
                                }
                                li { a href="/docs" { (t.nav_api) } }
                            }
                        }
                        div.tools {
                            form role="search" action="/search" method="get" {
                                input type="search" name="q" aria-label=(t.query) placeholder=(t.search_placeholder) maxlength="200";
                                button type="submit" { (t.nav_search) }
                            }
                            a href=(ctx.url_with(&[("lang", ctx.lang.other().code())])) hreflang=(ctx.lang.other().code()) lang=(ctx.lang.other().code()) { (t.other_language) }
                            @if let Some(csrf) = &ctx.csrf {
                                span { (t.signed_in) @if ctx.caller.is_admin() { " (" (t.admin) ")" } }
                                form action="/logout" method="post" {
                                    input type="hidden" name="csrf" value=(csrf);
                                    button type="submit" { (t.logout) }
                                }
                            } @else {
                                a href=(format!("/login?next={}", ctx.encoded_here())) { (t.login) }
                            }
                        }
                    }
                }
                main #main tabindex="-1" { h1 { (title) } (body) }
                footer { "Preciso " (env!("CARGO_PKG_VERSION")) " · " a href="/api/openapi.json" { "OpenAPI" } }
            }
        }
    }
}
