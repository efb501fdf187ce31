//! The pipeline every provider request goes through, in this order:
//!
//! 1. **attribute** it to an account (see [`super::shared`]); a request nobody can be charged
//!    with is answered at once with the provider's "who are you" answer;
//! 2. **record** its arrival and decide its quota: in a forced 429 window → 429 with
//!    `Retry-After`; over quota → the provider's 429; else it takes a slot of the window
//!    (every request counts: leaves and lookups alike, whatever its credential);
//! 3. **delay** it by the injected latency, then apply a server-error or timeout fault;
//! 4. **answer** it: the dialect's 401 for a wrong credential, the endpoint's "not found" for an
//!    instance or session the credential's account lacks, else the provider's handler acting
//!    on memberships;
//! 5. **render** the answer: the provider's headers (RyzeAPI's `X-RateLimit-*` on every
//!    answer), and a malformed or slow body if that fault was drawn.
//!
//! Providers differ only in the pieces a [`Dialect`] names and in their handlers.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::Value;

use super::config::SimAccount;
use super::faults::{Fault, whole_secs_up};
use super::quota::Admission;
use super::report::{Arrival, EndpointKind, Stats, Verdict};
use super::shared::{Auth, Shared, lock};
use super::state::{Leave, Membership, OwnerRule, View};
use crate::job::GroupRef;
use crate::providers::Provider;

/// Pieces of a slow body.
const SLOW_BODY_PIECES: u32 = 8;

/// What makes a provider's answers its own, beyond its handlers.
#[derive(Debug)]
pub(crate) struct Dialect {
    /// The provider.
    pub provider: Provider,
    /// Its 429 answer (a forced window adds `Retry-After`).
    pub too_many: fn() -> Reply,
    /// Its 500 answer.
    pub server_error: fn() -> Reply,
    /// Its answer to a wrong or missing credential.
    pub unauthorized: fn() -> Reply,
    /// Whether every answer carries `X-RateLimit-Limit/Remaining/Reset` (RyzeAPI).
    pub rate_limit_headers: bool,
}

/// An answer before rendering: status, JSON body, extra headers.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    status: StatusCode,
    body: Vec<u8>,
    headers: HeaderMap,
}

impl Reply {
    /// `status` with a JSON `body`.
    pub fn json(status: StatusCode, body: &Value) -> Self {
        Reply {
            status,
            body: body.to_string().into_bytes(),
            headers: HeaderMap::new(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: HeaderName, value: u64) -> Self {
        self.headers.insert(name, HeaderValue::from(value));
        self
    }
}

/// One request as a handler hands it to the pipeline.
#[derive(Debug)]
pub(crate) struct Call {
    /// The account charged, and how the credential relates to it ([`Shared::resolve`]).
    pub who: Option<(usize, Auth)>,
    /// The endpoint.
    pub kind: EndpointKind,
    /// The answer when nobody can be charged with the request.
    pub nobody: fn() -> Reply,
    /// The answer when the credential's account lacks the instance or session the path names.
    pub missing: fn() -> Reply,
}

/// What a handler works with once the request is admitted and authenticated.
pub(crate) struct Ctx<'a> {
    /// The account's configuration.
    pub account: &'a SimAccount,
    membership: &'a mut Membership,
    stats: &'a mut Stats,
}

impl Ctx<'_> {
    /// The account leaves `group` (if it can), counted.
    pub fn leave(&mut self, group: &GroupRef, rule: OwnerRule) -> Leave {
        let leave = self.membership.leave(group, rule);
        self.stats.leave(leave);
        leave
    }

    /// What the account sees of `group`.
    pub fn view(&self, group: &GroupRef) -> View {
        self.membership.view(group)
    }

    /// Counts an invalid request; returns `reply`.
    pub fn invalid(&mut self, reply: Reply) -> Reply {
        self.stats.answers.invalid += 1;
        reply
    }
}

impl Shared {
    /// Runs the pipeline for `call`; `action` answers once the request is admitted and its
    /// credential is the account's own.
    pub async fn serve(
        &self,
        dialect: &Dialect,
        call: Call,
        action: impl FnOnce(&mut Ctx<'_>) -> Reply,
    ) -> Response {
        let Call {
            who,
            kind,
            nobody,
            missing,
        } = call;
        let Some((idx, auth)) = who else {
            self.unattributed.fetch_add(1, Ordering::Relaxed);
            let latency = self.global_faults().latency(&mut lock(&self.rng));
            self.pause(latency).await;
            return self.render(dialect, nobody(), None, None);
        };
        let account = &self.accounts[idx];
        let global = self.global_faults();
        let (verdict, admission, retry_after, latency, fault) = {
            let mut state = lock(&account.state);
            let now = Instant::now();
            let (verdict, admission, retry_after) = match state.forced {
                Some(forced) if forced.covers(now) => (
                    Verdict::Forced429,
                    state.window.peek(now),
                    Some(forced.retry_after_secs),
                ),
                _ => {
                    let a = state.window.admit(now);
                    let verdict = if a.accepted {
                        Verdict::Accepted
                    } else {
                        Verdict::RateLimited
                    };
                    (verdict, a, None)
                }
            };
            state.stats.arrive(Arrival {
                at: now,
                kind,
                verdict,
            });
            let faults = state.faults.unwrap_or(global);
            let mut rng = lock(&self.rng);
            let latency = faults.latency(&mut rng);
            let fault = match verdict {
                Verdict::Accepted => faults.draw(&mut rng),
                Verdict::RateLimited | Verdict::Forced429 => None,
            };
            if let Some(fault) = fault {
                state.stats.fault(fault);
            }
            (verdict, admission, retry_after, latency, fault)
        };
        self.pause(latency).await;
        if verdict != Verdict::Accepted {
            let mut reply = (dialect.too_many)();
            if let Some(secs) = retry_after {
                reply = reply.header(RETRY_AFTER, secs);
            }
            return self.render(dialect, reply, Some(admission), None);
        }
        match fault {
            Some(Fault::ServerError) => {
                return self.render(dialect, (dialect.server_error)(), Some(admission), None);
            }
            Some(Fault::Timeout(hold)) => {
                self.pause(hold).await;
                return StatusCode::GATEWAY_TIMEOUT.into_response();
            }
            Some(Fault::Malformed | Fault::SlowBody(_)) | None => {}
        }
        let reply = {
            let mut guard = lock(&account.state);
            let state = &mut *guard;
            match auth {
                Auth::BadCredential => {
                    state.stats.answers.unauthorized += 1;
                    (dialect.unauthorized)()
                }
                Auth::UnknownTarget => {
                    state.stats.answers.account_missing += 1;
                    missing()
                }
                Auth::Ok => action(&mut Ctx {
                    account: &account.config,
                    membership: &mut state.membership,
                    stats: &mut state.stats,
                }),
            }
        };
        self.render(dialect, reply, Some(admission), fault)
    }

    /// Sleeps `d`, or less if the simulator shuts down.
    async fn pause(&self, d: Duration) {
        if d.is_zero() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(d) => {}
            () = self.shutdown.cancelled() => {}
        }
    }

    /// The HTTP response for `reply`, with the dialect's headers and the body fault, if any.
    fn render(
        &self,
        dialect: &Dialect,
        reply: Reply,
        admission: Option<Admission>,
        fault: Option<Fault>,
    ) -> Response {
        let Reply {
            status,
            body,
            mut headers,
        } = reply;
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if dialect.rate_limit_headers {
            self.rate_limit_headers(dialect.provider, admission, &mut headers);
        }
        let body = match fault {
            Some(Fault::Malformed) => Body::from(body[..body.len() / 2].to_vec()),
            Some(Fault::SlowBody(over)) => self.slow_body(body, over),
            _ => Body::from(body),
        };
        (status, headers, body).into_response()
    }

    /// `X-RateLimit-*` from the window's state (reset in whole Unix seconds, rounded up), or
    /// an untouched quota's for an unattributed request.
    fn rate_limit_headers(
        &self,
        provider: Provider,
        admission: Option<Admission>,
        headers: &mut HeaderMap,
    ) {
        let now = Instant::now();
        let (limit, remaining, reset_at) = match admission {
            Some(a) => (a.limit, a.remaining, a.reset_at),
            None => {
                let count = provider.default_quota().count.get();
                (count, count, now)
            }
        };
        let reset = self
            .wall(reset_at)
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let reset_secs = whole_secs_up(reset);
        for (name, value) in [
            ("x-ratelimit-limit", u64::from(limit)),
            ("x-ratelimit-remaining", u64::from(remaining)),
            ("x-ratelimit-reset", reset_secs),
        ] {
            headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
        }
    }

    /// `body` trickled out in pieces over `over` (cut short at shutdown).
    fn slow_body(&self, body: Vec<u8>, over: Duration) -> Body {
        let size = body.len().div_ceil(SLOW_BODY_PIECES as usize).max(1);
        let pieces: Vec<Bytes> = body.chunks(size).map(Bytes::copy_from_slice).collect();
        let step = over / SLOW_BODY_PIECES;
        let stream = futures_util::stream::iter(pieces)
            .then(move |piece| async move {
                tokio::time::sleep(step).await;
                Ok::<_, Infallible>(piece)
            })
            .take_until(self.shutdown.clone().cancelled_owned());
        Body::from_stream(stream)
    }
}

/// The token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}
