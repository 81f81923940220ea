//! Invitations and login links: `users/invite-user` (an admin or the service role; the
//! invited account has no password and is mailed a link) and `auth/login-token`, the link that
//! signs in once with an invitation's token or the users export's one-time login token.

use super::checks::{
    address, ambiguous, check_app, disabled, mailer, read_body, text, too_many, users_ready,
};
use super::codes::{CODES_PER_HOUR, INVITE, INVITE_LIFETIME, issue, new_token};
use super::mails::invite_mail;
use super::store::{
    DEFAULT_ROLE, account_by_id, accounts_by_email, begin, commit, create_account, mark_verified,
    own_role, signed_in,
};
use crate::caller::{self, Credentials};
use crate::error::ApiError;
use crate::login_page::{host, return_to, with_token};
use crate::routes::{AppState, connection};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use offbase_model::BuiltIn;
use offbase_pg::serve::NewCode;
use offbase_pipeline::users::formats::postgres::{TABLE as USERS_TABLE, token_digest};
use serde_json::{Value, json};
use sqlx::{Postgres, Transaction};

pub(super) async fn invite(
    state: &AppState,
    app_id: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Value, ApiError> {
    check_app(state, app_id)?;
    let credentials = state.credentials(headers);
    let body = read_body(body)?;
    let email = address(
        &body,
        "user_email",
        "inviting takes `{\"user_email\": ..., \"role\": ...}`",
    )?;
    let role = match text(&body, "role").trim() {
        "" => DEFAULT_ROLE,
        role if role.len() <= 64
            && role
                .chars()
                .all(|character| character.is_ascii_alphanumeric() || "_-".contains(character)) =>
        {
            role
        }
        _ => {
            return Err(ApiError::bad_request(
                "`role` is a role name: letters, digits, `_` and `-` (e.g. `user` or `admin`)",
            ));
        }
    };
    let mut connection = connection(state).await?;
    let mut transaction = begin(&mut connection).await?;
    inviter(state, &mut transaction, &credentials).await?;
    let mailer = mailer(state, "inviting")?;
    users_ready(state)?;
    let accounts = accounts_by_email(state, &mut transaction, &email).await?;
    let id = match accounts.as_slice() {
        [] => create_account(state, &mut transaction, &email, None, role).await?,
        [account] if account.password_hash.is_some() => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("{email} already has an account with a password: they can sign in"),
            ));
        }
        // Invited again: a new link; the account keeps its role.
        [account] => account.id.clone(),
        _ => return Err(ambiguous(&email)),
    };
    let token = new_token();
    let digest = token_digest(&token);
    let issued = issue(
        state,
        &mut transaction,
        &NewCode {
            user_id: &id,
            purpose: INVITE,
            code_sha256: &digest,
            pending_password_hash: None,
            lifetime_seconds: INVITE_LIFETIME,
            max_per_hour: CODES_PER_HOUR,
        },
    )
    .await?;
    if !issued {
        return Err(too_many(&email));
    }
    commit(transaction).await?;
    mailer
        .send(invite_mail(state, &email, &token))
        .await
        .map_err(|reason| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!(
                    "{email} is invited, but the mail with the link could not be sent: \
                     {reason}; invite again"
                ),
            )
        })?;
    Ok(json!({
        "success": true,
        "user_email": email,
        "role": role,
        "expires_in": INVITE_LIFETIME,
    }))
}

/// Who may invite: the service role, or a signed-in admin.
async fn inviter(
    state: &AppState,
    transaction: &mut Transaction<'_, Postgres>,
    credentials: &Credentials,
) -> Result<(), ApiError> {
    let only = "only an admin or the service role may invite users";
    let token = match credentials {
        Credentials::Service => return Ok(()),
        Credentials::Token(token) => token,
        Credentials::Nothing => {
            return Err(caller::unauthorized(format!(
                "{only}: send an admin's token (Authorization: Bearer <token>) or the service key"
            )));
        }
        Credentials::Invalid => {
            return Err(caller::unauthorized(
                "the credentials sent are neither this app's service key nor a bearer token",
            ));
        }
    };
    let id = state
        .auth
        .secret
        .verify(&state.app_id, token)
        .map_err(caller::unauthorized)?;
    let user = caller::read_user(state, transaction, &id)
        .await?
        .ok_or_else(|| {
            caller::unauthorized("the user this token was issued for no longer exists")
        })?;
    own_role(state, transaction).await?;
    if user.record.get(BuiltIn::Disabled.field_name()) == Some(&Value::Bool(true)) {
        return Err(caller::unauthorized(
            "the user this token was issued for is disabled",
        ));
    }
    if user.role.as_deref() != Some("admin") {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("{only}; user {} is not an admin", user.email),
        ));
    }
    Ok(())
}

pub(super) async fn sign_in_with_link(
    state: &AppState,
    app_id: &str,
    headers: &HeaderMap,
    pairs: &[(String, String)],
) -> Result<String, ApiError> {
    check_app(state, app_id)?;
    users_ready(state)?;
    let parameter = |name: &str| {
        pairs
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    // Where to go is checked before the token is spent.
    let back = return_to(
        parameter("from_url"),
        host(headers),
        state.accounts.public_origin.as_deref(),
    )?;
    let token = parameter("token").map(str::trim).unwrap_or_default();
    if token.is_empty() {
        return Err(ApiError::bad_request(
            "a sign-in link carries its one-time `token`",
        ));
    }
    let refused = || {
        caller::unauthorized(
            "this sign-in link is invalid, used or expired: ask for a new one, or reset the \
             password (auth/reset-password-request)",
        )
    };
    let digest = token_digest(token);
    let mut connection = connection(state).await?;
    let mut transaction = begin(&mut connection).await?;
    let invited = offbase_pg::serve::use_token(&mut transaction, &state.pg_schema, INVITE, &digest)
        .await
        .map_err(caller::database)?;
    let by_invitation = invited.is_some();
    let id = match invited {
        Some(id) => id,
        None => offbase_pg::serve::use_login_token(
            &mut transaction,
            &state.pg_schema,
            USERS_TABLE,
            &digest,
        )
        .await
        .map_err(caller::database)?
        .ok_or_else(refused)?,
    };
    let account = account_by_id(state, &mut transaction, &id)
        .await?
        .ok_or_else(refused)?;
    if account.disabled {
        return Err(disabled());
    }
    if by_invitation {
        // The mailed link proves the address.
        offbase_pg::serve::update_account(
            &mut transaction,
            &state.pg_schema,
            USERS_TABLE,
            &id,
            None,
            true,
        )
        .await
        .map_err(caller::database)?;
        mark_verified(state, &mut transaction, &id).await?;
    }
    let answer = signed_in(state, &mut transaction, &id).await?;
    commit(transaction).await?;
    let access_token = answer
        .get("access_token")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Ok(with_token(&back, access_token))
}
