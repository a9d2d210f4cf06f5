//! `application/x-www-form-urlencoded` request parameters, strictly: every parameter at
//! most once (RFC 6749 §3.2), bounded count and size.

use std::collections::HashMap;

use crate::error::OAuthError;

const MAX_PARAMETERS: usize = 32;

#[derive(Debug)]
pub struct Form(HashMap<String, String>);

impl Form {
    pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Self, OAuthError> {
        let media_type = content_type
            .and_then(|ct| ct.split(';').next())
            .map(|t| t.trim().to_ascii_lowercase());
        if media_type.as_deref() != Some("application/x-www-form-urlencoded") {
            return Err(OAuthError::invalid_request(
                "Content-Type must be application/x-www-form-urlencoded",
            ));
        }
        let pairs = decode_pairs(body).ok_or_else(|| {
            OAuthError::invalid_request("the form body is not valid urlencoded UTF-8")
        })?;
        if pairs.len() > MAX_PARAMETERS {
            return Err(OAuthError::invalid_request(format!(
                "too many parameters: at most {MAX_PARAMETERS}"
            )));
        }
        let mut map = HashMap::with_capacity(pairs.len());
        for (name, value) in pairs {
            if map.insert(name.clone(), value).is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {name} is repeated"
                )));
            }
        }
        Ok(Self(map))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("parameter {name} is required")))
    }
}

/// Strict `application/x-www-form-urlencoded` decoding: malformed escapes and invalid
/// UTF-8 are refused rather than replaced, so what is checked is what was sent.
fn decode_pairs(body: &[u8]) -> Option<Vec<(String, String)>> {
    body.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut parts = pair.splitn(2, |&b| b == b'=');
            let name = decode_component(parts.next().unwrap_or_default())?;
            let value = decode_component(parts.next().unwrap_or_default())?;
            Some((name, value))
        })
        .collect()
}

fn decode_component(raw: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let high = (*bytes.next()? as char).to_digit(16)?;
                let low = (*bytes.next()? as char).to_digit(16)?;
                out.push((high * 16 + low) as u8);
            }
            _ => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded; charset=utf-8");

    #[test]
    fn parses_and_refuses_repeats() {
        let f = Form::parse(FORM, b"grant_type=client_credentials&scope=a+b").unwrap();
        assert_eq!(f.get("scope"), Some("a b"));
        let err = Form::parse(FORM, b"scope=a&scope=b").unwrap_err();
        assert!(err.description.contains("scope is repeated"));
    }

    #[test]
    fn refuses_hostile_bodies() {
        assert!(Form::parse(Some("application/json"), b"{}").is_err());
        assert!(Form::parse(None, b"a=b").is_err());
        assert!(Form::parse(FORM, b"a=%FF%FE").is_err());
        assert!(Form::parse(FORM, b"a=%4").is_err());
        assert!(Form::parse(FORM, b"a=%zz").is_err());
        assert!(Form::parse(FORM, b"a=%+1").is_err());
        assert!(Form::parse(FORM, b"a=\xff").is_err());
        let f = Form::parse(FORM, b"a=%C3%A9%20x&b=&&c").unwrap();
        assert_eq!(f.get("a"), Some("\u{e9} x"));
        assert_eq!(f.get("b"), None);
        let many: String = (0..40).map(|i| format!("p{i}=x&")).collect();
        assert!(Form::parse(FORM, many.as_bytes()).is_err());
        assert!(Form::parse(FORM, b"").unwrap().get("x").is_none());
    }
}
