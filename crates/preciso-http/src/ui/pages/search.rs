//! `/search?q=&category=&store=&min_price=&max_price=&sort=&currency=&page=`: products with
//! their best current price (the answer of `GET /api/search`), the filters kept in the URL.

use super::super::layout::Section;
use super::super::{Ctx, format};
use super::{best_list, currency_switch, pager};
use crate::error::ApiResult;
use crate::extract::QueryParams;
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};

pub async fn page(ctx: Ctx) -> Response {
    match content(&ctx).await {
        Ok(body) => ctx.render(Section::Search, ctx.t.search_title, body),
        Err(e) => ctx.error(e),
    }
}

async fn content(ctx: &Ctx) -> ApiResult<Markup> {
    let state = || State(ctx.state.clone());
    let Json(found) = crate::routes::search::search(state(), QueryParams(ctx.params())).await?;
    let Json(categories) = crate::routes::catalog::categories(state()).await?;
    let Json(stores) = crate::routes::catalog::stores(state()).await?;
    let t = ctx.t;
    let q = ctx.get("q").unwrap_or("");
    let sort = ctx.get("sort").unwrap_or("price");
    Ok(html! {
        form.filters method="get" action="/search" {
            label { (t.query) input type="search" name="q" value=(q) maxlength="200"; }
            label { (t.category)
                select name="category" {
                    option value="" { (t.any) }
                    @for c in &categories.items {
                        option value=(c.key) selected[ctx.get("category") == Some(c.key.as_str())] { (c.category) }
                    }
                }
            }
            label { (t.store)
                select name="store" {
                    option value="" { (t.any) }
                    @for s in &stores.items {
                        option value=(s.id.as_str()) selected[ctx.get("store") == Some(s.id.as_str())] { (s.name) }
                    }
                }
            }
            label { (t.min_price) input type="text" inputmode="decimal" name="min_price" value=(ctx.get("min_price").unwrap_or("")) pattern="[0-9]*([.][0-9]+)?"; }
            label { (t.max_price) input type="text" inputmode="decimal" name="max_price" value=(ctx.get("max_price").unwrap_or("")) pattern="[0-9]*([.][0-9]+)?"; }
            @if !q.is_empty() {
                label { (t.sort)
                    select name="sort" {
                        option value="price" selected[sort == "price"] { (t.sort_price) }
                        option value="-price" selected[sort == "-price"] { (t.sort_price_desc) }
                    }
                }
            }
            @if let Some(c) = found.currency { input type="hidden" name="currency" value=(c.code()); }
            button type="submit" { (t.apply) }
        }
        (currency_switch(ctx, found.currency, &found.currencies))
        p role="status" {
            @if !found.total_exact { (t.at_least) " " }
            strong { (format::count(found.total, ctx.lang)) } " " (t.results)
        }
        @if found.items.is_empty() {
            p { (t.no_results) }
        } @else {
            (best_list(ctx, &found.items))
            // Exact for paging: a search serves its candidates' pages only, none past them
            // (the count above says "at least" when more products match).
            (pager(ctx, found.page, found.limit, found.total, true))
        }
    })
}
