//! Invitations and login links: `users/invite-user` (an admin or the service role; the
//! invited account has no password and is mailed a link) and `auth/login-token`, the link that
//! signs in once with an invitation's token or the users export's one-time login token.

use super::checks::{ambiguous, check_app, mailer, users_ready};
use super::codes::{INVITE, issue};
use super::mails::invite_mail;
use super::store::{
    account_by_id, accounts_by_email, begin, commit, create_account, mark_verified, own_role,
    signed_in,
};
use crate::caller::{self, Credentials};
use crate::error::ApiError;
use crate::login_page::host;
use crate::routes::{AppState, connection};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use offbase_base44::accounts::{
    self, CODES_PER_HOUR, INVITE_LIFETIME, Invitation, LoginLink, Refusal, new_token, token_digest,
    with_token,
};
use offbase_model::BuiltIn;
use offbase_pg::serve::NewCode;
use offbase_pipeline::users::formats::postgres::TABLE as USERS_TABLE;
use serde_json::Value;
use sqlx::{Postgres, Transaction};

pub(super) async fn invite(
    state: &AppState,
    app_id: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Value, ApiError> {
    check_app(state, app_id)?;
    let credentials = state.credentials(headers);
    let Invitation { email, role } = Invitation::read(body)?;
    let mut connection = connection(state).await?;
    let mut transaction = begin(&mut connection).await?;
    inviter(state, &mut transaction, &credentials).await?;
    let mailer = mailer(state, "inviting")?;
    users_ready(state)?;
    let accounts = accounts_by_email(state, &mut transaction, &email).await?;
    let id = match accounts.as_slice() {
        [] => create_account(state, &mut transaction, &email, None, &role).await?,
        [account] if account.password_hash.is_some() => {
            return Err(Refusal::already_signs_in(&email).into());
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
            max_per_hour: i32::from(CODES_PER_HOUR),
        },
    )
    .await?;
    if !issued {
        return Err(Refusal::too_many(&email).into());
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
    Ok(accounts::invited(&email, &role))
}

/// Who may invite: the service role, or a signed-in admin.
async fn inviter(
    state: &AppState,
    transaction: &mut Transaction<'_, Postgres>,
    credentials: &Credentials,
) -> Result<(), ApiError> {
    let token = match credentials {
        Credentials::Service => return Ok(()),
        Credentials::Token(token) => token,
        Credentials::Nothing => return Err(Refusal::inviter_unknown().into()),
        Credentials::Invalid => return Err(Refusal::unknown_credentials().into()),
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
        return Err(Refusal::inviter_not_admin(&user.email).into());
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
    let LoginLink { token, back } = LoginLink::read(
        pairs,
        host(headers),
        state.accounts.public_origin.as_deref(),
    )?;
    let refused = || ApiError::from(Refusal::wrong_link());
    let digest = token_digest(&token);
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
        return Err(Refusal::disabled().into());
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
