//! Users and their personalization preferences.

use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, PathParam, QueryParams};
use crate::layers::auth::Caller;
use crate::model::error::{ErrorBody, ErrorDetails};
use crate::model::users::{UserInput, UserPage};
use crate::params::{IdPath, Paging};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use preciso_core::query::{NewUser, Preferences, User};

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::Unprocessable {
        message: format!("{field}: {message}"),
        details: Box::new(ErrorDetails { field: Some(field.into()), ..Default::default() }),
    }
}

/// Checks what the schema cannot: lengths, a plausible e-mail, bounded preference lists.
fn validate(body: UserInput) -> ApiResult<(NewUser, Preferences)> {
    let name = body.name.trim().to_string();
    let email = body.email.trim().to_lowercase();
    if name.is_empty() || body.name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(invalid("name", "must be 1–200 characters"));
    }
    let plausible = email.len() <= 254
        && email.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty()
                && !d.contains('@')
                && d.contains('.')
                && !d.starts_with('.')
                && !d.ends_with('.')
                && !d.contains("..")
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !plausible {
        return Err(invalid("email", "is not a valid e-mail address"));
    }
    let p = &body.preferences;
    for (field, list) in [
        ("preferences.stores", &p.stores),
        ("preferences.brands", &p.brands),
        ("preferences.categories", &p.categories),
    ] {
        let bad = |s: &String| {
            s.trim().is_empty() || s.chars().count() > 100 || s.chars().any(char::is_control)
        };
        if list.len() > 50 || list.iter().any(bad) {
            return Err(invalid(field, "at most 50 non-empty entries of at most 100 characters"));
        }
    }
    let max = preciso_core::domain::Money::MAX_MINOR as f64;
    if p.budget.is_some_and(|b| b.fract() != 0.0 || !(0.0..=max).contains(&b)) {
        return Err(invalid("preferences.budget", "must be a whole number from 0 to 100000000000"));
    }
    let prefs = Preferences {
        stores: p
            .stores
            .iter()
            .filter_map(|s| preciso_core::domain::StoreId::parse(s).ok())
            .map(|s| s.to_string())
            .collect(),
        brands: p.brands.iter().map(|b| b.trim().to_string()).collect(),
        // Like stores, an entry that names nothing (no letter or digit) is dropped.
        categories: p
            .categories
            .iter()
            .map(|c| preciso_core::domain::category_key(c))
            .filter(|k| !k.is_empty())
            .collect(),
        budget: p.budget.map(|b| b as u64),
    };
    Ok((NewUser { name, email }, prefs))
}

/// One audit line per change to personal data: who (the key id, never the key) did what.
fn audit(caller: &Caller, action: &str, user_id: i64) {
    tracing::info!(target: "preciso::audit", key = caller.who(), action, user_id, "user changed");
}

fn user_id(raw: &str) -> ApiResult<i64> {
    raw.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| ApiError::bad("id", "user id must be a positive integer"))
}

/// Create a user.
#[utoipa::path(
    post,
    path = "/api/users",
    operation_id = "create_user",
    tag = "users",
    request_body = UserInput,
    responses(
        (status = 201, description = "The user.", body = User),
        (status = 403, description = "The API key lacks the users scope.", body = ErrorBody),
        (status = 409, description = "A user with this e-mail already exists.", body = ErrorBody),
        (status = 413, description = "Body too large.", body = ErrorBody),
        (status = 415, description = "Content-Type is not application/json.", body = ErrorBody),
        (status = 422, description = "Body does not match the schema or fails validation; `details.field` names the field.", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<UserInput>,
) -> ApiResult<(StatusCode, Json<User>)> {
    let (user, prefs) = validate(body)?;
    let created = state.db(move |c| Ok(c.create_user(&user, &prefs)?)).await?;
    audit(&caller, "user.create", created.id);
    Ok((StatusCode::CREATED, Json(created)))
}

/// Create a user (the path of the systems Preciso replaces).
#[utoipa::path(
    post,
    path = "/api/users/create",
    operation_id = "create_user_legacy",
    tag = "users",
    request_body = UserInput,
    responses(
        (status = 201, description = "The user.", body = User),
        (status = 403, description = "The API key lacks the users scope.", body = ErrorBody),
        (status = 409, description = "A user with this e-mail already exists.", body = ErrorBody),
        (status = 413, description = "Body too large.", body = ErrorBody),
        (status = 415, description = "Content-Type is not application/json.", body = ErrorBody),
        (status = 422, description = "Body does not match the schema or fails validation; `details.field` names the field.", body = ErrorBody),
    )
)]
pub async fn create_legacy(
    state: State<AppState>,
    caller: Caller,
    body: JsonBody<UserInput>,
) -> ApiResult<(StatusCode, Json<User>)> {
    create(state, caller, body).await
}

/// List users (a key with the users or admin scope).
#[utoipa::path(
    get,
    path = "/api/users",
    operation_id = "list_users",
    tag = "users",
    params(Paging),
    responses(
        (status = 200, description = "A page of users.", body = UserPage),
        (status = 403, description = "The API key lacks the users scope.", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    QueryParams(q): QueryParams,
) -> ApiResult<Json<UserPage>> {
    let page = q.page()?;
    let p = state.db(move |c| Ok(c.users(page)?)).await?;
    Ok(Json(UserPage { items: p.items, page: p.page, limit: p.limit, total: p.total }))
}

/// A user.
#[utoipa::path(
    get,
    path = "/api/users/{id}",
    operation_id = "get_user",
    tag = "users",
    params(IdPath),
    responses(
        (status = 200, description = "The user.", body = User),
        (status = 403, description = "The API key lacks the users scope.", body = ErrorBody),
        (status = 404, description = "No such user.", body = ErrorBody),
    )
)]
pub async fn get(State(state): State<AppState>, PathParam(id): PathParam) -> ApiResult<Json<User>> {
    let id = user_id(&id)?;
    state
        .db(move |c| Ok(c.user(id)?))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("user {id} does not exist")))
}

/// Replace a user's name, e-mail and preferences.
#[utoipa::path(
    put,
    path = "/api/users/{id}",
    operation_id = "update_user",
    tag = "users",
    params(IdPath),
    request_body = UserInput,
    responses(
        (status = 200, description = "The user.", body = User),
        (status = 403, description = "The API key lacks the users scope.", body = ErrorBody),
        (status = 404, description = "No such user.", body = ErrorBody),
        (status = 409, description = "Another user has this e-mail.", body = ErrorBody),
        (status = 413, description = "Body too large.", body = ErrorBody),
        (status = 415, description = "Content-Type is not application/json.", body = ErrorBody),
        (status = 422, description = "Body does not match the schema or fails validation; `details.field` names the field.", body = ErrorBody),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody<UserInput>,
) -> ApiResult<Json<User>> {
    let id = user_id(&id)?;
    let (user, prefs) = validate(body)?;
    let updated = state.db(move |c| Ok(c.update_user(id, &user, &prefs)?)).await?;
    let updated = updated.ok_or_else(|| ApiError::NotFound(format!("user {id} does not exist")))?;
    audit(&caller, "user.update", id);
    Ok(Json(updated))
}

/// Delete a user.
#[utoipa::path(
    delete,
    path = "/api/users/{id}",
    operation_id = "delete_user",
    tag = "users",
    params(IdPath),
    responses(
        (status = 204, description = "Deleted."),
        (status = 403, description = "The API key lacks the users scope.", body = ErrorBody),
        (status = 404, description = "No such user.", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam,
) -> ApiResult<StatusCode> {
    let id = user_id(&id)?;
    if state.db(move |c| Ok(c.delete_user(id)?)).await? {
        audit(&caller, "user.delete", id);
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("user {id} does not exist")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(e: &str) -> bool {
        let body =
            UserInput { name: "Ana".into(), email: e.into(), preferences: Default::default() };
        validate(body).is_ok()
    }

    #[test]
    fn emails_are_one_local_part_at_one_plausible_domain() {
        assert!(email("ana@example.com") && email(" Ana.Perez+x@mail.example.co "));
        for bad in [
            "a@b@c.d",
            "ana@example",
            "ana@.example.com",
            "ana@example..com",
            "@x.co",
            "ana @x.co",
            "ana@x.co\u{0}",
            "ana\t@x.co",
            "ana@x.co\u{7f}",
        ] {
            assert!(!email(bad), "{bad:?} was accepted");
        }
    }
}
