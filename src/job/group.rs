//! Group references: what a job says to leave, typed and validated per provider.
//!
//! | form | example | accepted by |
//! |---|---|---|
//! | WhatsApp group JID, current | `120363406289005073@g.us` | Green API, Wasend, RyzeAPI |
//! | WhatsApp group JID, legacy | `11001234567-1587570015@g.us` | Green API, Wasend, RyzeAPI |
//! | invite code or link | `https://chat.whatsapp.com/AbCd…` | RyzeAPI only |
//! | numeric group id | `6228482` | Kirimin only |
//!
//! Parsing normalises (surrounding white space, the case of `@g.us`, invite links to their code,
//! leading zeros of numeric ids), so that equivalent references display, compare and hash alike.

use std::fmt;

use crate::providers::Provider;

/// A validated, normalised reference to one group at one provider.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GroupRef {
    /// A WhatsApp group JID (`…@g.us`), current or legacy form.
    Jid(String),
    /// A WhatsApp invite code (from a `chat.whatsapp.com` link or given bare).
    Invite(String),
    /// A Kirimin numeric group id, without leading zeros.
    Numeric(String),
}

/// Why a group reference was rejected: the offending value and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {provider} group reference: {rule}")]
pub struct GroupRefError {
    /// The provider the reference was checked for.
    pub provider: Provider,
    /// The input, shortened for display.
    pub value: String,
    /// The rule that was broken, in words.
    pub rule: String,
}

const JID_RULE: &str = "expected a WhatsApp group JID: 15-20 digits, or the legacy \
                        6-16 digits '-' 9-11 digits, followed by @g.us";
const INVITE_RULE: &str = "expected an invite code of 20-24 letters and digits, or a link \
                           https://chat.whatsapp.com/<code>";
const NUMERIC_RULE: &str = "expected a numeric Kirimin group id (1-20 digits, e.g. 6228482)";

impl GroupRef {
    /// Parses `input` as a group reference for `provider`, normalising it.
    pub fn parse(provider: Provider, input: &str) -> Result<Self, GroupRefError> {
        let s = input.trim();
        let fail = |rule: String| GroupRefError {
            provider,
            value: super::excerpt(input),
            rule,
        };
        match provider {
            Provider::GreenApi | Provider::Wasend => {
                if looks_like_invite(s) {
                    return Err(fail(format!(
                        "invite codes and links are accepted only by ryzeapi; {JID_RULE}"
                    )));
                }
                parse_jid(s).map(GroupRef::Jid).map_err(fail)
            }
            Provider::RyzeApi => {
                if s.contains('@') {
                    parse_jid(s).map(GroupRef::Jid).map_err(fail)
                } else {
                    parse_invite(s).map(GroupRef::Invite).map_err(fail)
                }
            }
            Provider::Kirimin => parse_numeric(s).map(GroupRef::Numeric).map_err(fail),
        }
    }

    /// The normalised text of the reference, as sent to the provider.
    pub fn as_str(&self) -> &str {
        match self {
            GroupRef::Jid(s) | GroupRef::Invite(s) | GroupRef::Numeric(s) => s,
        }
    }

    /// A short name of the reference's form (`jid`, `invite`, `numeric`).
    pub const fn kind(&self) -> &'static str {
        match self {
            GroupRef::Jid(_) => "jid",
            GroupRef::Invite(_) => "invite",
            GroupRef::Numeric(_) => "numeric",
        }
    }
}

impl fmt::Display for GroupRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn all_digits(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

fn parse_jid(s: &str) -> Result<String, String> {
    let Some((user, server)) = s.rsplit_once('@') else {
        if all_digits(s, 15, 20) {
            return Err(format!("the @g.us suffix is missing; {JID_RULE}"));
        }
        return Err(JID_RULE.to_owned());
    };
    let server = server.to_ascii_lowercase();
    if server != "g.us" {
        let what = match server.as_str() {
            "c.us" | "s.whatsapp.net" => "a contact (person), not a group",
            "lid" => "a linked-device id, not a group",
            "newsletter" => "a channel (newsletter), not a group",
            "broadcast" => "a broadcast list or status, not a group",
            _ => "not a group JID",
        };
        return Err(format!("@{server} is {what}; {JID_RULE}"));
    }
    let valid = match user.split_once('-') {
        None => all_digits(user, 15, 20),
        Some((creator, created)) => all_digits(creator, 6, 16) && all_digits(created, 9, 11),
    };
    if valid {
        Ok(format!("{user}@g.us"))
    } else {
        Err(JID_RULE.to_owned())
    }
}

fn looks_like_invite(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    lower.contains("chat.whatsapp.com") || (!s.contains('@') && is_invite_code(s))
}

fn is_invite_code(s: &str) -> bool {
    (20..=24).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn parse_invite(s: &str) -> Result<String, String> {
    let lower = s.to_ascii_lowercase();
    let rest = ["https://", "http://"]
        .iter()
        .find(|scheme| lower.starts_with(*scheme))
        .map(|scheme| &s[scheme.len()..]);
    let code = match rest {
        None if is_invite_code(s) => s,
        None if all_digits(s, 6, 20) => {
            return Err(format!(
                "this looks like a group JID without its @g.us suffix; {INVITE_RULE}"
            ));
        }
        None => return Err(INVITE_RULE.to_owned()),
        Some(rest) => {
            const HOST: &str = "chat.whatsapp.com/";
            if !rest.to_ascii_lowercase().starts_with(HOST) {
                return Err(format!(
                    "only chat.whatsapp.com links are accepted; {INVITE_RULE}"
                ));
            }
            let path = &rest[HOST.len()..];
            let path = path.strip_prefix("invite/").unwrap_or(path);
            let end = path.find(['/', '?', '#']).unwrap_or(path.len());
            &path[..end]
        }
    };
    if is_invite_code(code) {
        Ok(code.to_owned())
    } else {
        Err(INVITE_RULE.to_owned())
    }
}

fn parse_numeric(s: &str) -> Result<String, String> {
    if s.contains('@') {
        return Err(format!(
            "Kirimin is not WhatsApp, JIDs do not apply; {NUMERIC_RULE}"
        ));
    }
    if !all_digits(s, 1, 20) {
        return Err(NUMERIC_RULE.to_owned());
    }
    let trimmed = s.trim_start_matches('0');
    if trimmed.is_empty() {
        return Err(format!("0 is not a group id; {NUMERIC_RULE}"));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(p: Provider, s: &str) -> GroupRef {
        GroupRef::parse(p, s).unwrap_or_else(|e| panic!("{s:?} for {p}: {e}"))
    }

    fn rule(p: Provider, s: &str) -> String {
        GroupRef::parse(p, s).unwrap_err().rule
    }

    #[test]
    fn accepts_current_and_legacy_jids_for_whatsapp_gateways() {
        for p in [Provider::GreenApi, Provider::Wasend, Provider::RyzeApi] {
            assert_eq!(
                ok(p, "120363406289005073@g.us"),
                GroupRef::Jid("120363406289005073@g.us".into())
            );
            assert_eq!(
                ok(p, " 11001234567-1587570015@G.US\n"),
                GroupRef::Jid("11001234567-1587570015@g.us".into())
            );
        }
    }

    #[test]
    fn jid_length_bounds_are_exact() {
        let p = Provider::GreenApi;
        assert!(GroupRef::parse(p, &format!("{}@g.us", "1".repeat(14))).is_err());
        ok(p, &format!("{}@g.us", "1".repeat(15)));
        ok(p, &format!("{}@g.us", "1".repeat(20)));
        assert!(GroupRef::parse(p, &format!("{}@g.us", "1".repeat(21))).is_err());
        assert!(GroupRef::parse(p, "12345-123456789@g.us").is_err());
        ok(p, "123456-123456789@g.us");
        ok(p, "1234567890123456-12345678901@g.us");
        assert!(GroupRef::parse(p, "1234567890123456-123456789012@g.us").is_err());
        assert!(GroupRef::parse(p, "123456-12345678@g.us").is_err());
    }

    #[test]
    fn rejects_other_jid_servers_naming_what_they_are() {
        let p = Provider::Wasend;
        assert!(rule(p, "79001234567@c.us").contains("a contact"));
        assert!(rule(p, "79001234567@s.whatsapp.net").contains("a contact"));
        assert!(rule(p, "1234567890@lid").contains("linked-device"));
        assert!(rule(p, "120363000000000000@newsletter").contains("channel"));
        assert!(rule(p, "status@broadcast").contains("broadcast"));
        assert!(rule(p, "120363406289005073").contains("@g.us suffix is missing"));
    }

    #[test]
    fn invites_only_for_ryzeapi() {
        let code = "AbCdEfGhIjKlMnOpQrSt12";
        let r = Provider::RyzeApi;
        assert_eq!(ok(r, code), GroupRef::Invite(code.into()));
        for link in [
            format!("https://chat.whatsapp.com/{code}"),
            format!("http://chat.whatsapp.com/invite/{code}"),
            format!("HTTPS://Chat.WhatsApp.com/{code}?utm=x"),
            format!("https://chat.whatsapp.com/{code}/#frag"),
        ] {
            assert_eq!(ok(r, &link), GroupRef::Invite(code.into()), "{link}");
        }
        for p in [Provider::GreenApi, Provider::Wasend] {
            assert!(rule(p, code).contains("only by ryzeapi"));
            assert!(
                rule(p, &format!("https://chat.whatsapp.com/{code}")).contains("only by ryzeapi")
            );
        }
        assert!(
            rule(r, "https://evil.example/AbCdEfGhIjKlMnOpQrSt12")
                .contains("only chat.whatsapp.com")
        );
        assert!(rule(r, "https://chat.whatsapp.com/short").contains("20-24"));
        assert!(rule(r, "120363406289005073").contains("without its @g.us"));
    }

    #[test]
    fn kirimin_takes_numeric_ids_only() {
        let k = Provider::Kirimin;
        assert_eq!(ok(k, "6228482"), GroupRef::Numeric("6228482".into()));
        assert_eq!(ok(k, "006228482"), GroupRef::Numeric("6228482".into()));
        assert!(rule(k, "120363406289005073@g.us").contains("not WhatsApp"));
        assert!(rule(k, "62-28").contains("numeric"));
        assert!(rule(k, "000").contains("0 is not a group id"));
        assert!(rule(k, "").contains("numeric"));
    }

    #[test]
    fn error_names_the_value_and_the_provider() {
        let err = GroupRef::parse(Provider::GreenApi, "nope").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("\"nope\""), "{text}");
        assert!(text.contains("green_api"), "{text}");
    }
}
