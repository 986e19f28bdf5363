//! TokenReview (upstream `pkg/registry/authentication/tokenreview`): who does a bearer token
//! authenticate as, for the audiences the caller names (the API audiences when none).

use crate::authn::{Authenticator, UserInfo};
use crate::authn_sa::{ServiceAccountTokens, now};

/// The user a token authenticates as and the audiences it is valid for, or why it does not.
pub(crate) fn review_token(
    authenticator: &Authenticator,
    sa_tokens: Option<&ServiceAccountTokens>,
    token: &str,
    audiences: &[String],
) -> Result<(UserInfo, Vec<String>), String> {
    if let Some(sa) = sa_tokens {
        match sa.verify(token, now(), audiences) {
            Ok(Some(claims)) => {
                let user = sa.user(&claims).map_err(|e| e.to_string())?;
                let wanted = if audiences.is_empty() {
                    sa.api_audiences()
                } else {
                    audiences
                };
                let valid: Vec<String> = claims
                    .audiences()
                    .into_iter()
                    .filter(|a| wanted.contains(a))
                    .collect();
                return Ok((authenticator.add_authenticated_group(user), valid));
            }
            Ok(None) => {}
            Err(error) => return Err(error.to_string()),
        }
    }
    // Other token authenticators (the token file) are not audience-aware: like upstream, they
    // answer only for the API audiences.
    if let Some(sa) = sa_tokens
        && !audiences.is_empty()
        && !audiences.iter().any(|a| sa.api_audiences().contains(a))
    {
        return Err("token audiences are not valid for this server".into());
    }
    match authenticator.authenticate_bearer(token) {
        Ok(Some(user)) => Ok((user, audiences.to_vec())),
        Ok(None) => Err("invalid bearer token".into()),
        Err(error) => Err(error.to_string()),
    }
}
