//! The links the account mails carry, and where a sign-in may send the browser back to.
//!
//! `from_url` is a path on this site (`/page`), or an absolute `http`/`https` URL of this
//! origin (the request's `Host`, or a configured public URL's); anything else is refused before
//! any page, redirect or spent token, so neither server is an open redirect.

use super::Refusal;

/// Where the browser goes when no `from_url` is given.
pub const DEFAULT_RETURN: &str = "/";

/// The longest `from_url` taken.
const MAX_RETURN_BYTES: usize = 2048;

/// The last value of query parameter `name` (as the reads take a repeated parameter).
pub fn parameter<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// `scheme://authority` of an absolute `http`/`https` URL, lowercased; `None` for anything
/// else (another scheme, user information, no host).
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some(format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

/// Where a sign-in may send the browser back to: `from_url` when it is a path of this site or
/// a URL of this origin (`host`: the request's `Host`; `public_origin`: the configured public
/// URL's, as [`origin_of`] gives it), [`DEFAULT_RETURN`] when none is given; 400 otherwise.
pub fn return_to(
    from_url: Option<&str>,
    host: Option<&str>,
    public_origin: Option<&str>,
) -> Result<String, Refusal> {
    let Some(from_url) = from_url.map(str::trim).filter(|url| !url.is_empty()) else {
        return Ok(DEFAULT_RETURN.to_owned());
    };
    let refused = || {
        Refusal::bad_request(
            "`from_url` must be a path on this site (`/page`) or a URL of this site's own \
             origin: sign-in never sends a browser elsewhere",
        )
    };
    if from_url.len() > MAX_RETURN_BYTES
        || from_url
            .chars()
            .any(|character| character.is_control() || character == '\\' || character == ' ')
    {
        return Err(refused());
    }
    if from_url.starts_with('/') {
        // `//host` is another origin to a browser.
        return if from_url.starts_with("//") {
            Err(refused())
        } else {
            Ok(from_url.to_owned())
        };
    }
    let origin = origin_of(from_url).ok_or_else(refused)?;
    let authority = origin.split_once("://").map(|(_, authority)| authority);
    let same_host = host
        .map(|host| host.trim().to_ascii_lowercase())
        .is_some_and(|host| Some(host.as_str()) == authority);
    let same_public = public_origin.is_some_and(|public| public == origin);
    if same_host || same_public {
        Ok(from_url.to_owned())
    } else {
        Err(refused())
    }
}

/// `url` with `access_token=token` added to its query (before any fragment).
pub fn with_token(url: &str, token: &str) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (url, None),
    };
    let separator = if base.contains('?') { '&' } else { '?' };
    let mut target = format!("{base}{separator}access_token={token}");
    if let Some(fragment) = fragment {
        target.push('#');
        target.push_str(fragment);
    }
    target
}

/// A reset mail's link under `link_base` (the server's public URL): the sign-in page reads the
/// token from the fragment, which a browser never sends to a server.
pub fn reset_link(link_base: &str, token: &str) -> String {
    format!("{link_base}/login#reset_token={token}")
}

/// An invitation's link under `link_base`: `auth/login-token`, which signs in once and sends
/// the browser to the app's home.
pub fn invite_link(link_base: &str, app_id: &str, token: &str) -> String {
    format!("{link_base}/api/apps/{app_id}/auth/login-token?token={token}&from_url=/")
}
