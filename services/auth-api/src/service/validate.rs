//! Custom field validations used by the request types.

use std::borrow::Cow;

use leadgen_domain::PlatformType;
use validator::ValidationError;

/// `platformType` must name a platform.
pub fn platform_type(value: &str) -> Result<(), ValidationError> {
    value.parse::<PlatformType>().map(|_| ()).map_err(|_| {
        let mut e = ValidationError::new("platform_type");
        e.message = Some(Cow::Borrowed(
            "platformType 必须是 TAOBAO、JD、PDD、DOUYIN 或 KUAISHOU",
        ));
        e
    })
}
