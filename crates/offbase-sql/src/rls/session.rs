//! Who a request runs as: the role and the session settings that put an app's caller (the
//! service role, a signed-in user, an anonymous visitor) in front of the policies, in each
//! dialect. `diff behaviour --as` and `offbase serve` both set them from here, so the server
//! answers as the checked comparison does. Pure: the caller applies them, with the statement
//! [`Session::set_config_sql`] writes.

use super::{
    RlsMode, SUPABASE_CLAIMS_SETTING, SUPABASE_LEGACY_CLAIMS_SETTING, USER_EMAIL_SETTING,
    USER_ID_SETTING, USER_ROLE_SETTING, string_literal,
};

/// Who a request is from, as the policies see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requester<'a> {
    /// Backend code (the platform's `asServiceRole`): past every policy.
    Service,
    /// A visitor who is not signed in.
    Anonymous,
    /// A signed-in user: the id the loaded User row holds, the email, the role (`None` when
    /// the User table has no role).
    User {
        id: &'a str,
        email: &'a str,
        role: Option<&'a str>,
    },
}

/// The role a request runs as and the settings (name, value; an empty value is unset) that
/// carry its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub role: &'static str,
    pub settings: Vec<(&'static str, String)>,
}

impl Session {
    /// One statement that applies the session: each setting, then the role when `with_role`
    /// (`set_config('role', ...)` is `SET ROLE`, membership checked alike), all local to the
    /// transaction when `local`, else to the session. The values are written as literals, so
    /// the statement can travel in one message with the transaction's `BEGIN` or with the
    /// statements it prepares: a request's set-up costs no round trip of its own.
    pub fn set_config_sql(&self, with_role: bool, local: bool) -> String {
        let local = if local { "true" } else { "false" };
        let role = with_role.then_some(("role", self.role));
        let calls: Vec<String> = self
            .settings
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .chain(role)
            .map(|(name, value)| {
                format!(
                    "set_config({}, {}, {local})",
                    string_literal(name),
                    string_literal(value)
                )
            })
            .collect();
        format!("SELECT {}", calls.join(", "))
    }

    /// What puts a connection whose session is `rest` (applied once, at the session level)
    /// in this session for one transaction: the settings whose values differ from `rest`'s,
    /// and the role when `with_role` and it differs; local to the transaction. `None` when
    /// nothing differs: the statement the request saves is a third of a short read's work.
    pub fn changes_from_sql(&self, rest: &Session, with_role: bool) -> Option<String> {
        let settings: Vec<(&'static str, String)> = self
            .settings
            .iter()
            .filter(|setting| !rest.settings.contains(setting))
            .cloned()
            .collect();
        let role_differs = with_role && self.role != rest.role;
        if settings.is_empty() && !role_differs {
            return None;
        }
        let changes = Session {
            role: self.role,
            settings,
        };
        let sql = changes.set_config_sql(role_differs, true);
        Some(sql)
    }
}

/// The session of `requester` in `rls`'s dialect: offbase's roles with the user in `app.*`
/// settings, or Supabase's with the claims its API puts in `request.jwt.claims` (`sub` the id
/// the User row holds, the role in `app_metadata`).
pub fn session(rls: RlsMode, requester: Requester<'_>) -> Session {
    let roles = rls.roles();
    let role = match requester {
        Requester::Service => roles.service,
        Requester::Anonymous => roles.anonymous,
        Requester::User { .. } => roles.signed_in,
    };
    let settings = match (rls, requester) {
        (RlsMode::Supabase, Requester::User { id, email, role }) => {
            let claims = serde_json::json!({
                "sub": id,
                "email": email,
                "role": roles.signed_in,
                "app_metadata": {"role": role, "base44": {"id": id}},
            });
            vec![
                (SUPABASE_LEGACY_CLAIMS_SETTING, String::new()),
                (SUPABASE_CLAIMS_SETTING, claims.to_string()),
            ]
        }
        (RlsMode::Supabase, Requester::Service | Requester::Anonymous) => vec![
            (SUPABASE_LEGACY_CLAIMS_SETTING, String::new()),
            (SUPABASE_CLAIMS_SETTING, String::new()),
        ],
        (RlsMode::On | RlsMode::Off, Requester::User { id, email, role }) => vec![
            (USER_ID_SETTING, id.to_owned()),
            (USER_EMAIL_SETTING, email.to_owned()),
            (USER_ROLE_SETTING, role.unwrap_or_default().to_owned()),
        ],
        (RlsMode::On | RlsMode::Off, Requester::Service | Requester::Anonymous) => vec![
            (USER_ID_SETTING, String::new()),
            (USER_EMAIL_SETTING, String::new()),
            (USER_ROLE_SETTING, String::new()),
        ],
    };
    Session { role, settings }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_requester_runs_as_its_role_with_its_user_or_none() {
        let user = Requester::User {
            id: "u1",
            email: "ann@example.com",
            role: Some("admin"),
        };
        let on = session(RlsMode::On, user);
        assert_eq!(on.role, "offbase_user");
        assert_eq!(
            on.settings,
            vec![
                ("app.user_id", "u1".to_owned()),
                ("app.user_email", "ann@example.com".to_owned()),
                ("app.user_role", "admin".to_owned()),
            ]
        );
        assert_eq!(
            session(RlsMode::On, Requester::Anonymous).role,
            "offbase_anon"
        );
        assert_eq!(
            session(RlsMode::On, Requester::Service).role,
            "offbase_service"
        );
        assert!(
            session(RlsMode::On, Requester::Anonymous)
                .settings
                .iter()
                .all(|(_, value)| value.is_empty())
        );
        let supabase = session(RlsMode::Supabase, user);
        assert_eq!(supabase.role, "authenticated");
        let claims: serde_json::Value =
            serde_json::from_str(&supabase.settings[1].1).unwrap_or_default();
        assert_eq!(claims["sub"], "u1");
        assert_eq!(claims["app_metadata"]["role"], "admin");
        assert_eq!(
            session(RlsMode::Supabase, Requester::Service).role,
            "service_role"
        );
    }

    #[test]
    fn the_session_is_one_statement_of_literals_quoted_whatever_the_user_sends() {
        let user = Requester::User {
            id: "u1",
            email: "o'brien\\@example.com",
            role: None,
        };
        assert_eq!(
            session(RlsMode::On, user).set_config_sql(true, true),
            "SELECT set_config('app.user_id', 'u1', true), \
             set_config('app.user_email', E'o\\'brien\\\\@example.com', true), \
             set_config('app.user_role', '', true), set_config('role', 'offbase_user', true)"
        );
        let rest = session(RlsMode::On, Requester::Service);
        assert_eq!(rest.changes_from_sql(&rest, true), None);
        assert_eq!(
            session(RlsMode::On, Requester::Anonymous).changes_from_sql(&rest, true),
            Some("SELECT set_config('role', 'offbase_anon', true)".to_owned())
        );
        assert_eq!(
            session(RlsMode::On, Requester::Anonymous).changes_from_sql(&rest, false),
            None
        );
        assert_eq!(
            session(RlsMode::On, user).changes_from_sql(&rest, false),
            Some(
                "SELECT set_config('app.user_id', 'u1', true), \
                 set_config('app.user_email', E'o\\'brien\\\\@example.com', true)"
                    .to_owned()
            )
        );
        assert_eq!(
            session(RlsMode::On, Requester::Service).set_config_sql(false, false),
            "SELECT set_config('app.user_id', '', false), \
             set_config('app.user_email', '', false), set_config('app.user_role', '', false)"
        );
    }
}
