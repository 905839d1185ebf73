//! Adding and listing platform authorizations (design 2.1, 2.2).

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection as _;
use leadgen_db::ScopedFutureExt as _;
use leadgen_db::oplog::{self, Entry};
use leadgen_db::sealed;
use leadgen_domain::audit::{AuditAction, AuditTarget};
use leadgen_domain::{AuthStatus, PlatformId, PlatformType, SyncStatus, SyncTrigger, TenantId};
use leadgen_http::paging::Paging;
use leadgen_http::{AuthUser, FieldError};
use leadgen_platforms::AppCredentials;
use serde::Serialize;

use crate::SERVICE;
use crate::error::AuthApiError;
use crate::repo::platforms::{self as repo, AuthFilter, AuthRow, NewAuthRow};
use crate::repo::sync_tasks::{self, TaskRow};
use crate::routes::create::CreateRequest;
use crate::service::{oauth, operator};
use crate::startup::AppState;

/// A validated request to add an authorization.
pub struct NewAuthorization {
    pub platform_type: PlatformType,
    pub app_key: String,
    pub app_secret: String,
    pub callback_url: Option<String>,
    pub redirect_url: Option<String>,
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl TryFrom<CreateRequest> for NewAuthorization {
    type Error = AuthApiError;

    fn try_from(r: CreateRequest) -> Result<Self, Self::Error> {
        let missing = |field: &str| {
            AuthApiError::Invalid(vec![FieldError {
                field: field.into(),
                message: format!("{field} 不能为空"),
            }])
        };
        let info = r.auth_info.ok_or_else(|| missing("authInfo"))?;
        let platform_type = r
            .platform_type
            .as_deref()
            .ok_or_else(|| missing("platformType"))?
            .parse()
            .map_err(|_| missing("platformType"))?;
        Ok(NewAuthorization {
            platform_type,
            app_key: info
                .app_key
                .ok_or_else(|| missing("authInfo.appKey"))?
                .trim()
                .to_owned(),
            app_secret: info
                .app_secret
                .ok_or_else(|| missing("authInfo.appSecret"))?,
            callback_url: info.callback_url,
            redirect_url: r.redirect_url,
            extra: info.extra,
        })
    }
}

/// The answer to an add (design 2.1).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Created {
    pub platform_id: i64,
    #[schema(value_type = leadgen_http::openapi::PlatformTypeSchema)]
    pub platform_type: PlatformType,
    /// `PENDING_AUTH` for a new authorization; a re-authorization answers the record's
    /// current status, which it keeps until the merchant approves.
    #[schema(value_type = crate::openapi::AuthStatusSchema)]
    pub status: AuthStatus,
    pub auth_url: String,
    /// The consent to bind to the caller's browser; never serialized.
    #[serde(skip)]
    #[schema(ignore)]
    pub consent: oauth::Consent,
}

/// The platform's own `authInfo` keys: only those it reads, each a non-empty string, and every
/// one it needs present (422 naming each failed field).
fn check_auth_info(
    client: &dyn leadgen_platforms::PlatformClient,
    new: &NewAuthorization,
) -> Result<(), AuthApiError> {
    let errors = platform_key_errors(client, new.platform_type, &new.extra);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AuthApiError::Invalid(errors))
    }
}

/// Unknown `authInfo` keys named one by one in a refusal; the rest are counted.
pub const MAX_UNKNOWN_KEYS_LISTED: usize = 10;

/// The field errors of the platform's own `authInfo` keys in `extra`: a key the platform does
/// not read is refused (what `authInfo` holds depends on the platform, design 2.1, so it is
/// validated, not parsed), each it reads must be a non-empty string, and each it needs present.
/// The request's other fields are checked beside them, so one 422 lists every failed field.
pub fn platform_key_errors(
    client: &dyn leadgen_platforms::PlatformClient,
    platform: PlatformType,
    extra: &serde_json::Map<String, serde_json::Value>,
) -> Vec<leadgen_http::FieldError> {
    let unknown: Vec<&String> = extra
        .keys()
        .filter(|k| !client.auth_info_keys().contains(&k.as_str()))
        .collect();
    let mut errors: Vec<leadgen_http::FieldError> = unknown
        .iter()
        .take(MAX_UNKNOWN_KEYS_LISTED)
        .map(|key| {
            let key = leadgen_http::error::printable(key);
            leadgen_http::FieldError {
                field: format!("authInfo.{key}"),
                message: format!("{platform} 不支持 authInfo 字段 {key}"),
            }
        })
        .collect();
    // Thousands of keys fit in a body: the answer (and its audit line) names a few.
    if unknown.len() > MAX_UNKNOWN_KEYS_LISTED {
        errors.push(leadgen_http::FieldError {
            field: "authInfo".into(),
            message: format!(
                "另有 {} 个 {platform} 不支持的 authInfo 字段",
                unknown.len() - MAX_UNKNOWN_KEYS_LISTED
            ),
        });
    }
    for key in client.auth_info_keys() {
        let message = match extra.get(*key) {
            Some(serde_json::Value::String(v)) if v.trim().is_empty() => {
                format!("{key} 不能为空（{platform} 接口需要）")
            }
            Some(serde_json::Value::String(v)) if v.chars().count() > MAX_AUTH_INFO_VALUE_CHARS => {
                format!("{key} 长度不能超过 {MAX_AUTH_INFO_VALUE_CHARS}")
            }
            Some(serde_json::Value::String(_)) => continue,
            Some(_) => format!("{key} 必须是字符串（{platform} 接口需要）"),
            None if client.required_auth_info_keys().contains(key) => {
                format!("{key} 不能为空（{platform} 接口需要）")
            }
            None => continue,
        };
        errors.push(leadgen_http::FieldError {
            field: format!("authInfo.{key}"),
            message,
        });
    }
    errors
}

/// Records a refused add in the operation log (design 7: the attempt, its result and the
/// error), without a target: no authorization was created. Only refusals of the request
/// itself (fields, keys, a platform switched off); a failure of ours is in the service's log.
pub async fn record_create_refusal(state: &AppState, user: &AuthUser, e: &AuthApiError) {
    if !matches!(
        e,
        AuthApiError::Invalid(_) | AuthApiError::PlatformNotSupported(_)
    ) {
        return;
    }
    let mut conn = match leadgen_db::conn(&state.pool).await {
        Ok(conn) => conn,
        Err(err) => {
            tracing::warn!(error = %err, "Could not record a refused authorization");
            return;
        }
    };
    let what = (AuditAction::PlatformAuthCreate, AuditTarget::PlatformAuth);
    super::record_refusal(
        &mut conn,
        user.tenant_id,
        &operator(user),
        what,
        Vec::new(),
        e,
    )
    .await;
}

/// The longest value of a platform's own `authInfo` key (as `appSecret`'s).
pub const MAX_AUTH_INFO_VALUE_CHARS: usize = 256;

/// Stores the authorization (secret sealed) as PENDING_AUTH and builds the consent URL, unless
/// `[oauth] max_pending_per_tenant` of the tenant's wait for their consent already (42906).
#[tracing::instrument(name = "auth.create_authorization", skip_all, fields(tenant_id = user.tenant_id.get(), platform_type = %new.platform_type))]
pub async fn create(
    state: &AppState,
    user: &AuthUser,
    new: NewAuthorization,
) -> Result<Created, AuthApiError> {
    let client = state
        .platforms
        .get(new.platform_type)
        .ok_or_else(|| AuthApiError::PlatformNotSupported(new.platform_type.to_string()))?;
    check_auth_info(client.as_ref(), &new)?;
    if let Some(url) = &new.redirect_url {
        check_redirect(state, url)?;
    }
    if let Some(url) = &new.callback_url {
        check_callback(state, url)?;
    }
    let callback_url = new
        .callback_url
        .clone()
        .unwrap_or_else(|| state.oauth.callback_url.clone());
    let oauth_state = oauth::new_state()?;
    let secret_doc =
        serde_json::json!({ "appSecret": new.app_secret, "extra": new.extra }).to_string();
    let sealer = state.sealer.clone();
    let tenant = user.tenant_id;
    let op = operator(user);
    let trace_id = leadgen_telemetry::current_trace_id();
    let mut conn = leadgen_db::conn(&state.pool).await?;
    let app_key = new.app_key.clone();
    let redirect_url = new.redirect_url.clone();
    let callback = callback_url.clone();
    let state_hash = oauth::hash_state(&oauth_state);
    let platform_type = new.platform_type;
    let max_pending = i64::from(state.oauth.max_pending_per_tenant);
    let ttl = chrono::Duration::minutes(state.oauth.state_ttl_minutes);
    let id = conn
        .transaction::<PlatformId, AuthApiError, _>(|conn| {
            async move {
                let (pending, oldest) = repo::pending_consents(conn, tenant, ttl).await?;
                if pending >= max_pending {
                    let retry_after = oldest
                        .map(|issued| issued + ttl - chrono::Utc::now())
                        .and_then(|wait| wait.to_std().ok())
                        .unwrap_or(std::time::Duration::from_secs(1));
                    return Err(AuthApiError::TooManyPending { retry_after });
                }
                let id = repo::next_id(conn).await?;
                let row = NewAuthRow {
                    id,
                    tenant_id: tenant,
                    platform_type: platform_type.as_str(),
                    app_key: &app_key,
                    auth_info: sealer.seal(&sealed::platform_auth("auth_info", id), &secret_doc)?,
                    status: AuthStatus::PendingAuth.as_str(),
                    oauth_state_hash: &state_hash,
                    redirect_url: redirect_url.as_deref(),
                    callback_url: &callback,
                    created_by: op.user_id(),
                };
                repo::insert(conn, row).await?;
                let entry = Entry {
                    tenant_id: tenant,
                    service: SERVICE,
                    operator: &op,
                    action: AuditAction::PlatformAuthCreate,
                    target_type: AuditTarget::PlatformAuth,
                    target_ids: vec![id.to_string()],
                    result: Ok(()),
                };
                oplog::record(conn, entry, &trace_id).await?;
                Ok(id)
            }
            .scope_boxed()
        })
        .await?;
    let extra = new
        .extra
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_owned),
            )
        })
        .collect();
    let app = AppCredentials {
        app_key: new.app_key,
        app_secret: String::new(),
        extra,
    };
    let auth_url = client.authorize_url(&app, &callback_url, &oauth_state);
    tracing::info!(platform.id = id.get(), platform.type = %new.platform_type, "Platform authorization created");
    Ok(Created {
        platform_id: id.get(),
        platform_type: new.platform_type,
        status: AuthStatus::PendingAuth,
        auth_url,
        consent: oauth::Consent {
            state: oauth_state,
            callback_url,
        },
    })
}

/// `url`'s origin (`scheme://host[:port]`, the port only when it is not the scheme's default).
fn origin_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    match parsed.origin() {
        url::Origin::Tuple(..) => Some(parsed.origin().ascii_serialization()),
        url::Origin::Opaque(_) => None,
    }
}

/// An `authInfo.callbackUrl` must be our own callback: the configured callback's path, without a
/// query or fragment, on the configured callback's origin or one of `[oauth]
/// allowed_callback_origins`. The platform sends the authorization code there.
pub fn check_callback(state: &AppState, url: &str) -> Result<(), AuthApiError> {
    let ours = url::Url::parse(&state.oauth.callback_url).ok();
    let permitted = match (url::Url::parse(url.trim()), ours) {
        (Ok(given), Some(ours)) => {
            let origin = given.origin().ascii_serialization();
            // What the platform is sent must be what was checked: no user info, and nothing
            // the parser would rewrite (case, a default port, dot segments, white space).
            given.as_str() == url
                && given.username().is_empty()
                && given.password().is_none()
                && given.path() == ours.path()
                && given.query().is_none()
                && given.fragment().is_none()
                && (origin == ours.origin().ascii_serialization()
                    || state
                        .oauth
                        .allowed_callback_origins
                        .iter()
                        .filter_map(|a| origin_of(a.trim()))
                        .any(|a| a == origin))
        }
        _ => false,
    };
    if permitted {
        Ok(())
    } else {
        Err(AuthApiError::Invalid(vec![FieldError {
            field: "authInfo.callbackUrl".into(),
            message: "authInfo.callbackUrl 必须是本系统的授权回调地址".into(),
        }]))
    }
}

/// A `redirectUrl` must point at one of the configured front-end origins (none by default).
pub fn check_redirect(state: &AppState, url: &str) -> Result<(), AuthApiError> {
    let allowed = &state.oauth.allowed_redirect_origins;
    let origin = origin_of(url);
    let permitted = origin.is_some_and(|o| {
        allowed
            .iter()
            .filter_map(|a| origin_of(a.trim()))
            .any(|a| a == o)
    });
    if permitted {
        Ok(())
    } else {
        Err(AuthApiError::Invalid(vec![FieldError {
            field: "redirectUrl".into(),
            message: "redirectUrl 不在允许的前端地址范围内".into(),
        }]))
    }
}

/// One row of the list (design 2.2). Secrets are never returned; the app key only as a hint.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Listed {
    pub platform_id: i64,
    #[schema(value_type = leadgen_http::openapi::PlatformTypeSchema)]
    pub platform_type: PlatformType,
    #[schema(value_type = crate::openapi::AuthStatusSchema)]
    pub status: AuthStatus,
    /// When the access token expires; renewed ahead of it, so it moves forward on every refresh.
    #[schema(required = true)]
    pub expiry_time: Option<DateTime<Utc>>,
    /// When the merchant's authorization itself ends (the platform's refresh-token expiry, or
    /// the access token's where that is later: a refresh token the platform says cannot be
    /// used, Taobao's `re_expires_in = 0`, ends the grant with the access token): tokens can
    /// no longer be renewed after it, and the shop becomes EXPIRED unless the merchant
    /// authorizes again before. `null` when the platform did not say.
    #[schema(required = true)]
    pub grant_expiry_time: Option<DateTime<Utc>>,
    pub create_time: DateTime<Utc>,
    /// The record's last change (status, tokens, name): what `sort=updateTime` orders by.
    pub update_time: DateTime<Utc>,
    #[schema(required = true)]
    pub shop_name: Option<String>,
    /// The platform's id of the authorized shop or seller (Taobao user id, JD open id, PDD
    /// owner id, Douyin shop id, Kuaishou seller id): tells apart shops whose platform sends no
    /// name (JD, Kuaishou). `null` before authorization.
    #[schema(required = true)]
    pub shop_id: Option<String>,
    pub app_key_hint: String,
    /// The end of the latest time window a sync of the shop completed (not when it ran; it
    /// never moves back: a failed or cancelled sync, or one of an older period, leaves it). `null` before the first completed sync, and again once a disconnected shop's history is purged. When the last sync ran, and how it
    /// ended, is `lastSync`.
    #[schema(required = true)]
    pub last_sync_time: Option<DateTime<Utc>>,
    /// Why the shop is EXPIRED, INVALID, DISABLED or REVOKED, when known.
    #[schema(required = true)]
    pub status_reason: Option<String>,
    /// How many times the status has changed: `platform.changed.v1`'s `statusVersion`. A team
    /// that loads shops here and then applies the events keeps the higher one.
    pub status_version: i64,
    /// A disconnected shop's orders, buyer-leads and sync records are deleted from this time
    /// on (not before; unless it is connected again first); so are those of a shop whose grant
    /// the platform ended (`EXPIRED`, `INVALID`) unless it is authorized again first.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub history_purge_at: Option<DateTime<Utc>>,
    /// When a disconnected shop's history was deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub history_purged_at: Option<DateTime<Utc>>,
    /// The shop's newest sync, whatever its outcome: an ACTIVE shop whose syncs fail says so
    /// here (`status` `FAILED` and its `errorMessage`), before anyone opens its sync records.
    /// `null` before the first.
    #[schema(required = true)]
    pub last_sync: Option<LastSync>,
}

/// A shop's newest sync, in brief (`GET /sync-records?syncId=…` has it all).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastSync {
    pub sync_id: i64,
    #[schema(value_type = crate::openapi::SyncTriggerSchema)]
    pub trigger: SyncTrigger,
    #[schema(value_type = crate::openapi::SyncStatusSchema)]
    pub status: SyncStatus,
    pub sync_time: DateTime<Utc>,
    #[schema(required = true)]
    pub finish_time: Option<DateTime<Utc>>,
    /// Why it failed or was cancelled; `""` otherwise, as in the sync records (design 2.4).
    pub error_message: String,
    /// A completed sync's warning (part of its range not served by the platform).
    #[schema(required = true)]
    pub warning: Option<String>,
}

impl From<TaskRow> for LastSync {
    fn from(t: TaskRow) -> Self {
        LastSync {
            sync_id: t.id.get(),
            trigger: t.trigger_type,
            status: t.status,
            sync_time: t.sync_time,
            finish_time: t.finished_at,
            error_message: t.error_message.unwrap_or_default(),
            warning: t.warning,
        }
    }
}

/// `rows` with their newest syncs.
pub(crate) async fn with_last_syncs(
    conn: &mut leadgen_db::PgConn,
    tenant: TenantId,
    rows: Vec<AuthRow>,
) -> Result<Vec<Listed>, AuthApiError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id.get()).collect();
    let mut latest = sync_tasks::latest_of(conn, tenant, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let last = latest
                .iter()
                .position(|t| t.platform_id == row.id)
                .map(|at| LastSync::from(latest.swap_remove(at)));
            Listed {
                last_sync: last,
                ..Listed::from(row)
            }
        })
        .collect())
}

impl From<AuthRow> for Listed {
    fn from(r: AuthRow) -> Self {
        Listed {
            platform_id: r.id.get(),
            app_key_hint: hint(&r.app_key),
            platform_type: r.platform_type,
            status: r.status,
            expiry_time: r.expiry_time,
            grant_expiry_time: r
                .refresh_expiry_time
                .map(|grant| r.expiry_time.map_or(grant, |access| access.max(grant))),
            create_time: r.create_time,
            update_time: r.update_time,
            shop_name: r.shop_name,
            shop_id: r.shop_id,
            last_sync_time: r.last_sync_time,
            status_reason: r.status_reason,
            status_version: r.status_version,
            history_purge_at: r.purge_after,
            history_purged_at: r.purged_at,
            last_sync: None,
        }
    }
}

/// The tenant's authorizations, newest first.
#[tracing::instrument(name = "auth.list_authorizations", skip_all, fields(tenant_id = tenant.get()))]
pub async fn list(
    state: &AppState,
    tenant: TenantId,
    filter: AuthFilter,
    paging: Paging,
) -> Result<(Vec<Listed>, i64), AuthApiError> {
    let mut conn = leadgen_db::conn(&state.pool).await?;
    let (rows, total) = repo::list(&mut conn, tenant, &filter, paging).await?;
    Ok((with_last_syncs(&mut conn, tenant, rows).await?, total))
}

/// One of the tenant's authorizations (another tenant's is not found).
#[tracing::instrument(name = "auth.authorization_detail", skip_all, fields(tenant_id = tenant.get(), platform_id = id.get()))]
pub async fn detail(
    state: &AppState,
    tenant: TenantId,
    id: PlatformId,
) -> Result<Listed, AuthApiError> {
    let mut conn = leadgen_db::conn(&state.pool).await?;
    let row = repo::find_for_tenant(&mut conn, tenant, id)
        .await?
        .ok_or(AuthApiError::PlatformNotFound)?;
    let mut listed = with_last_syncs(&mut conn, tenant, vec![row]).await?;
    listed.pop().ok_or(AuthApiError::PlatformNotFound)
}

/// `****abcd`: the last four characters only, and never more than a third of the key, so
/// that a short key is not shown whole (`k` → `****`).
fn hint(app_key: &str) -> String {
    let chars: Vec<char> = app_key.chars().collect();
    let shown = (chars.len() / 3).min(4);
    let tail: String = chars[chars.len() - shown..].iter().collect();
    format!("****{tail}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_hint_never_shows_more_than_a_third_of_the_key() {
        assert_eq!(super::hint("app-key-1234abcd"), "****abcd");
        assert_eq!(super::hint("123456789012"), "****9012");
        assert_eq!(super::hint("12345678"), "****78");
        assert_eq!(super::hint("k"), "****");
        assert_eq!(super::hint(""), "****");
    }
}
