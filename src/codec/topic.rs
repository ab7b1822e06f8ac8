//! Topic Names and Topic Filters (4.7, 4.8.2): validation and matching.

/// Why a topic name or filter is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    #[error("topic is empty")]
    Empty,
    #[error("topic is longer than 65,535 bytes")]
    TooLong,
    #[error("topic contains U+0000")]
    NullCharacter,
    #[error("topic name contains a wildcard")]
    WildcardInTopicName,
    #[error("'#' must be the last level, alone in it")]
    MultiLevelWildcardNotLast,
    #[error("'+' must occupy a whole level")]
    SingleLevelWildcardNotAlone,
    #[error("shared subscription has an empty share name")]
    EmptyShareName,
    #[error("share name contains '/', '+' or '#'")]
    InvalidShareName,
    #[error("shared subscription has no topic filter")]
    SharedWithoutFilter,
}

impl TopicError {
    pub fn spec_ref(self) -> &'static str {
        match self {
            Self::Empty => "MQTT-4.7.3-1",
            Self::TooLong => "1.5.4",
            Self::NullCharacter => "MQTT-4.7.3-2",
            Self::WildcardInTopicName => "MQTT-3.3.2-2",
            Self::MultiLevelWildcardNotLast => "MQTT-4.7.1-1",
            Self::SingleLevelWildcardNotAlone => "MQTT-4.7.1-2",
            Self::EmptyShareName | Self::InvalidShareName | Self::SharedWithoutFilter => {
                "MQTT-4.8.2-1"
            }
        }
    }
}

fn check_common(s: &str) -> Result<(), TopicError> {
    if s.is_empty() {
        return Err(TopicError::Empty);
    }
    if s.len() > 65_535 {
        return Err(TopicError::TooLong);
    }
    if s.as_bytes().contains(&0) {
        return Err(TopicError::NullCharacter);
    }
    Ok(())
}

pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
    check_common(name)?;
    if name.bytes().any(|b| b == b'+' || b == b'#') {
        return Err(TopicError::WildcardInTopicName);
    }
    Ok(())
}

pub fn validate_topic_filter(filter: &str) -> Result<(), TopicError> {
    check_common(filter)?;
    let plain = match filter.strip_prefix("$share/") {
        Some(rest) => {
            let (share, f) = rest.split_once('/').ok_or(if rest.is_empty() {
                TopicError::EmptyShareName
            } else {
                TopicError::SharedWithoutFilter
            })?;
            if share.is_empty() {
                return Err(TopicError::EmptyShareName);
            }
            if share.contains(['+', '#']) {
                return Err(TopicError::InvalidShareName);
            }
            if f.is_empty() {
                return Err(TopicError::SharedWithoutFilter);
            }
            f
        }
        None => filter,
    };
    let mut levels = plain.split('/').peekable();
    while let Some(level) = levels.next() {
        if level.contains('#') && (level != "#" || levels.peek().is_some()) {
            return Err(TopicError::MultiLevelWildcardNotLast);
        }
        if level.contains('+') && level != "+" {
            return Err(TopicError::SingleLevelWildcardNotAlone);
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedFilter<'a> {
    pub share_name: &'a str,
    pub filter: &'a str,
}

pub fn parse_shared(filter: &str) -> Option<SharedFilter<'_>> {
    let rest = filter.strip_prefix("$share/")?;
    let (share_name, filter) = rest.split_once('/')?;
    Some(SharedFilter { share_name, filter })
}

pub fn topic_matches(filter: &str, name: &str) -> bool {
    let filter = parse_shared(filter).map_or(filter, |s| s.filter);
    if name.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut n = name.split('/');
    loop {
        match (f.next(), n.next()) {
            (Some("#"), _) | (None, None) => return true,
            (Some(fl), Some(nl)) if fl == "+" || fl == nl => {}
            _ => return false,
        }
    }
}
