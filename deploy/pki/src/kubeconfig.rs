//! kubeconfig files with embedded credentials, in the shape kubeadm writes them: one cluster,
//! one user (named after the certificate's CN), one context `<user>@<cluster>`.
//!
//! `renew` only swaps the two credential lines, leaving the rest of the file as it was, so the
//! reader here looks only for `client-certificate-data:` and `client-key-data:`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const CERT_KEY: &str = "client-certificate-data:";
const KEY_KEY: &str = "client-key-data:";

/// Reading a kubeconfig's credentials failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KubeconfigError {
    #[error("no {0} line")]
    Missing(&'static str),
    #[error("{0} is not base64 of UTF-8 PEM")]
    Encoding(&'static str),
}

/// A kubeconfig text.
pub fn render(
    cluster: &str,
    server: &str,
    ca_pem: &str,
    user: &str,
    cert_pem: &str,
    key_pem: &str,
) -> String {
    let context = format!("{user}@{cluster}");
    format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - cluster:\n    certificate-authority-data: {ca}\n    server: {server}\n  name: {cluster}\n\
         contexts:\n\
         - context:\n    cluster: {cluster}\n    user: {user}\n  name: {context}\n\
         current-context: {context}\n\
         preferences: {{}}\n\
         users:\n\
         - name: {user}\n  user:\n    {CERT_KEY} {cert}\n    {KEY_KEY} {key}\n",
        ca = STANDARD.encode(ca_pem),
        cert = STANDARD.encode(cert_pem),
        key = STANDARD.encode(key_pem),
        cluster = quote(cluster),
        user = quote(user),
        context = quote(&context),
    )
}

/// The client certificate and key PEM embedded in a kubeconfig.
pub fn credentials(text: &str) -> Result<(String, String), KubeconfigError> {
    let cert = field(text, CERT_KEY)?;
    let key = field(text, KEY_KEY)?;
    Ok((cert, key))
}

/// The same kubeconfig with other credentials.
pub fn replace_credentials(text: &str, cert_pem: &str, key_pem: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let newline = if line.ends_with('\n') { "\n" } else { "" };
        if trimmed.starts_with(CERT_KEY) {
            out.push_str(&format!(
                "{indent}{CERT_KEY} {}{newline}",
                STANDARD.encode(cert_pem)
            ));
        } else if trimmed.starts_with(KEY_KEY) {
            out.push_str(&format!(
                "{indent}{KEY_KEY} {}{newline}",
                STANDARD.encode(key_pem)
            ));
        } else {
            out.push_str(line);
        }
    }
    out
}

fn field(text: &str, name: &'static str) -> Result<String, KubeconfigError> {
    let value = text
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(name))
        .ok_or(KubeconfigError::Missing(name))?;
    let value = value.trim().trim_matches('"');
    let bytes = STANDARD
        .decode(value)
        .map_err(|_| KubeconfigError::Encoding(name))?;
    String::from_utf8(bytes).map_err(|_| KubeconfigError::Encoding(name))
}

/// Names like `system:node:w1` contain ':' and must be quoted in YAML when followed by a space;
/// they are not, but quoting everything that is not plain alphanumeric keeps parsers happy.
fn quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_round_trip_and_replace() {
        let text = render(
            "kubernetes",
            "https://10.0.0.1:6443",
            "CA PEM",
            "system:node:w1",
            "CERT 1",
            "KEY 1",
        );
        assert!(text.contains("name: \"system:node:w1@kubernetes\""));
        assert!(text.contains("current-context: \"system:node:w1@kubernetes\""));
        assert!(text.contains("server: https://10.0.0.1:6443"));
        assert_eq!(
            credentials(&text),
            Ok(("CERT 1".to_string(), "KEY 1".to_string()))
        );
        let renewed = replace_credentials(&text, "CERT 2", "KEY 2");
        assert_eq!(
            credentials(&renewed),
            Ok(("CERT 2".to_string(), "KEY 2".to_string()))
        );
        let unchanged: Vec<&str> = text.lines().filter(|l| !l.contains("client-")).collect();
        let after: Vec<&str> = renewed.lines().filter(|l| !l.contains("client-")).collect();
        assert_eq!(unchanged, after, "only the credential lines change");
    }

    #[test]
    fn missing_or_bad_credentials() {
        assert_eq!(
            credentials("apiVersion: v1\n"),
            Err(KubeconfigError::Missing(CERT_KEY))
        );
        assert_eq!(
            credentials("client-certificate-data: !!!\nclient-key-data: eA==\n"),
            Err(KubeconfigError::Encoding(CERT_KEY))
        );
    }
}
