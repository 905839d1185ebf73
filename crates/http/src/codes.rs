//! Business error codes: the one list the front end and support rely on. Generic outcomes use
//! the HTTP status as `code`; specific business errors use a stable five-digit code whose first
//! three digits are the HTTP status. `docs/api-conventions.md` publishes this table.

/// One business code and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusinessCode {
    pub code: u32,
    pub status: u16,
    /// The default message (Simplified Chinese).
    pub message: &'static str,
}

macro_rules! codes {
    ($($(#[$m:meta])* $name:ident = ($code:literal, $status:literal, $msg:literal);)+) => {
        $($(#[$m])* pub const $name: BusinessCode = BusinessCode { code: $code, status: $status, message: $msg };)+
        /// Every business code.
        pub const ALL: &[BusinessCode] = &[$($name),+];
    };
}

codes! {
    /// The platform authorization is not ACTIVE, so it cannot sync.
    PLATFORM_NOT_ACTIVE = (40001, 400, "该店铺尚未完成授权或授权已失效，请重新授权后再试");
    /// The OAuth callback's state is unknown, used or expired.
    OAUTH_STATE_INVALID = (40002, 400, "授权回调无效或已过期，请重新发起授权");
    /// The platform refused to exchange the authorization code.
    OAUTH_EXCHANGE_FAILED = (40003, 400, "电商平台授权失败，请重新授权");
    /// The sync window resumed from the last sync is invalid (its start not before the given end).
    SYNC_WINDOW_INVALID = (40004, 400, "同步时间范围不合法");
    /// The platform type has no adapter yet.
    PLATFORM_NOT_SUPPORTED = (40005, 400, "暂不支持该电商平台");
    /// The platform does not permit decrypting a contact for this purpose.
    REVEAL_PURPOSE_NOT_PERMITTED = (
        40006,
        400,
        "该电商平台不允许以所选用途查看号码，请更换用途后重试"
    );
    /// The lead has no contact that could be revealed.
    NOTHING_TO_REVEAL = (40007, 400, "该线索没有可查看的号码");
    /// The shop is paused (DISABLED): enable it before syncing.
    SHOP_DISABLED = (40009, 400, "该店铺已停用，请先启用后再同步");
    /// The platform cannot decrypt this contact for good (the order is past its decrypt
    /// period, no longer the order's receiver), or answered a number nobody can dial.
    CONTACT_NOT_DECRYPTABLE = (40010, 400, "电商平台无法提供该买家可拨打的号码（如订单已超过可解密期限或隐私号已失效），请改用其他方式联系");
    /// The page asked for lies beyond the list's browsing window (the first 2,000 leads).
    PAGE_BEYOND_WINDOW = (40008, 400, "只能浏览前 2000 条结果，请缩小筛选条件后再翻页");
    /// The page lies beyond the browsing window of the operation log or the sync records
    /// ([`crate::paging::RECORDS_WINDOW`]) and more records match.
    PAGE_BEYOND_RECORDS_WINDOW = (
        40011,
        400,
        "只能浏览前 10000 条记录，请缩小时间范围等筛选条件后再翻页"
    );
    /// The platform refused to decrypt (the scene or the API is not granted to the app).
    PLATFORM_DECRYPT_REFUSED = (40301, 403, "电商平台不允许查看该号码，请联系管理员确认应用已开通号码解密权限");
    /// A sync is already running for this platform authorization.
    SYNC_ALREADY_RUNNING = (40901, 409, "该店铺正在同步订单，请等本次同步完成后再试");
    /// The sync task already ended (completed, failed or cancelled): nothing to cancel.
    SYNC_ALREADY_FINISHED = (40904, 409, "该同步任务已结束，无法取消");
    /// The lead changed since the version the caller sent (If-Match).
    LEAD_VERSION_CONFLICT = (40902, 409, "线索的处理状态已被修改，请刷新后重试");
    /// The lead turned out to be the same buyer as another lead and was merged into it.
    LEAD_MERGED = (40903, 409, "该线索已与同一买家的另一条线索合并，请在合并后的线索上操作");
    /// The user used up today's reveals.
    REVEAL_USER_LIMIT = (
        42901,
        429,
        "您今日查看号码的次数已用完（按完整手机号搜索也计入），请明日再试"
    );
    /// The tenant used up today's reveals.
    REVEAL_TENANT_LIMIT = (
        42902,
        429,
        "本企业今日查看号码的次数已用完，请明日再试"
    );
    /// The platform's decrypt quota is used up.
    PLATFORM_DECRYPT_QUOTA = (
        42903,
        429,
        "电商平台今日可查看号码的额度已用完或请求过于频繁，请稍后再试"
    );
    /// Too many of the tenant's reveals in flight at once: wait a moment.
    REVEAL_BUSY = (42904, 429, "本企业同时查看号码的请求过多，请稍后重试");
    /// A search by a full mobile number past the different numbers the tenant may search behind
    /// one mask today.
    SEARCH_MASK_LIMIT = (
        42905,
        429,
        "本企业今日搜索的与该号码前三位、后四位相同的不同号码已达上限，请明日再试"
    );
    /// Too many of the tenant's new authorizations wait for their consent (`[oauth]
    /// max_pending_per_tenant`): complete one, or wait until the oldest lapses.
    PENDING_AUTH_LIMIT = (
        42906,
        429,
        "本企业待完成授权的店铺过多，请先完成已发起的授权，或等待其失效后再试"
    );
    /// The tenant's requests came faster than `[http] tenant_requests_per_second` (past its
    /// burst) on one process: wait `Retry-After`.
    TENANT_THROTTLED = (42907, 429, "本企业的请求过于频繁，请稍后重试");
    /// A status change without the lead's version (If-Match).
    LEAD_VERSION_REQUIRED = (42801, 428, "请在 If-Match 中带上线索版本（线索详情的 version）");
    /// The e-commerce platform's API failed.
    PLATFORM_API_FAILED = (50201, 502, "电商平台接口调用失败，请稍后重试");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_start_with_their_status() {
        let mut seen = std::collections::HashSet::new();
        for c in ALL {
            assert!(seen.insert(c.code), "duplicate code {}", c.code);
            assert_eq!(
                c.code / 100,
                u32::from(c.status),
                "code {} vs status {}",
                c.code,
                c.status
            );
        }
    }

    #[test]
    fn every_code_is_documented_in_the_conventions() {
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/api-conventions.md"
        ))
        .expect("docs/api-conventions.md");
        for c in ALL {
            assert!(
                doc.contains(&c.code.to_string()),
                "code {} is not in docs/api-conventions.md",
                c.code
            );
        }
    }
}
