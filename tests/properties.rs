//! Property tests: parsers never panic and round-trip, equivalent group references share one
//! idempotency key, and no classifier turns a failure status into a success.

#![allow(clippy::unwrap_used)]

use bulkleave::job::{AccountName, GroupRef, IdempotencyKey, LeaveJob, LeaveRequest, TraceContext};
use bulkleave::providers::answer::HttpAnswer;
use bulkleave::providers::outcome::LeftDetail;
use bulkleave::providers::{Outcome, Provider, green_api, kirimin, ryzeapi, wasend};
use bulkleave::quota::Quota;
use proptest::prelude::*;
use reqwest::header::HeaderMap;

fn provider() -> impl Strategy<Value = Provider> {
    prop::sample::select(Provider::ALL.to_vec())
}

fn current_jid() -> impl Strategy<Value = String> {
    "[0-9]{15,20}".prop_map(|u| format!("{u}@g.us"))
}

fn legacy_jid() -> impl Strategy<Value = String> {
    ("[0-9]{6,16}", "[0-9]{9,11}").prop_map(|(a, b)| format!("{a}-{b}@g.us"))
}

fn invite_code() -> impl Strategy<Value = String> {
    "[A-Za-z0-9]{20,24}"
}

/// A valid reference for its provider, in normalised form.
fn valid_ref() -> impl Strategy<Value = (Provider, String)> {
    prop_oneof![
        (
            prop::sample::select(vec![
                Provider::GreenApi,
                Provider::Wasend,
                Provider::RyzeApi
            ]),
            prop_oneof![current_jid(), legacy_jid()]
        ),
        invite_code().prop_map(|c| (Provider::RyzeApi, c)),
        "[1-9][0-9]{0,19}".prop_map(|n| (Provider::Kirimin, n)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn group_parsing_never_panics(p in provider(), s in any::<String>()) {
        let _ = GroupRef::parse(p, &s);
    }

    #[test]
    fn group_parsing_never_panics_on_near_misses(p in provider(), s in "[0-9a-zA-Z@.:/_?#-]{0,60}") {
        let _ = GroupRef::parse(p, &s);
    }

    #[test]
    fn valid_references_round_trip((p, s) in valid_ref()) {
        let parsed = GroupRef::parse(p, &s).unwrap();
        prop_assert_eq!(parsed.as_str(), s.as_str());
        prop_assert_eq!(GroupRef::parse(p, &parsed.to_string()).unwrap(), parsed);
    }

    #[test]
    fn equivalent_references_share_the_idempotency_key(
        jid in prop_oneof![current_jid(), legacy_jid()],
        code in invite_code(),
        n in "[1-9][0-9]{0,10}",
        zeros in "0{0,5}",
        pad_l in "[ \t]{0,3}",
        pad_r in "[ \t\n]{0,3}",
        suffix in "(/|\\?utm=x|#frag|)",
        account in "[a-z][a-z0-9_]{0,20}",
    ) {
        let account: AccountName = account.parse().unwrap();
        let key = |p: Provider, s: &str| {
            let g = GroupRef::parse(p, s).unwrap();
            IdempotencyKey::derive(p, &account, &g)
        };
        for p in [Provider::GreenApi, Provider::Wasend, Provider::RyzeApi] {
            let upper = jid.replace("@g.us", "@G.US");
            prop_assert_eq!(key(p, &jid), key(p, &format!("{pad_l}{upper}{pad_r}")));
        }
        let r = Provider::RyzeApi;
        prop_assert_eq!(key(r, &code), key(r, &format!("https://chat.whatsapp.com/{code}{suffix}")));
        prop_assert_eq!(key(r, &code), key(r, &format!("{pad_l}http://chat.whatsapp.com/invite/{code}{pad_r}")));
        let k = Provider::Kirimin;
        prop_assert_eq!(key(k, &n), key(k, &format!("{pad_l}{zeros}{n}{pad_r}")));
    }

    #[test]
    fn different_groups_have_different_keys((p, a) in valid_ref(), (_, b) in valid_ref()) {
        let account: AccountName = "acme".parse().unwrap();
        if let (Ok(ga), Ok(gb)) = (GroupRef::parse(p, &a), GroupRef::parse(p, &b)) {
            prop_assert_eq!(ga == gb, IdempotencyKey::derive(p, &account, &ga) == IdempotencyKey::derive(p, &account, &gb));
        }
    }

    #[test]
    fn jobs_round_trip_through_json((p, g) in valid_ref(), account in "[a-z][a-z0-9_]{0,30}", campaign in "[A-Za-z0-9._:-]{1,64}") {
        let req = LeaveRequest::parse(p.as_str(), &account, &g).unwrap();
        let job = LeaveJob::new(req).with_campaign(campaign.parse().unwrap());
        let json = serde_json::to_string(&job).unwrap();
        prop_assert_eq!(serde_json::from_str::<LeaveJob>(&json).unwrap(), job);
    }

    #[test]
    fn job_decoding_never_panics(s in any::<String>()) {
        let _ = serde_json::from_str::<LeaveJob>(&s);
    }

    #[test]
    fn quota_and_trace_parsing_never_panic(s in any::<String>()) {
        let _ = s.parse::<Quota>();
        let _ = TraceContext::new(&s, Some(&s));
    }

    #[test]
    fn quotas_round_trip(n in 1u32..100_000, secs in 1u64..86_400) {
        let q: Quota = format!("{n}/{secs}s").parse().unwrap();
        prop_assert_eq!(q.to_string().parse::<Quota>().unwrap(), q);
    }

    #[test]
    fn no_classifier_calls_a_failure_status_a_success(status in prop::sample::select(vec![401u16, 402, 405, 408, 409, 418, 422, 429, 466, 499, 500, 501, 502, 503, 504, 599]), body in prop::collection::vec(any::<u8>(), 0..300)) {
        for outcome in classify_all(status, &body) {
            prop_assert!(!outcome.is_success(), "HTTP {status} classified as {outcome}");
        }
    }

    #[test]
    fn success_shaped_bodies_on_failure_statuses_are_never_successes(status in prop::sample::select(vec![301u16, 302, 401, 403, 429, 466, 500, 502, 503])) {
        for body in [
            r#"{"leaveGroup":true}"#,
            r#"{"removeAdmin":true}"#,
            r#"{"success":true,"message":"Successfully left the group"}"#,
            r#"{"ok":true,"code":200,"msg":"OK"}"#,
        ] {
            for outcome in classify_all(status, body.as_bytes()) {
                prop_assert!(!outcome.is_success(), "HTTP {status} {body} classified as {outcome}");
            }
        }
    }

    #[test]
    fn classifiers_never_panic(status in 100u16..600, body in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = classify_all(status, &body);
    }

    #[test]
    fn json_bodies_without_the_success_word_are_never_left(status in 200u16..300, key in "[a-z]{1,12}", flag in any::<bool>()) {
        prop_assume!(!["leavegroup", "removeadmin", "success", "ok"].contains(&key.as_str()));
        let body = format!("{{\"{key}\":{flag}}}");
        for outcome in classify_all(status, body.as_bytes()) {
            prop_assert!(!outcome.is_success(), "{body} classified as {outcome}");
        }
    }
}

fn classify_all(status: u16, body: &[u8]) -> Vec<Outcome> {
    let answer = HttpAnswer::new(status, HeaderMap::new(), body.to_vec());
    let account = kirimin::AccountConfig {
        user_id: Some("1".into()),
        owner_policy: kirimin::OwnerPolicy::Refuse,
        owner_check_path: kirimin::DEFAULT_OWNER_CHECK_PATH.into(),
        owner_pointer: kirimin::DEFAULT_OWNER_POINTER.into(),
    };
    let mut all = vec![
        green_api::classify(&answer, green_api::LeaveGroupFalse::Unconfirmed),
        green_api::classify(&answer, green_api::LeaveGroupFalse::AlreadyLeft),
        ryzeapi::classify(&answer, &GroupRef::Jid("120363406289005073@g.us".into())),
        ryzeapi::classify(&answer, &GroupRef::Invite("AbCdEfGhIjKlMnOpQrSt12".into())),
        kirimin::classify(&answer, LeftDetail::Member),
        wasend::resolve_403(&answer),
        wasend::resolve_404(&answer),
    ];
    all.extend(wasend::classify_leave(&answer));
    if let Err(outcome) = kirimin::classify_owner_check(&answer, &account) {
        all.push(outcome);
    }
    all
}
