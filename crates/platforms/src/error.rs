//! What a platform call's failure is ([`PlatformError`]), and how a platform's own error words
//! are read and kept: OAuth 2.0 error names, token endpoints' error bodies, the platform's code
//! and message as sent.

use std::time::Duration;

use leadgen_domain::PlatformType;

use crate::reveal::RevealPurpose;

/// A platform call's failure, typed so callers can decide what to do. Its text is Chinese, with
/// the platform's own code and message kept as sent: it reaches merchants in sync records and
/// shop statuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlatformError {
    /// Over the platform's quota; retry after the stated time when given. `detail` is the
    /// platform's own code (+ `sub_code`) and message, verbatim ([`platform_text`]); for an
    /// HTTP 429 without a body the platform reads, its status line (`HTTP 429 Too Many
    /// Requests`).
    #[error("电商平台调用过于频繁{}", platform_said(detail))]
    Throttled {
        retry_after: Option<Duration>,
        detail: String,
    },
    /// The access token is expired or invalid: refresh once, else re-authorize. `detail` is the
    /// platform's own code (+ `sub_code`) and message, verbatim ([`platform_text`]).
    #[error("店铺授权已失效或过期{}", platform_said(detail))]
    SessionExpired { detail: String },
    /// The OAuth code or refresh token was refused: the merchant's grant is dead or was
    /// denied, and only authorizing again mends it. A refusal that blames our app or request
    /// (a wrong app secret) is [`PlatformError::InvalidRequest`] instead.
    #[error("电商平台拒绝授权：{0}")]
    AuthRefused(String),
    /// Bad signature, app key or parameters: our bug or bad credentials; never retried.
    #[error("电商平台拒绝请求：{0}")]
    InvalidRequest(String),
    /// The platform answered 5xx, timed out or said it is unavailable.
    #[error("电商平台暂不可用：{0}")]
    Unavailable(String),
    /// The platform answered 5xx and said, in `Retry-After`, how long it will be unavailable:
    /// [`PlatformError::Unavailable`] with that wait, which the retries honour like a stated ban
    /// (and give up on past their stated-wait budget, [`crate::resilience::RetryPolicy`]).
    /// Retried sooner, every try would fall inside the wait the server asked for. A variant of
    /// its own, not a field of `Unavailable`, so callers matching `Unavailable(detail)` keep
    /// compiling.
    #[error("电商平台暂不可用（要求 {} 秒后再调用）：{detail}", retry_after.as_secs().max(1))]
    UnavailableFor {
        retry_after: Duration,
        detail: String,
    },
    /// Our own coordination in the database could not answer, so the call was not made: the
    /// shared rate gate (the per-app quota kept across replicas) gave it no slot, or the shop's
    /// renewal lock could not be had. Retried like a platform that is unavailable. The cause (a
    /// database error, another caller renewing for too long) is logged where it happened and
    /// kept out of the text, which reaches merchants: the platform said nothing.
    #[error("系统繁忙，本次未调用电商平台，稍后将重试")]
    GateUnavailable(String),
    /// The app key's calls already queue further ahead at the shared rate gate than
    /// [`crate::resilience::MAX_QUEUE_AHEAD`], so this one was not queued nor made: retried after
    /// `retry_after` like a stated wait. A queue that long is a flood (a user firing requests
    /// that each take a slot), and would stall every tenant's calls with the same app key.
    #[error("同一电商应用下的调用请求过多，本次未调用电商平台，请约 {} 秒后重试", retry_after.as_secs().max(1))]
    QueueFull { retry_after: Duration },
    /// The platform answered something we cannot read.
    #[error("电商平台返回无法解析的内容：{0}")]
    Malformed(String),
    /// An error code the adapter does not know (undocumented, or new). The safe default: retried
    /// with bounded backoff, then once after a token refresh, before it fails; `code` and
    /// `message` are the platform's own and go into the sync record.
    #[error("电商平台返回错误码 {code}：{message}")]
    Unknown { code: String, message: String },
    /// The platform's rules do not permit revealing a contact for this purpose; decided by the
    /// adapter before any call, and never sent as another scene.
    #[error(
        "{} 不允许以“{}”（{purpose}）用途查看买家号码，请选择该平台允许的用途",
        platform.name_zh(),
        purpose.name_zh()
    )]
    PurposeNotPermitted {
        platform: PlatformType,
        purpose: RevealPurpose,
    },
    /// The platform refused to decrypt for this app or shop: the decrypt permission or the scene
    /// was not granted. `code` and `message` are the platform's own.
    #[error("电商平台拒绝解密（错误码 {code}）：{message}")]
    DecryptNotPermitted { code: String, message: String },
    /// The platform's decrypt quota is used up; it renews after `retry_after` when the platform
    /// says (usually at the next day). Not retried: waiting is the caller's decision.
    #[error("电商平台解密额度已用完（错误码 {code}）：{message}")]
    QuotaExhausted {
        code: String,
        message: String,
        retry_after: Option<Duration>,
    },
    /// The platform could not decrypt this item: the order or the ciphertext is unknown, not this
    /// shop's, or no longer the order's receiver. `code` and `message` are the platform's own.
    #[error("电商平台无法解密该联系方式（错误码 {code}）：{message}")]
    DecryptFailed { code: String, message: String },
}

impl PlatformError {
    /// The error with every text the platform wrote kept as [`kept_words`] keeps it (phones
    /// masked, at most [`PLATFORM_WORDS_MAX_CHARS`]): what every platform call answers
    /// ([`crate::resilience::with_retries_when`]), whichever adapter built it and however.
    pub fn kept(self) -> Self {
        use PlatformError as E;
        let k = |s: String| kept_words(&s);
        match self {
            E::Throttled {
                retry_after,
                detail,
            } => E::Throttled {
                retry_after,
                detail: k(detail),
            },
            E::SessionExpired { detail } => E::SessionExpired { detail: k(detail) },
            E::AuthRefused(s) => E::AuthRefused(k(s)),
            E::InvalidRequest(s) => E::InvalidRequest(k(s)),
            E::Unavailable(s) => E::Unavailable(k(s)),
            E::UnavailableFor {
                retry_after,
                detail,
            } => E::UnavailableFor {
                retry_after,
                detail: k(detail),
            },
            E::Malformed(s) => E::Malformed(k(s)),
            E::Unknown { code, message } => E::Unknown {
                code: k(code),
                message: k(message),
            },
            E::DecryptNotPermitted { code, message } => E::DecryptNotPermitted {
                code: k(code),
                message: k(message),
            },
            E::QuotaExhausted {
                code,
                message,
                retry_after,
            } => E::QuotaExhausted {
                code: k(code),
                message: k(message),
                retry_after,
            },
            E::DecryptFailed { code, message } => E::DecryptFailed {
                code: k(code),
                message: k(message),
            },
            other @ (E::GateUnavailable(_)
            | E::QueueFull { .. }
            | E::PurposeNotPermitted { .. }) => other,
        }
    }
}

/// The longest platform code kept as a label value (Taobao's `isv.*` sub-codes fit).
const MAX_LABEL_CODE: usize = 64;

/// `code` as a metrics label: kept when it reads as a code (at most [`MAX_LABEL_CODE`] ASCII
/// letters, digits and `._:/-`, or such a word, a space and a number, as in the codes the
/// adapters name themselves: `HTTP 401`, `err_no 5`, `oauth 403`), `other` when it is text.
fn label_code(code: String) -> String {
    let codelike = |w: &str| {
        w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:/-".contains(c))
    };
    let number = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit());
    let reads_as_code = match code.split_once(' ') {
        None => codelike(&code),
        Some((word, n)) => !word.is_empty() && codelike(word) && number(n),
    };
    if code.len() <= MAX_LABEL_CODE && reads_as_code {
        code
    } else {
        "other".to_owned()
    }
}

impl PlatformError {
    /// The call's `outcome` and the platform's own `code` (empty when none), as metrics label
    /// them (`docs/metrics.md`). A "code" that is free text (an OAuth `error`, a Kuaishou
    /// answer's words where it has no code) is labelled `other`: every distinct text would be
    /// a new time series.
    pub fn metric_labels(&self) -> (&'static str, String) {
        let (outcome, code) = self.metric_labels_as_sent();
        (outcome, label_code(code))
    }

    fn metric_labels_as_sent(&self) -> (&'static str, String) {
        match self {
            PlatformError::Throttled { .. } => ("throttled", String::new()),
            PlatformError::SessionExpired { .. } => ("token_expired", String::new()),
            PlatformError::AuthRefused(_) => ("auth_refused", String::new()),
            PlatformError::InvalidRequest(_) => ("invalid_request", String::new()),
            PlatformError::Unavailable(_) | PlatformError::UnavailableFor { .. } => {
                ("unavailable", String::new())
            }
            PlatformError::GateUnavailable(_) => ("gate_unavailable", String::new()),
            PlatformError::QueueFull { .. } => ("queue_full", String::new()),
            PlatformError::Malformed(_) => ("malformed", String::new()),
            PlatformError::Unknown { code, .. } => ("unknown", code.clone()),
            PlatformError::PurposeNotPermitted { .. } => ("purpose_not_permitted", String::new()),
            PlatformError::DecryptNotPermitted { code, .. } => ("decrypt_refused", code.clone()),
            PlatformError::QuotaExhausted { code, .. } => ("quota_exhausted", code.clone()),
            PlatformError::DecryptFailed { code, .. } => ("decrypt_failed", code.clone()),
        }
    }

    /// The platform's own code and message this error carries, as sent (empty when none).
    pub fn platform_detail(&self) -> String {
        match self {
            PlatformError::Throttled { detail, .. }
            | PlatformError::SessionExpired { detail }
            | PlatformError::AuthRefused(detail)
            | PlatformError::InvalidRequest(detail)
            | PlatformError::Unavailable(detail)
            | PlatformError::UnavailableFor { detail, .. }
            | PlatformError::Malformed(detail) => detail.clone(),
            // Our own failure: the platform said nothing.
            PlatformError::GateUnavailable(_) | PlatformError::QueueFull { .. } => String::new(),
            PlatformError::Unknown { code, message }
            | PlatformError::DecryptNotPermitted { code, message }
            | PlatformError::QuotaExhausted { code, message, .. }
            | PlatformError::DecryptFailed { code, message } => platform_text(&[code, message]),
            PlatformError::PurposeNotPermitted { .. } => String::new(),
        }
    }

    /// Whether a call that must not be acted on twice (a single-use authorization code) may be
    /// sent again after this failure: the platform throttled it or was unavailable, or the call
    /// was never sent (our rate gate), and only these; a malformed or unknown answer may follow
    /// a code already spent. A call cut off while the platform answered is `Unavailable` too, so
    /// the code may be spent after all: sending it again is then what the merchant's reload of
    /// the callback page would do, and the platform refuses it (`invalid_grant`).
    pub fn may_resend_single_use(&self) -> bool {
        matches!(
            self,
            PlatformError::Throttled { .. }
                | PlatformError::Unavailable(_)
                | PlatformError::UnavailableFor { .. }
                | PlatformError::GateUnavailable(_)
                | PlatformError::QueueFull { .. }
        )
    }

    /// Whether a decrypt may be sent again: only when nothing reached the platform (no rate
    /// slot, the app key's queue full) or the platform turned the call away unanswered (a
    /// throttle). A timeout, a server error or an answer we could not read may follow a
    /// decrypt the platform counted against its quota (README §2.4: JD counts failed calls too).
    pub fn may_resend_decrypt(&self) -> bool {
        matches!(
            self,
            PlatformError::Throttled { .. }
                | PlatformError::GateUnavailable(_)
                | PlatformError::QueueFull { .. }
        )
    }

    /// Whether waiting and retrying the same call may succeed: every failure a single-use call
    /// may be sent again after, and an answer we could not read or did not know.
    pub fn is_transient(&self) -> bool {
        self.may_resend_single_use()
            || matches!(
                self,
                PlatformError::Malformed(_) | PlatformError::Unknown { .. }
            )
    }

    /// The wait the platform asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PlatformError::Throttled { retry_after, .. }
            | PlatformError::QuotaExhausted { retry_after, .. } => *retry_after,
            PlatformError::UnavailableFor { retry_after, .. }
            | PlatformError::QueueFull { retry_after } => Some(*retry_after),
            PlatformError::SessionExpired { .. }
            | PlatformError::AuthRefused(_)
            | PlatformError::InvalidRequest(_)
            | PlatformError::Unavailable(_)
            | PlatformError::GateUnavailable(_)
            | PlatformError::Malformed(_)
            | PlatformError::Unknown { .. }
            | PlatformError::PurposeNotPermitted { .. }
            | PlatformError::DecryptNotPermitted { .. }
            | PlatformError::DecryptFailed { .. } => None,
        }
    }
}

/// The token endpoint's errors (RFC 6749 §4.1.2.1, §5.2) that end the merchant's grant: the code
/// or refresh token is dead (`invalid_grant`), or the merchant refused (`access_denied`). Only
/// these are [`PlatformError::AuthRefused`], which a session reports as dead (the merchant must
/// authorize again).
pub const OAUTH_GRANT_REFUSALS: &[&str] = &["invalid_grant", "access_denied"];

/// The token endpoint's errors (RFC 6749 §5.2) that blame the request or the app, not the
/// merchant's grant: a wrong app key or secret (`invalid_client`), an app not allowed the grant
/// type (`unauthorized_client`), or a request we built wrong. Re-authorizing every shop would
/// not mend them, so they are [`PlatformError::InvalidRequest`] (a session reports the
/// platform's error, and leaves the shops as they are).
pub const OAUTH_CLIENT_ERRORS: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
];

/// A token endpoint's OAuth 2.0 `error` as a typed error, `said` being the platform's other
/// words (its description, result code…): `"{error}: {said}"`, the OAuth code first so the
/// consent callback can explain it to the merchant. `None` for an error OAuth does not define.
pub fn oauth_error(error: &str, said: &str) -> Option<PlatformError> {
    let text = || {
        if said.trim().is_empty() {
            error.to_owned()
        } else {
            format!("{error}: {}", said.trim())
        }
    };
    if OAUTH_GRANT_REFUSALS.contains(&error) {
        Some(PlatformError::AuthRefused(text()))
    } else if OAUTH_CLIENT_ERRORS.contains(&error) {
        Some(PlatformError::InvalidRequest(text()))
    } else {
        None
    }
}

/// What a token endpoint answered instead of tokens, as a typed error keeping the platform's
/// words; `None` when the body carries no error (success-shaped: without an `access_token` that
/// one is `Malformed`, the only case that is). `has_token`: the body carries an `access_token`.
///
/// - An OAuth 2.0 `error` (with `error_description`): a dead or denied grant is refused, a
///   client-configuration error is ours to mend ([`oauth_error`]); any other is
///   [`PlatformError::Unknown`] with its name and text. An `error` object is unknown, its text kept.
/// - An `error_response` envelope: `envelope` reads it by the platform's own code table. A
///   session error there ([`PlatformError::SessionExpired`]) is documented for an API call's
///   access token, not for the token endpoint (which is sent none): unknown, so the shop is not
///   declared dead on a guess. An envelope the platform's table does not read is unknown.
/// - Without a token, a body that says a `code`, `error_code`, `msg`, `sub_msg`… is unknown with
///   that text, never `Malformed` (retried, it would resend the same refresh token).
pub fn token_error(
    json: &serde_json::Value,
    has_token: bool,
    envelope: &dyn Fn(&serde_json::Value) -> Option<PlatformError>,
) -> Option<PlatformError> {
    use serde_json::Value;
    let said = |v: &Value, keys: &[&str]| {
        let parts: Vec<String> = keys.iter().filter_map(|k| text_of(v.get(*k))).collect();
        platform_text(&parts.iter().map(String::as_str).collect::<Vec<_>>())
    };
    const WORDS: &[&str] = &[
        "error_description",
        "msg",
        "message",
        "error_msg",
        "sub_msg",
        "zh_desc",
        "en_desc",
    ];
    match json.get("error") {
        Some(Value::String(error)) if !error.trim().is_empty() => {
            let error = error.trim();
            let description = said(json, WORDS);
            return Some(oauth_error(error, &description).unwrap_or_else(|| {
                PlatformError::Unknown {
                    code: error.to_owned(),
                    message: description,
                }
            }));
        }
        Some(object @ Value::Object(_)) => {
            return Some(PlatformError::Unknown {
                code: code_of(object),
                message: said(
                    object,
                    &[
                        "error",
                        "description",
                        "error_description",
                        "msg",
                        "message",
                    ],
                ),
            });
        }
        _ => {}
    }
    if let Some(e) = json.get("error_response").filter(|e| !e.is_null()) {
        let unknown = || PlatformError::Unknown {
            code: code_of(e),
            message: said(e, WORDS),
        };
        return Some(match envelope(json) {
            Some(PlatformError::SessionExpired { .. }) | None => unknown(),
            Some(error) => error,
        });
    }
    if has_token {
        return None;
    }
    let code = code_of(json);
    let message = said(json, WORDS);
    let says_something = !message.is_empty() || !matches!(code.as_str(), "" | "0");
    says_something.then_some(PlatformError::Unknown { code, message })
}

/// A value as text: a non-empty string (trimmed) or a number.
fn text_of(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An error's `code` (or `error_code`), with its `sub_code` when it has one: `27/invalid-sessionkey`.
fn code_of(e: &serde_json::Value) -> String {
    let code = text_of(e.get("code")).or_else(|| text_of(e.get("error_code")));
    match (code, text_of(e.get("sub_code"))) {
        (Some(code), Some(sub)) => format!("{code}/{sub}"),
        (Some(code), None) => code,
        (None, _) => String::new(),
    }
}

/// The platform's own words as an error carries them: the non-empty `parts` (code, `sub_code`,
/// message, `sub_msg`…) in order, each as sent (trimmed), separated by single spaces, then
/// [`kept_words`].
pub fn platform_text(parts: &[&str]) -> String {
    kept_words(
        &parts
            .iter()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// The most characters of a platform's words an error keeps.
pub const PLATFORM_WORDS_MAX_CHARS: usize = 300;

/// A platform's words as they are kept: they reach the merchant's sync records, a shop's status
/// reason, `platform.changed` events, the reveal audit and the logs, so a phone number in them
/// (a platform echoing a parameter, a decrypt error naming the value) is masked, and an answer
/// that is a page of text is cut at [`PLATFORM_WORDS_MAX_CHARS`] (`…` marks the cut;
/// [`crate::json::masked_start`]).
pub fn kept_words(words: &str) -> String {
    crate::json::masked_start(words, PLATFORM_WORDS_MAX_CHARS)
}

/// `（平台返回：…）` after a Chinese sentence, or nothing when the platform said nothing.
pub fn platform_said(detail: &str) -> String {
    if detail.trim().is_empty() {
        String::new()
    } else {
        format!("（平台返回：{}）", detail.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::PlatformError;

    fn unknown(code: &str) -> PlatformError {
        PlatformError::Unknown {
            code: code.to_owned(),
            message: String::new(),
        }
    }

    #[test]
    fn a_code_is_a_label_and_free_text_is_other() {
        for code in [
            "66",
            "40003/isv.access-token-expired",
            "isp.top-remote-connection-timeout",
            "invalid_grant",
            "HTTP 401",
            "err_no 5",
            "oauth 403",
            "",
        ] {
            assert_eq!(unknown(code).metric_labels(), ("unknown", code.to_owned()));
        }
        for text in [
            "token abc expired at 12:00",
            "token expired",
            "令牌无效",
            &"x".repeat(65),
        ] {
            assert_eq!(
                unknown(text).metric_labels(),
                ("unknown", "other".to_owned())
            );
        }
    }

    /// A platform's words reach sync records, shop status, events, the reveal audit and the
    /// logs: a decrypt error echoing the number it was asked about kept it in clear there, and
    /// an answer that is a page of text was kept whole.
    #[test]
    fn a_platforms_words_are_kept_masked_and_short() {
        let said = super::platform_text(&["  40004 ", "", "手机号 13812345678 解密失败"]);
        assert_eq!(said, "40004 手机号 138****5678 解密失败");
        let page = "错".repeat(1_000);
        let kept = super::platform_text(&[&page]);
        assert_eq!(kept.chars().count(), super::PLATFORM_WORDS_MAX_CHARS + 1);
        assert!(kept.ends_with('…'));
        // Whatever an adapter built: a decrypt error naming the number, as every call answers.
        let failed = PlatformError::DecryptFailed {
            code: "50001".into(),
            message: "号码13812345678解密失败".into(),
        };
        assert_eq!(
            failed.kept(),
            PlatformError::DecryptFailed {
                code: "50001".into(),
                message: "号码138****5678解密失败".into(),
            }
        );
    }
}
