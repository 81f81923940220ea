//! Registration: `auth/register` (a code mailed, the password kept pending), `auth/verify-otp`
//! (the code spent: verified, the pending password set, signed in) and `auth/resend-otp` (a
//! new code, the same answer for every address).

use super::checks::{ambiguous, check_app, mailer, users_ready};
use super::codes::{VERIFY, issue};
use super::mails::{code_mail, send_later};
use super::passwords::hash_password;
use super::store::{
    accounts_by_email, begin, commit, create_account, mark_verified, signed_in, single,
};
use crate::caller;
use crate::error::ApiError;
use crate::routes::{AppState, connection};
use axum::body::Bytes;
use axum::http::StatusCode;
use offbase_base44::accounts::{
    self, CODE_LIFETIME, CODE_TRIES, CODES_PER_HOUR, CodeRequest, DEFAULT_ROLE, Refusal,
    Registration, Verification, matches_digest, new_code, token_digest,
};
use offbase_pg::serve::NewCode;
use offbase_pipeline::users::formats::postgres::TABLE as USERS_TABLE;
use serde_json::Value;

pub(super) async fn register_account(
    state: &AppState,
    app_id: &str,
    body: &Bytes,
) -> Result<Value, ApiError> {
    check_app(state, app_id)?;
    let mailer = mailer(state, "registering")?;
    users_ready(state)?;
    let Registration {
        email,
        password,
        full_name,
    } = Registration::read(body)?;
    let pending = hash_password(password).await?;
    let code = new_code();

    let mut connection = connection(state).await?;
    let mut transaction = begin(&mut connection).await?;
    let accounts = accounts_by_email(state, &mut transaction, &email).await?;
    let id = match accounts.as_slice() {
        [] => {
            let full_name = full_name.as_deref();
            create_account(state, &mut transaction, &email, full_name, DEFAULT_ROLE).await?
        }
        [account] if account.disabled => return Err(Refusal::disabled().into()),
        [account] if account.password_hash.is_some() => {
            return Err(Refusal::already_registered(&email).into());
        }
        [account] => account.id.clone(),
        _ => return Err(ambiguous(&email)),
    };
    let digest = token_digest(&code);
    let issued = issue(
        state,
        &mut transaction,
        &NewCode {
            user_id: &id,
            purpose: VERIFY,
            code_sha256: &digest,
            pending_password_hash: Some(&pending),
            lifetime_seconds: CODE_LIFETIME,
            max_per_hour: i32::from(CODES_PER_HOUR),
        },
    )
    .await?;
    if !issued {
        return Err(Refusal::too_many(&email).into());
    }
    commit(transaction).await?;
    mailer
        .send(code_mail(state, &email, &code))
        .await
        .map_err(|reason| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!(
                    "{email} is registered, but the mail with its code could not be sent: \
                     {reason}; ask for a new code with auth/resend-otp"
                ),
            )
        })?;
    Ok(accounts::registered(&email))
}

pub(super) async fn verify_code(
    state: &AppState,
    app_id: &str,
    body: &Bytes,
) -> Result<Value, ApiError> {
    check_app(state, app_id)?;
    users_ready(state)?;
    let Verification { email, code } = Verification::read(body)?;
    let refused = || ApiError::from(Refusal::wrong_code());
    let mut connection = connection(state).await?;
    let mut transaction = begin(&mut connection).await?;
    let Some(account) = single(accounts_by_email(state, &mut transaction, &email).await?) else {
        return Err(refused());
    };
    if account.disabled {
        return Err(Refusal::disabled().into());
    }
    let Some((expected, pending)) = offbase_pg::serve::try_code(
        &mut transaction,
        &state.pg_schema,
        &account.id,
        VERIFY,
        i32::from(CODE_TRIES),
    )
    .await
    .map_err(caller::database)?
    else {
        return Err(refused());
    };
    if !matches_digest(&code, &expected) {
        // The try counts.
        commit(transaction).await?;
        return Err(refused());
    }
    offbase_pg::serve::use_code(&mut transaction, &state.pg_schema, &account.id, VERIFY)
        .await
        .map_err(caller::database)?;
    offbase_pg::serve::update_account(
        &mut transaction,
        &state.pg_schema,
        USERS_TABLE,
        &account.id,
        pending.as_deref(),
        true,
    )
    .await
    .map_err(caller::database)?;
    mark_verified(state, &mut transaction, &account.id).await?;
    let answer = signed_in(state, &mut transaction, &account.id).await?;
    commit(transaction).await?;
    Ok(answer)
}

pub(super) async fn resend_code(
    state: &AppState,
    app_id: &str,
    body: &Bytes,
) -> Result<Value, ApiError> {
    check_app(state, app_id)?;
    let mailer = mailer(state, "sending a code")?;
    users_ready(state)?;
    let CodeRequest { email } = CodeRequest::read(body)?;
    let mut connection = connection(state).await?;
    let mut transaction = begin(&mut connection).await?;
    if let Some(account) = single(accounts_by_email(state, &mut transaction, &email).await?)
        && !account.disabled
        && (!account.is_verified || account.password_hash.is_none())
    {
        let code = new_code();
        let digest = token_digest(&code);
        let issued = issue(
            state,
            &mut transaction,
            &NewCode {
                user_id: &account.id,
                purpose: VERIFY,
                code_sha256: &digest,
                pending_password_hash: None,
                lifetime_seconds: CODE_LIFETIME,
                max_per_hour: i32::from(CODES_PER_HOUR),
            },
        )
        .await?;
        if issued {
            commit(transaction).await?;
            send_later(
                mailer.clone(),
                code_mail(state, &email, &code),
                "verification",
            );
        }
    }
    Ok(accounts::code_resent())
}
