//! The request bodies' field checks (`validator` custom functions): a value outside its
//! allowed set is a validation error (422, every failed field listed), as a missing one is.

use std::borrow::Cow;

use leadgen_domain::LeadProcessStatus;
use leadgen_platforms::reveal::RevealPurpose;
use validator::ValidationError;

fn invalid(code: &'static str, message: &'static str) -> ValidationError {
    ValidationError::new(code).with_message(Cow::Borrowed(message))
}

pub const PROCESS_STATUS_MESSAGE: &str = "processStatus 必须是 PENDING、PROCESSED 或 INVALID";
pub const PURPOSE_MESSAGE: &str = "purpose 必须是 AFTER_SALES、CUSTOMER_CARE 或 FULFILMENT";

/// A free text a salesperson typed (a status note, a reveal's reason) as stored and shown:
/// trimmed, absent when blank, and any phone number in it masked
/// ([`leadgen_domain::contact::mask_phones_in`]).
pub fn free_text(value: Option<String>) -> Option<String> {
    let value = value?;
    let value = value.trim();
    (!value.is_empty()).then(|| leadgen_domain::contact::mask_phones_in(value).into_owned())
}

/// `processStatus` must name a process status (surrounding white space ignored).
pub fn process_status(value: &str) -> Result<(), ValidationError> {
    value
        .trim()
        .parse::<LeadProcessStatus>()
        .map(|_| ())
        .map_err(|_| invalid("process_status", PROCESS_STATUS_MESSAGE))
}

/// `purpose` must name a reveal purpose (surrounding white space ignored).
pub fn purpose(value: &str) -> Result<(), ValidationError> {
    value
        .trim()
        .parse::<RevealPurpose>()
        .map(|_| ())
        .map_err(|_| invalid("purpose", PURPOSE_MESSAGE))
}

/// No lead twice in one bulk request.
pub fn unique<T: PartialEq>(ids: impl IntoIterator<Item = T>) -> Result<(), ValidationError> {
    let ids: Vec<T> = ids.into_iter().collect();
    let repeated = ids.iter().enumerate().any(|(i, id)| ids[..i].contains(id));
    if repeated {
        Err(invalid("unique", "items 中的 leadId 不能重复"))
    } else {
        Ok(())
    }
}

/// A body taken as a `Result` (so that a permission refusal is answered, and audited, before
/// it), read and checked: its own refusal as the extractor answered it, every failed field.
pub fn checked_body<T: validator::Validate>(
    body: Result<leadgen_http::body::Json<T>, actix_web::Error>,
) -> Result<T, leadgen_http::ApiError> {
    let body = body
        .map_err(|e| match e.as_error::<leadgen_http::ApiError>() {
            Some(refused) => refused.clone(),
            None => leadgen_http::ApiError::bad_request("请求体不是合法的 JSON"),
        })?
        .into_inner();
    body.validate()
        .map_err(|e| leadgen_http::error::from_validation(&e))?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_purposes_are_checked_after_trimming() {
        assert!(process_status(" PROCESSED\n").is_ok());
        assert!(process_status("DONE").is_err());
        assert!(purpose("FULFILMENT").is_ok());
        assert!(purpose("CHAT").is_err());
    }

    #[test]
    fn a_repeated_id_is_refused() {
        assert!(unique([1, 2, 3]).is_ok());
        assert!(unique([1, 2, 1]).is_err());
        assert!(unique(Vec::<i64>::new()).is_ok());
    }
}
