//! Registration: `auth/register` (a code mailed, the password kept pending), `auth/verify-otp`
//! (the code spent: verified, the pending password set, signed in) and `auth/resend-otp` (a
//! new code, the same answer for every address).

use super::checks::{
    address, ambiguous, check_app, disabled, mailer, read_body, text, too_many, users_ready,
};
use super::codes::{CODES_PER_HOUR, OTP_LIFETIME, OTP_TRIES, VERIFY, issue, new_code};
use super::mails::{code_mail, send_later};
use super::passwords::{check_new_password, hash_password};
use super::store::{
    DEFAULT_ROLE, accounts_by_email, begin, commit, create_account, mark_verified, signed_in,
    single,
};
use crate::caller;
use crate::error::ApiError;
use crate::routes::{AppState, connection};
use crate::token::same_bytes;
use axum::body::Bytes;
use axum::http::StatusCode;
use offbase_pg::serve::NewCode;
use offbase_pipeline::users::formats::postgres::{TABLE as USERS_TABLE, token_digest};
use serde_json::{Value, json};

pub(super) async fn register_account(
    state: &AppState,
    app_id: &str,
    body: &Bytes,
) -> Result<Value, ApiError> {
    check_app(state, app_id)?;
    let mailer = mailer(state, "registering")?;
    users_ready(state)?;
    let body = read_body(body)?;
    let email = address(
        &body,
        "email",
        "registering takes `{\"email\": ..., \"password\": ...}`",
    )?;
    let password = text(&body, "password");
    check_new_password(password)?;
    let full_name = Some(text(&body, "full_name").trim()).filter(|name| !name.is_empty());
    let pending = hash_password(password.to_owned()).await?;
    let code = new_code();

    let mut connection = connection(state).await?;
    let mut transaction = begin(&mut connection).await?;
    let accounts = accounts_by_email(state, &mut transaction, &email).await?;
    let id = match accounts.as_slice() {
        [] => create_account(state, &mut transaction, &email, full_name, DEFAULT_ROLE).await?,
        [account] if account.disabled => return Err(disabled()),
        [account] if account.password_hash.is_some() => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "{email} is already registered: sign in, or reset the password \
                     (auth/reset-password-request)"
                ),
            ));
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
            lifetime_seconds: OTP_LIFETIME,
            max_per_hour: CODES_PER_HOUR,
        },
    )
    .await?;
    if !issued {
        return Err(too_many(&email));
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
    Ok(json!({
        "success": true,
        "message": format!("a verification code was sent to {email}: verify it with auth/verify-otp"),
        "email": email,
        "expires_in": OTP_LIFETIME,
    }))
}

pub(super) async fn verify_code(
    state: &AppState,
    app_id: &str,
    body: &Bytes,
) -> Result<Value, ApiError> {
    check_app(state, app_id)?;
    users_ready(state)?;
    let body = read_body(body)?;
    let email = text(&body, "email").trim().to_owned();
    // A code typed as a number is the same code.
    let code = match body.get("otp_code") {
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::String(text)) => text.trim().to_owned(),
        _ => String::new(),
    };
    if email.is_empty() || code.is_empty() {
        return Err(ApiError::bad_request(
            "verifying takes `{\"email\": ..., \"otp_code\": ...}`",
        ));
    }
    let refused = || {
        ApiError::bad_request(format!(
            "the code is wrong or has expired (a code allows {OTP_TRIES} tries and lasts {} \
             minutes): ask for a new one with auth/resend-otp",
            OTP_LIFETIME / 60
        ))
    };
    let mut connection = connection(state).await?;
    let mut transaction = begin(&mut connection).await?;
    let Some(account) = single(accounts_by_email(state, &mut transaction, &email).await?) else {
        return Err(refused());
    };
    if account.disabled {
        return Err(disabled());
    }
    let Some((expected, pending)) = offbase_pg::serve::try_code(
        &mut transaction,
        &state.pg_schema,
        &account.id,
        VERIFY,
        OTP_TRIES,
    )
    .await
    .map_err(caller::database)?
    else {
        return Err(refused());
    };
    if !same_bytes(token_digest(&code).as_bytes(), expected.as_bytes()) {
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
    let body = read_body(body)?;
    let email = address(&body, "email", "resending a code takes `{\"email\": ...}`")?;
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
                lifetime_seconds: OTP_LIFETIME,
                max_per_hour: CODES_PER_HOUR,
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
    Ok(json!({
        "success": true,
        "message": "if this email has an account waiting for a code, a new code was sent to it",
        "expires_in": OTP_LIFETIME,
    }))
}
