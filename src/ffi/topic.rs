//! Topic checks without a client: an application (or a command line) can refuse a bad
//! topic before it connects, with the same rules and words as a publish or subscribe.

use std::ffi::c_char;

use super::ptr::str_arg;
use super::result::{FfiError, guard, midge_result};
use crate::codec::topic::{validate_topic_filter, validate_topic_name};
use crate::protocol::RequestError;

/// Checks a topic name as `midge_client_publish` does (4.7: not empty, no wildcard, no
/// U+0000, at most 65,535 bytes): `MIDGE_RESULT_OK`, else `MIDGE_RESULT_INVALID_TOPIC`
/// (or `MIDGE_RESULT_INVALID_UTF8`, `MIDGE_RESULT_INVALID_ARGUMENT` for NULL) with
/// `midge_last_error_message()` saying why.
#[unsafe(no_mangle)]
pub extern "C" fn midge_topic_name_check(topic: *const c_char) -> midge_result {
    guard(|| {
        let topic = str_arg(topic, "topic")?;
        validate_topic_name(topic)
            .map_err(|e| FfiError::from(crate::Error::from(RequestError::InvalidTopic(e))))
    })
}

/// Checks a topic filter as `midge_client_subscribe` does (4.7: wildcards only as whole
/// levels, `#` last, a valid shared subscription `$share/name/filter`): `MIDGE_RESULT_OK`,
/// else `MIDGE_RESULT_INVALID_TOPIC` (or `MIDGE_RESULT_INVALID_UTF8`,
/// `MIDGE_RESULT_INVALID_ARGUMENT` for NULL) with `midge_last_error_message()` saying why.
#[unsafe(no_mangle)]
pub extern "C" fn midge_topic_filter_check(filter: *const c_char) -> midge_result {
    guard(|| {
        let filter = str_arg(filter, "topic filter")?;
        validate_topic_filter(filter)
            .map_err(|e| FfiError::from(crate::Error::from(RequestError::InvalidTopicFilter(e))))
    })
}
