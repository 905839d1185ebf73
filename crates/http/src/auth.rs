//! Bearer-token identity. Production verifies RS256 tokens from the company's identity service
//! (public key from configuration); local runs use a shared HS256 secret and `leadctl token`.
//!
//! Claims used: `sub` (user id), `tenant_id`, `name` (for the operation log), `perms`, `exp`
//! (and `nbf`, `iat` when present: not yet valid, or issued in the future, is refused). With
//! `[auth] issuer` / `audience` set, `iss` / `aud` are required and must equal them.
//! No, invalid or expired token: 401. Valid token without the permission: 403.

use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use leadgen_domain::{TenantId, UserId};
use leadgen_settings::{AuthSettings, ExposeSecret};
use serde::{Deserialize, Deserializer, Serialize};

use crate::ApiError;

/// The permissions of the order-lead module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Add and manage platform authorizations.
    Auth,
    /// Trigger syncs.
    Sync,
    /// Read authorizations, sync records and leads.
    View,
    /// Change leads' process status (the sales workflow).
    Process,
    /// Read the operation log.
    Audit,
    /// Reveal a buyer's contact for a call.
    Contact,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Auth => "lead:order:auth",
            Permission::Sync => "lead:order:sync",
            Permission::View => "lead:order:view",
            Permission::Process => "lead:order:process",
            Permission::Audit => "lead:order:audit",
            Permission::Contact => "lead:order:contact",
        }
    }

    /// The permission as an administrator grants it, for messages.
    pub fn name_zh(self) -> &'static str {
        match self {
            Permission::Auth => "店铺授权管理",
            Permission::Sync => "订单同步",
            Permission::View => "查看线索",
            Permission::Process => "处理线索",
            Permission::Audit => "查看操作日志",
            Permission::Contact => "查看号码",
        }
    }
}

/// The token's claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// A string on the wire (RFC 7519 `StringOrURI`); numbers are accepted too.
    #[serde(deserialize_with = "int_or_string", serialize_with = "as_string")]
    pub sub: i64,
    #[serde(deserialize_with = "int_or_string")]
    pub tenant_id: i64,
    /// Absent or `null`: none (the caller is then named by id, [`AuthUser::name`]).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub name: String,
    /// Absent or `null`: no permission (403 where one is needed, not 401).
    #[serde(default, deserialize_with = "list_or_string")]
    pub perms: Vec<String>,
    /// A NumericDate (RFC 7519 §2): seconds, whole or not (a fraction is dropped).
    #[serde(deserialize_with = "numeric_date")]
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// One audience or several (RFC 7519 allows both); checked by the verifier when
    /// `[auth] audience` is set.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "one_or_many"
    )]
    pub aud: Vec<String>,
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<String>),
        One(String),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::Many(v) => v,
        OneOrMany::One(s) => vec![s],
    })
}

fn as_string<S: serde::Serializer>(value: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&value.to_string())
}

fn int_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IntOrString {
        Int(i64),
        Str(String),
    }
    match IntOrString::deserialize(d)? {
        IntOrString::Int(n) => Ok(n),
        IntOrString::Str(s) => s.parse().map_err(serde::de::Error::custom),
    }
}

/// A NumericDate: a JSON number of seconds, whole or not (RFC 7519 §2 allows non-integer
/// values, and PyJWT keeps the float of `time.time()`); the fraction is dropped.
fn numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let seconds = f64::deserialize(d)?;
    if !seconds.is_finite() || seconds.abs() > 1e15 {
        return Err(serde::de::Error::custom("NumericDate out of range"));
    }
    Ok(seconds.floor() as i64)
}

fn optional_numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    numeric_date(d).map(Some)
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

fn list_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrString {
        List(Vec<String>),
        Str(String),
    }
    Ok(match Option::<ListOrString>::deserialize(d)? {
        None => Vec::new(),
        Some(ListOrString::List(v)) => v,
        Some(ListOrString::Str(s)) => s
            .split([' ', ','])
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

/// Why a verifier could not be built or a token minted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthConfigError {
    #[error("auth.algorithm must be HS256 or RS256, not `{0}`")]
    Algorithm(String),
    #[error("auth.hmac_secret is required for HS256")]
    MissingSecret,
    #[error(
        "auth.hmac_secret is {0} bytes: HS256 needs a key of at least {MIN_HMAC_SECRET_BYTES} \
         bytes (RFC 7518 §3.2), or a token can be forged by guessing it"
    )]
    WeakSecret(usize),
    #[error("auth.public_key_pem is required for RS256 and must be a PEM RSA public key")]
    BadPublicKey,
    #[error("cannot sign the token: {0}")]
    Sign(String),
}

/// The shortest `[auth] hmac_secret` taken: HS256's key must be at least as long as its hash's
/// output, 256 bits (RFC 7518 §3.2).
pub const MIN_HMAC_SECRET_BYTES: usize = 32;

/// Verifies bearer tokens.
#[derive(Clone)]
pub struct JwtVerifier {
    /// The current key first, then `[auth] additional_public_keys_pem` (RS256).
    keys: Arc<Vec<DecodingKey>>,
    validation: Validation,
}

impl JwtVerifier {
    pub fn from_settings(settings: &AuthSettings) -> Result<Self, AuthConfigError> {
        let (algorithm, keys) = match settings.algorithm.as_str() {
            "HS256" => {
                let secret = settings
                    .hmac_secret
                    .as_ref()
                    .ok_or(AuthConfigError::MissingSecret)?;
                let length = secret.expose_secret().len();
                if length < MIN_HMAC_SECRET_BYTES {
                    return Err(AuthConfigError::WeakSecret(length));
                }
                (
                    Algorithm::HS256,
                    vec![DecodingKey::from_secret(secret.expose_secret().as_bytes())],
                )
            }
            "RS256" => {
                // The current key must be there (an empty Secret value would leave no key, and
                // every request answered 401 by a pod that started); empty additional keys are
                // none.
                let pem = settings
                    .public_key_pem
                    .as_ref()
                    .filter(|pem| !pem.trim().is_empty())
                    .ok_or(AuthConfigError::BadPublicKey)?;
                let additional = settings
                    .additional_public_keys_pem
                    .iter()
                    .filter(|pem| !pem.trim().is_empty());
                let keys = std::iter::once(pem)
                    .chain(additional)
                    .map(|pem| {
                        DecodingKey::from_rsa_pem(pem.trim().as_bytes())
                            .map_err(|_| AuthConfigError::BadPublicKey)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                (Algorithm::RS256, keys)
            }
            other => return Err(AuthConfigError::Algorithm(other.to_owned())),
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = 30;
        // The times are checked by `verify` (jsonwebtoken reads only whole seconds, and a
        // token whose `exp` has a fraction would be refused as having none): `exp` is required
        // by `Claims` itself, `nbf` and `iat` when present. `sub` and `tenant_id` are required
        // by `Claims` too (numbers or strings). A token without `iss` or `aud` would pass their
        // checks unseen: required when configured.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let mut required = vec![];
        if settings.issuer.is_some() {
            required.push("iss");
        }
        if settings.audience.is_some() {
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        if algorithm == Algorithm::RS256
            && (settings.issuer.is_none() || settings.audience.is_none())
        {
            tracing::warn!(
                "[auth] issuer or audience is not set: any token the key signed is accepted, \
                 whatever system it was issued for (docs/configuration.md)"
            );
        }
        match &settings.issuer {
            Some(iss) => validation.set_issuer(&[iss]),
            None => validation.iss = None,
        }
        match &settings.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        Ok(JwtVerifier {
            keys: Arc::new(keys),
            validation,
        })
    }

    /// The token's claims when its signature, times, issuer and audience hold and it names a
    /// user and a tenant: ids are positive (0 is the system's own user, [`UserId::SYSTEM`], and
    /// the tenant's own row in per-user tables; no identity service issues it) and at most
    /// [`MAX_CLAIMED_ID`] (the API answers them back as JSON numbers, `operatorId`, which a
    /// JavaScript client would round past it, and then not find when sent back as a filter).
    ///
    /// [`UserId::SYSTEM`]: leadgen_domain::UserId::SYSTEM
    /// A token issued in the future (`iat` past now and the leeway) is refused too: no issuer
    /// mints one, so it was forged with a leaked key or minted by a clock that is wrong, and
    /// its `exp` is not to be trusted either.
    /// A token not valid yet (`nbf` past now and the leeway) is refused like an expired one
    /// (RFC 7519 §4.1.5).
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let now = chrono::Utc::now().timestamp();
        let leeway = self.validation.leeway as i64;
        self.keys
            .iter()
            .find_map(|key| jsonwebtoken::decode::<Verified>(token, key, &self.validation).ok())
            .map(|d| d.claims)
            .filter(|v| v.claims.exp >= now - leeway)
            .filter(|v| v.nbf.is_none_or(|nbf| nbf <= now + leeway))
            .filter(|v| v.iat.is_none_or(|iat| iat <= now + leeway))
            .map(|v| v.claims)
            .filter(|c| (1..=MAX_CLAIMED_ID).contains(&c.sub))
            .filter(|c| (1..=MAX_CLAIMED_ID).contains(&c.tenant_id))
    }
}

/// The largest user or tenant id a token may claim: 2^53 − 1, the largest integer a JSON number
/// carries exactly to a JavaScript client (`Number.MAX_SAFE_INTEGER`).
pub const MAX_CLAIMED_ID: i64 = (1 << 53) - 1;

/// What [`JwtVerifier::verify`] reads: the claims, `iat` to refuse a token from the future and
/// `nbf` one not valid yet. Either, present but not a number, refuses the token.
#[derive(Deserialize)]
struct Verified {
    #[serde(flatten)]
    claims: Claims,
    #[serde(default, deserialize_with = "optional_numeric_date")]
    iat: Option<i64>,
    #[serde(default, deserialize_with = "optional_numeric_date")]
    nbf: Option<i64>,
}

/// Mints an HS256 development token (`leadctl token`, tests).
pub fn mint_hs256(secret: &str, claims: &Claims) -> Result<String, AuthConfigError> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| AuthConfigError::Sign(e.to_string()))
}

/// The authenticated caller. Extracting it fails with 401 when the token is missing or invalid,
/// and with 429 (42907) when its tenant is past its share of requests ([`crate::throttle`]).
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub name: String,
    perms: Vec<String>,
}

impl AuthUser {
    /// 403 unless the token carries `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.perms.iter().any(|p| p == permission.as_str()) {
            Ok(())
        } else {
            Err(ApiError::forbidden(permission))
        }
    }
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let Some(verifier) = req.app_data::<web::Data<JwtVerifier>>() else {
            return ready(Err(ApiError::internal(
                "JwtVerifier is not registered as app data",
            )));
        };
        let token = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            // The scheme is case-insensitive (RFC 9110 §11.1).
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let user = token.and_then(|t| verifier.verify(t)).map(|c| {
            tracing::Span::current().record("tenant_id", c.tenant_id);
            AuthUser {
                user_id: UserId::new(c.sub),
                tenant_id: TenantId::new(c.tenant_id),
                name: display_name(c.sub, &c.name),
                perms: c.perms,
            }
        });
        // The tenant's share of this process, once its token is verified (`crate::throttle`).
        let limiter = req.app_data::<web::Data<crate::throttle::TenantLimiter>>();
        ready(
            user.ok_or_else(ApiError::unauthorized)
                .and_then(|user| match limiter {
                    Some(limiter) => limiter.admit(user.tenant_id).map(|()| user),
                    None => Ok(user),
                }),
        )
    }
}

/// The most of a token's `name` kept for the operation log and status history.
const NAME_MAX_CHARS: usize = 64;

/// The token's `name` as the operation log keeps it: control characters removed (a NUL cannot be
/// stored in PostgreSQL text, a newline forges log lines), trimmed, at most
/// [`NAME_MAX_CHARS`] characters. The identity service signs the name; this only keeps a
/// stray byte from failing the request it rides on. A token without one (or only control
/// characters) names the caller by id, `用户 7`, so a note like "已由 … 取消" names someone.
fn display_name(user: i64, name: &str) -> String {
    let shown: String = name
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .chars()
        .take(NAME_MAX_CHARS)
        .collect();
    if shown.is_empty() {
        format!("用户 {user}")
    } else {
        shown
    }
}

/// A permission a handler needs, as a type: the parameter of [`Authorized`].
pub trait Needs {
    const PERMISSION: Permission;
}

/// The permissions as types, one per [`Permission`], for [`Authorized`].
pub mod needs {
    use super::{Needs, Permission};

    macro_rules! needs {
        ($($name:ident),*) => {$(
            #[doc = concat!("Needs [`Permission::", stringify!($name), "`].")]
            #[derive(Debug)]
            pub struct $name;

            impl Needs for $name {
                const PERMISSION: Permission = Permission::$name;
            }
        )*};
    }

    needs!(Auth, Sync, View, Process, Audit, Contact);
}

/// The authenticated caller holding `N`'s permission. Extracting it answers 401 without a valid
/// token, 403 without the permission and then 400 for a NUL in the input
/// ([`crate::nul::refuse_marked`]), before the handler's body, path or query extractors
/// that follow it are read: a caller without the permission learns nothing about them.
#[derive(Debug)]
pub struct Authorized<N: Needs>(pub AuthUser, std::marker::PhantomData<N>);

impl<N: Needs> std::ops::Deref for Authorized<N> {
    type Target = AuthUser;

    fn deref(&self) -> &AuthUser {
        &self.0
    }
}

impl<N: Needs> FromRequest for Authorized<N> {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = AuthUser::from_request(req, payload).into_inner();
        ready(user.and_then(|user| {
            user.require(N::PERMISSION)?;
            crate::nul::refuse_marked(req)?;
            Ok(Authorized(user, std::marker::PhantomData))
        }))
    }
}

#[cfg(test)]
mod tests;
