//! Topic Names and Topic Filters (4.7) and Shared Subscription filters (4.8.2): validation
//! and matching.
//!
//! Contract:
//! - [`validate_topic_name`] accepts exactly the strings the standard allows as a Topic Name
//!   (PUBLISH, Will Topic, Response Topic) and [`validate_topic_filter`] exactly those it allows
//!   as a Topic Filter (SUBSCRIBE, UNSUBSCRIBE), the `$share/{ShareName}/{filter}` form of 4.8.2
//!   included. A rejection is a [`TopicError`] that names the broken rule
//!   ([`TopicError::spec_ref`]). Both are total and allocation-free.
//! - [`parse_shared`] splits a Shared Subscription filter into its share name and its Topic
//!   Filter without validating either.
//! - [`topic_matches`] says whether a valid Topic Name matches a valid Topic Filter under the
//!   rules of 4.7: byte-exact and case-sensitive levels with no normalization
//!   [MQTT-4.7.3-4], `+` for exactly one level, `#` for the parent level and any number of
//!   child levels, and no match of a leading wildcard against a Topic Name that starts with `$`
//!   [MQTT-4.7.2-1]. It never panics and never allocates, whatever its input; on invalid input
//!   its answer is unspecified.
//!
//! Levels are the substrings between `/` separators (4.7.1.1), so a leading, trailing or
//! doubled `/` makes an empty level and every such string is a distinct, valid topic (4.7.3).
//! A `&str` is well-formed UTF-8 already [MQTT-1.5.4-1]; lengths are counted in its UTF-8 bytes.

/// The most bytes a Topic Name or Topic Filter may encode to: a UTF-8 Encoded String's
/// two-byte length prefix (1.5.4) [MQTT-4.7.3-3].
const MAX_LEN: usize = 65_535;

/// What a Shared Subscription's Topic Filter starts with (4.8.2), matched exactly and
/// case-sensitively.
const SHARE_PREFIX: &str = "$share/";

/// Why a topic name or filter is invalid. Each variant's Display says the rule in plain words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// The name or filter is the empty string [MQTT-4.7.3-1].
    #[error("a topic name or topic filter must be at least one character long")]
    Empty,
    /// The name or filter encodes to more than 65,535 bytes of UTF-8 [MQTT-4.7.3-3] (1.5.4).
    #[error("a topic name or topic filter must not encode to more than 65,535 bytes of UTF-8")]
    TooLong,
    /// The name or filter contains U+0000 [MQTT-4.7.3-2].
    #[error("a topic name or topic filter must not contain the null character U+0000")]
    NullCharacter,
    /// A Topic Name contains `+` or `#` [MQTT-4.7.0-1] (for PUBLISH also [MQTT-3.3.2-2]).
    #[error("a topic name must not contain the wildcard characters '+' or '#'")]
    WildcardInTopicName,
    /// A `#` in a Topic Filter is not alone in its level, or not in the last level
    /// [MQTT-4.7.1-1].
    #[error("the multi-level wildcard '#' must be alone in the last level of a topic filter")]
    MultiLevelWildcardNotLast,
    /// A `+` in a Topic Filter shares its level with other characters [MQTT-4.7.1-2].
    #[error("the single-level wildcard '+' must occupy an entire level of a topic filter")]
    SingleLevelWildcardNotAlone,
    /// A `$share/` filter has an empty share name [MQTT-4.8.2-1].
    #[error("the ShareName of a shared subscription must be at least one character long")]
    EmptyShareName,
    /// A share name contains `+` or `#` [MQTT-4.8.2-2]. (A `/` ends the share name, so it
    /// cannot be inside one.)
    #[error("the ShareName of a shared subscription must not contain '/', '+' or '#'")]
    InvalidShareName,
    /// A `$share/{ShareName}` is not followed by `/` and a non-empty Topic Filter
    /// [MQTT-4.8.2-2].
    #[error(
        "the ShareName of a shared subscription must be followed by '/' and a non-empty topic filter"
    )]
    SharedWithoutFilter,
}

impl TopicError {
    /// The normative statement (e.g. "MQTT-4.7.1-1") or section ("1.5.4") this error enforces.
    #[must_use]
    pub fn spec_ref(self) -> &'static str {
        match self {
            Self::Empty => "MQTT-4.7.3-1",
            Self::TooLong => "MQTT-4.7.3-3",
            Self::NullCharacter => "MQTT-4.7.3-2",
            Self::WildcardInTopicName => "MQTT-4.7.0-1",
            Self::MultiLevelWildcardNotLast => "MQTT-4.7.1-1",
            Self::SingleLevelWildcardNotAlone => "MQTT-4.7.1-2",
            Self::EmptyShareName => "MQTT-4.8.2-1",
            Self::InvalidShareName | Self::SharedWithoutFilter => "MQTT-4.8.2-2",
        }
    }
}

/// The rules every Topic Name and Topic Filter obeys (4.7.3), checked in this order: not
/// empty, at most 65,535 bytes, no U+0000.
fn check_string(s: &str) -> Result<(), TopicError> {
    if s.is_empty() {
        Err(TopicError::Empty)
    } else if s.len() > MAX_LEN {
        Err(TopicError::TooLong)
    } else if s.as_bytes().contains(&0) {
        Err(TopicError::NullCharacter)
    } else {
        Ok(())
    }
}

/// Validates a Topic Name (as in PUBLISH, Will Topic, Response Topic). Empty levels
/// ("a//b", "/a", "a/") are allowed.
///
/// # Errors
///
/// [`TopicError::Empty`], [`TopicError::TooLong`] or [`TopicError::NullCharacter`] when the
/// string breaks a rule of 4.7.3 (checked in that order), else
/// [`TopicError::WildcardInTopicName`] when it contains `+` or `#`.
pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
    check_string(name)?;
    if name.bytes().any(|b| matches!(b, b'+' | b'#')) {
        return Err(TopicError::WildcardInTopicName);
    }
    Ok(())
}

/// Validates a Topic Filter (SUBSCRIBE, UNSUBSCRIBE), including the `$share/{ShareName}/{filter}`
/// form.
///
/// A filter counts as shared exactly when it starts with `$share/` (case-sensitive); any other
/// filter, `$SHARE/a/b` or `$share` included, is an ordinary one.
///
/// # Errors
///
/// Checked in this order: [`TopicError::Empty`], [`TopicError::TooLong`] and
/// [`TopicError::NullCharacter`] on the whole string; for a shared filter
/// [`TopicError::EmptyShareName`], [`TopicError::InvalidShareName`] and
/// [`TopicError::SharedWithoutFilter`]; then, level by level from the left,
/// [`TopicError::MultiLevelWildcardNotLast`] or [`TopicError::SingleLevelWildcardNotAlone`].
pub fn validate_topic_filter(filter: &str) -> Result<(), TopicError> {
    check_string(filter)?;
    let plain = match parse_shared(filter) {
        None => filter,
        Some(SharedFilter { share_name, filter }) => {
            if share_name.is_empty() {
                return Err(TopicError::EmptyShareName);
            }
            if share_name.bytes().any(|b| matches!(b, b'+' | b'#')) {
                return Err(TopicError::InvalidShareName);
            }
            if filter.is_empty() {
                return Err(TopicError::SharedWithoutFilter);
            }
            filter
        }
    };
    let mut levels = plain.as_bytes().split(|&b| b == b'/').peekable();
    while let Some(level) = levels.next() {
        match level {
            b"+" => {}
            b"#" if levels.peek().is_none() => {}
            _ if level.contains(&b'#') => return Err(TopicError::MultiLevelWildcardNotLast),
            _ if level.contains(&b'+') => return Err(TopicError::SingleLevelWildcardNotAlone),
            _ => {}
        }
    }
    Ok(())
}

/// A shared subscription filter split into its parts; `None` from [`parse_shared`] when
/// `filter` does not start with `"$share/"`. Does not validate: call [`validate_topic_filter`]
/// first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedFilter<'a> {
    /// The share name: what lies between `$share/` and the next `/`.
    pub share_name: &'a str,
    /// The Topic Filter after that `/`; empty when there is no such `/` or nothing follows it.
    pub filter: &'a str,
}

/// Splits `filter` into a [`SharedFilter`] when it starts with `$share/` (exactly,
/// case-sensitively), else returns `None`.
///
/// The share name runs up to the first `/` after the prefix and the Topic Filter is everything
/// after that `/`. Nothing is validated: `"$share/group"` gives share name `"group"` and an
/// empty filter, which [`validate_topic_filter`] rejects.
#[must_use]
pub fn parse_shared(filter: &str) -> Option<SharedFilter<'_>> {
    let rest = filter.strip_prefix(SHARE_PREFIX)?;
    let (share_name, filter) = rest.split_once('/').unwrap_or((rest, ""));
    Some(SharedFilter { share_name, filter })
}

/// Whether a (valid) Topic Name matches a (valid) Topic Filter per 4.7: '+' matches exactly
/// one level (including an empty one), '#' matches the parent level and any number of child
/// levels ("sport/#" matches "sport"), and a filter starting with a wildcard does not match
/// topic names beginning with '$' [MQTT-4.7.2-1]. For a shared filter ("$share/g/a/+"),
/// matching uses the part after the share name.
///
/// Levels compare byte for byte: matching is case-sensitive and does no Unicode
/// normalization [MQTT-4.7.3-4], and `$` is special only as the first character of the name.
/// Never panics, allocation-free. On an invalid name or filter the answer is unspecified,
/// except that a `#` that is not the last level never matches anything.
#[must_use]
pub fn topic_matches(filter: &str, name: &str) -> bool {
    let filter = parse_shared(filter).map_or(filter, |shared| shared.filter);
    if name.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut filter_levels = filter.split('/');
    let mut name_levels = name.split('/');
    loop {
        match (filter_levels.next(), name_levels.next()) {
            // '#' stands for this level and everything below it, zero levels included.
            (Some("#"), _) => return filter_levels.next().is_none(),
            (None, None) => return true,
            (Some(f), Some(n)) if f == "+" || f == n => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts that every filter in `filters` matches `name`, or none does.
    #[track_caller]
    fn assert_matches(filters: &[&str], name: &str, expected: bool) {
        for filter in filters {
            assert_eq!(
                topic_matches(filter, name),
                expected,
                "topic_matches({filter:?}, {name:?})"
            );
        }
    }

    #[track_caller]
    fn assert_valid_filters(filters: &[&str]) {
        for filter in filters {
            assert_eq!(validate_topic_filter(filter), Ok(()), "filter {filter:?}");
        }
    }

    #[track_caller]
    fn assert_filter_error(filters: &[&str], error: TopicError) {
        for filter in filters {
            assert_eq!(
                validate_topic_filter(filter),
                Err(error),
                "filter {filter:?}"
            );
        }
    }

    // ------------------------------------------------------------------------------------
    // The errors themselves
    // ------------------------------------------------------------------------------------

    #[test]
    fn every_error_has_its_spec_ref_and_plain_words() {
        let table = [
            (
                TopicError::Empty,
                "MQTT-4.7.3-1",
                "a topic name or topic filter must be at least one character long",
            ),
            (
                TopicError::TooLong,
                "MQTT-4.7.3-3",
                "a topic name or topic filter must not encode to more than 65,535 bytes of UTF-8",
            ),
            (
                TopicError::NullCharacter,
                "MQTT-4.7.3-2",
                "a topic name or topic filter must not contain the null character U+0000",
            ),
            (
                TopicError::WildcardInTopicName,
                "MQTT-4.7.0-1",
                "a topic name must not contain the wildcard characters '+' or '#'",
            ),
            (
                TopicError::MultiLevelWildcardNotLast,
                "MQTT-4.7.1-1",
                "the multi-level wildcard '#' must be alone in the last level of a topic filter",
            ),
            (
                TopicError::SingleLevelWildcardNotAlone,
                "MQTT-4.7.1-2",
                "the single-level wildcard '+' must occupy an entire level of a topic filter",
            ),
            (
                TopicError::EmptyShareName,
                "MQTT-4.8.2-1",
                "the ShareName of a shared subscription must be at least one character long",
            ),
            (
                TopicError::InvalidShareName,
                "MQTT-4.8.2-2",
                "the ShareName of a shared subscription must not contain '/', '+' or '#'",
            ),
            (
                TopicError::SharedWithoutFilter,
                "MQTT-4.8.2-2",
                "the ShareName of a shared subscription must be followed by '/' and a non-empty \
                 topic filter",
            ),
        ];
        for (error, spec_ref, text) in table {
            assert_eq!(error.spec_ref(), spec_ref, "{error:?}");
            assert_eq!(error.to_string(), text, "{error:?}");
        }
    }

    // ------------------------------------------------------------------------------------
    // 4.7.3 rules common to names and filters
    // ------------------------------------------------------------------------------------

    #[test]
    fn empty_is_rejected() {
        // [MQTT-4.7.3-1]
        assert_eq!(validate_topic_name(""), Err(TopicError::Empty));
        assert_eq!(validate_topic_filter(""), Err(TopicError::Empty));
        // One character is enough, even when it is the separator alone (4.7.3).
        assert_eq!(validate_topic_name("/"), Ok(()));
        assert_eq!(validate_topic_filter("/"), Ok(()));
        assert_eq!(validate_topic_name(" "), Ok(()));
    }

    #[test]
    fn null_character_is_rejected() {
        // [MQTT-4.7.3-2]
        for s in ["\0", "a\0b", "a/\0", "\0/a"] {
            assert_eq!(
                validate_topic_name(s),
                Err(TopicError::NullCharacter),
                "{s:?}"
            );
            assert_eq!(
                validate_topic_filter(s),
                Err(TopicError::NullCharacter),
                "{s:?}"
            );
        }
        assert_filter_error(
            &["a/\0/#", "$share/g\0/a", "$share/g/\0"],
            TopicError::NullCharacter,
        );
        // Other control characters are allowed by 4.7 (1.5.4 only says SHOULD NOT).
        assert_eq!(validate_topic_name("a\u{1}b"), Ok(()));
    }

    #[test]
    fn length_limit_counts_utf8_bytes() {
        // [MQTT-4.7.3-3] / 1.5.4: at most 65,535 bytes of UTF-8.
        let max = "a".repeat(65_535);
        let over = "a".repeat(65_536);
        assert_eq!(validate_topic_name(&max), Ok(()));
        assert_eq!(validate_topic_filter(&max), Ok(()));
        assert_eq!(validate_topic_name(&over), Err(TopicError::TooLong));
        assert_eq!(validate_topic_filter(&over), Err(TopicError::TooLong));

        // Bytes, not characters: 21,845 three-byte '€' are 65,535 bytes, one more byte is too
        // many, and 32,768 two-byte 'é' are 65,536 bytes although only 32,768 characters.
        let euros = "€".repeat(21_845);
        assert_eq!(euros.len(), 65_535);
        assert_eq!(validate_topic_name(&euros), Ok(()));
        assert_eq!(
            validate_topic_name(&(euros + "a")),
            Err(TopicError::TooLong)
        );
        let accents = "é".repeat(32_768);
        assert_eq!(accents.chars().count(), 32_768);
        assert_eq!(validate_topic_name(&accents), Err(TopicError::TooLong));

        // A filter's limit covers the whole string, wildcards and "$share/" prefix included.
        let filter = format!("{}/#", "a".repeat(65_533));
        assert_eq!(validate_topic_filter(&filter), Ok(()));
        let filter = format!("{}/#", "a".repeat(65_534));
        assert_eq!(validate_topic_filter(&filter), Err(TopicError::TooLong));
        let shared = format!("$share/g/{}", "a".repeat(65_535 - 9));
        assert_eq!(shared.len(), 65_535);
        assert_eq!(validate_topic_filter(&shared), Ok(()));
        let shared = format!("$share/g/{}", "a".repeat(65_536 - 9));
        assert_eq!(validate_topic_filter(&shared), Err(TopicError::TooLong));
    }

    #[test]
    fn common_rules_are_checked_first_in_a_fixed_order() {
        // Empty, then TooLong, then NullCharacter, then the rules of the name or filter.
        let long_with_everything = format!("\0+#/{}", "a".repeat(65_535));
        assert_eq!(
            validate_topic_name(&long_with_everything),
            Err(TopicError::TooLong)
        );
        assert_eq!(
            validate_topic_filter(&long_with_everything),
            Err(TopicError::TooLong)
        );
        assert_eq!(validate_topic_name("+\0"), Err(TopicError::NullCharacter));
        assert_eq!(
            validate_topic_filter("#/a\0"),
            Err(TopicError::NullCharacter)
        );
        assert_eq!(
            validate_topic_filter("$share//\0"),
            Err(TopicError::NullCharacter)
        );
        // Within a filter, levels are checked from the left.
        assert_eq!(
            validate_topic_filter("a+/#/b"),
            Err(TopicError::SingleLevelWildcardNotAlone)
        );
        assert_eq!(
            validate_topic_filter("#/a+"),
            Err(TopicError::MultiLevelWildcardNotLast)
        );
    }

    // ------------------------------------------------------------------------------------
    // Topic Names
    // ------------------------------------------------------------------------------------

    #[test]
    fn topic_names_allow_empty_levels_spaces_dollars_and_any_unicode() {
        for name in [
            "sport/tennis/player1",
            "a//b",
            "/a",
            "a/",
            "/",
            "//",
            "/finance",
            "sport/",
            "a b/ c ",
            "$SYS/monitor/Clients",
            "$",
            "a/$b",
            "$share/g/a",
            "ü/€/𝄞/\u{FEFF}",
            "ACCOUNTS",
        ] {
            assert_eq!(validate_topic_name(name), Ok(()), "{name:?}");
        }
    }

    #[test]
    fn topic_names_reject_wildcards() {
        // [MQTT-4.7.0-1], [MQTT-3.3.2-2]: not even alone in a level, nor inside one.
        for name in [
            "+",
            "#",
            "sport/+",
            "sport/tennis/#",
            "+/tennis",
            "sport+",
            "a#b",
            "$SYS/#",
            "$share/g/+",
        ] {
            assert_eq!(
                validate_topic_name(name),
                Err(TopicError::WildcardInTopicName),
                "{name:?}"
            );
        }
    }

    // ------------------------------------------------------------------------------------
    // 4.7.1.2 Multi-level wildcard
    // ------------------------------------------------------------------------------------

    #[test]
    fn multi_level_wildcard_placement() {
        // [MQTT-4.7.1-1] "#" on its own or after a '/', and the last character.
        assert_valid_filters(&[
            "#",
            "sport/tennis/#",
            "sport/#",
            "sport/tennis/player1/#",
            "/#",
            "//#",
            "+/#",
            "+/tennis/#",
            "$SYS/#",
        ]);
        assert_filter_error(
            &[
                "sport/tennis#",
                "sport/tennis/#/ranking",
                "#/a",
                "#/",
                "a/#/",
                "a/#b",
                "a/b#",
                "##",
                "+#",
                "#+",
                "a/#/#",
            ],
            TopicError::MultiLevelWildcardNotLast,
        );
    }

    #[test]
    fn multi_level_wildcard_matching_spec_examples() {
        // 4.7.1.2: "sport/tennis/player1/#" receives all three, and "#" matches the parent.
        let filter = ["sport/tennis/player1/#"];
        assert_matches(&filter, "sport/tennis/player1", true);
        assert_matches(&filter, "sport/tennis/player1/ranking", true);
        assert_matches(&filter, "sport/tennis/player1/score/wimbledon", true);
        assert_matches(&filter, "sport/tennis/player2", false);
        assert_matches(&filter, "sport/tennis", false);
        assert_matches(&filter, "sport/tennis/player11", false);
        // "sport/#" also matches the singular "sport".
        assert_matches(&["sport/#"], "sport", true);
        assert_matches(&["sport/#"], "sport/", true);
        assert_matches(&["sport/#"], "sport//", true);
        assert_matches(&["sport/#"], "sports", false);
        assert_matches(&["sport/#"], "sport+", false);
        assert_matches(&["sport/#"], "Sport", false);
        // "#" matches every (non-'$') topic.
        for name in ["a", "/", "//", "/a", "a/", "sport/tennis/player1", "a/$SYS"] {
            assert_matches(&["#"], name, true);
        }
    }

    // ------------------------------------------------------------------------------------
    // 4.7.1.3 Single-level wildcard
    // ------------------------------------------------------------------------------------

    #[test]
    fn single_level_wildcard_placement() {
        // [MQTT-4.7.1-2] "+" occupies an entire level, at any level, first and last included.
        assert_valid_filters(&[
            "+",
            "+/tennis/#",
            "sport/+/player1",
            "+/+",
            "/+",
            "+/",
            "+//+",
            "a/+/+/b",
            "sport/tennis/+",
        ]);
        assert_filter_error(
            &["sport+", "+sport", "a/b+/c", "a/+b", "++", "a/+/b+", "+ "],
            TopicError::SingleLevelWildcardNotAlone,
        );
    }

    #[test]
    fn single_level_wildcard_matching_spec_examples() {
        // 4.7.1.3
        let filter = ["sport/tennis/+"];
        assert_matches(&filter, "sport/tennis/player1", true);
        assert_matches(&filter, "sport/tennis/player2", true);
        assert_matches(&filter, "sport/tennis/player1/ranking", false);
        assert_matches(&filter, "sport/tennis", false);
        // "sport/+" does not match "sport" but does match "sport/".
        assert_matches(&["sport/+"], "sport", false);
        assert_matches(&["sport/+"], "sport/", true);
        // "/finance" matches "+/+" and "/+", but not "+".
        assert_matches(&["+/+", "/+"], "/finance", true);
        assert_matches(&["+"], "/finance", false);
        // "sport/+/player1" from the list of valid filters.
        assert_matches(&["sport/+/player1"], "sport/tennis/player1", true);
        assert_matches(&["sport/+/player1"], "sport//player1", true);
        assert_matches(&["sport/+/player1"], "sport/tennis/player2", false);
        assert_matches(&["sport/+/player1"], "sport/tennis/x/player1", false);
        // "+/tennis/#" from the list of valid filters.
        assert_matches(&["+/tennis/#"], "sport/tennis", true);
        assert_matches(&["+/tennis/#"], "sport/tennis/player1/ranking", true);
        assert_matches(&["+/tennis/#"], "sport/golf", false);
    }

    // ------------------------------------------------------------------------------------
    // Exact levels, empty levels, case and normalization
    // ------------------------------------------------------------------------------------

    #[test]
    fn empty_levels_are_levels() {
        // 4.7.3: a leading or trailing '/' makes a distinct topic.
        assert_matches(&["a//b"], "a//b", true);
        assert_matches(&["a//b"], "a/b", false);
        assert_matches(&["a/b"], "a//b", false);
        assert_matches(&["/a"], "/a", true);
        assert_matches(&["/a"], "a", false);
        assert_matches(&["a/"], "a", false);
        assert_matches(&["a"], "a/", false);
        assert_matches(&["/"], "/", true);
        assert_matches(&["/"], "//", false);
        // '+' matches an empty level too.
        assert_matches(&["a/+/c"], "a//c", true);
        assert_matches(&["+/+", "+/", "/+", "+/#"], "/", true);
        assert_matches(&["+"], "/", false);
        assert_matches(&["+/+/+"], "//", true);
        assert_matches(&["+/+/+"], "/", false);
        assert_matches(&["a/#"], "a/", true);
    }

    #[test]
    fn literal_levels_must_match_exactly_and_fully() {
        assert_matches(&["a/b/c"], "a/b/c", true);
        assert_matches(&["a/b"], "a/b/c", false);
        assert_matches(&["a/b/c"], "a/b", false);
        assert_matches(&["a/b/#"], "a", false);
        assert_matches(&["ab"], "a", false);
        assert_matches(&["a"], "ab", false);
        assert_matches(&["a b"], "a b", true);
        assert_matches(&["a b"], "ab", false);
        // A '$' not at the start of the name is an ordinary character.
        assert_matches(&["a/$b", "a/+", "+/$b", "#"], "a/$b", true);
    }

    #[test]
    fn matching_is_case_sensitive_and_unnormalized() {
        // 4.7.3: case-sensitive. [MQTT-4.7.3-4]: no normalization of either side.
        assert_matches(&["ACCOUNTS"], "Accounts", false);
        assert_matches(&["sport/#"], "SPORT/tennis", false);
        assert_matches(&["$sys/#"], "$SYS/x", false);
        // Precomposed U+00E9 against 'e' + combining acute U+0301.
        assert_matches(&["caf\u{e9}"], "cafe\u{301}", false);
        assert_matches(&["caf\u{e9}"], "caf\u{e9}", true);
        assert_matches(&["\u{FEFF}a"], "a", false);
        assert_matches(&["𝄞/+"], "𝄞/€", true);
    }

    // ------------------------------------------------------------------------------------
    // 4.7.2 Topics beginning with $
    // ------------------------------------------------------------------------------------

    #[test]
    fn dollar_topics_are_not_matched_by_leading_wildcards() {
        // [MQTT-4.7.2-1] and the examples of 4.7.2.
        assert_matches(&["#"], "$SYS/monitor/Clients", false);
        assert_matches(&["+/monitor/Clients"], "$SYS/monitor/Clients", false);
        assert_matches(&["$SYS/#"], "$SYS/monitor/Clients", true);
        assert_matches(&["$SYS/monitor/+"], "$SYS/monitor/Clients", true);
        // More of the same rule.
        assert_matches(&["#"], "$SYS/x", false);
        assert_matches(&["+/x"], "$SYS/x", false);
        assert_matches(&["+", "#"], "$", false);
        assert_matches(&["+/#", "+/+"], "$SYS/x", false);
        assert_matches(&["$SYS/#"], "$SYS", true);
        assert_matches(&["$SYS/x", "$SYS/+"], "$SYS/x", true);
        assert_matches(&["$", "$/#"], "$", true);
        // Only a '$' first in the name counts; a '$' anywhere else is ordinary.
        assert_matches(&["#", "+/x", "+/+"], "a$/x", true);
        assert_matches(&["#", "+/$x", "+/+"], "/$x", true);
    }

    // ------------------------------------------------------------------------------------
    // 4.8.2 Shared Subscriptions
    // ------------------------------------------------------------------------------------

    #[test]
    fn shared_filters_spec_examples_are_valid() {
        // 4.8.2: the examples of the section, and shared filters with wildcards.
        assert_valid_filters(&[
            "$share/consumer1/sport/tennis/+",
            "$share/consumer2/sport/tennis/+",
            "$share/consumer1//finance",
            "$share/group/#",
            "$share/g/+",
            "$share/g/+/+",
            "$share/g//",
            "$share/g/$SYS/#",
            "$share/€/a",
        ]);
    }

    #[test]
    fn shared_filters_need_a_share_name() {
        // [MQTT-4.8.2-1] The ShareName is at least one character long.
        assert_filter_error(
            &["$share//a", "$share//", "$share/", "$share//#"],
            TopicError::EmptyShareName,
        );
    }

    #[test]
    fn shared_filters_share_name_has_no_wildcards() {
        // [MQTT-4.8.2-2] The ShareName does not contain '/', '+' or '#' (a '/' ends it).
        assert_filter_error(
            &[
                "$share/gr+oup/a",
                "$share/gr#oup/a",
                "$share/+/a",
                "$share/#/a",
                "$share/#",
                "$share/+",
            ],
            TopicError::InvalidShareName,
        );
    }

    #[test]
    fn shared_filters_need_a_topic_filter() {
        // [MQTT-4.8.2-2] The ShareName is followed by '/' and then a Topic Filter.
        assert_filter_error(
            &["$share/group", "$share/group/", "$share/g"],
            TopicError::SharedWithoutFilter,
        );
    }

    #[test]
    fn shared_filters_topic_filter_obeys_4_7() {
        // [MQTT-4.8.2-2] "... followed by a Topic Filter as described in section 4.7".
        assert_filter_error(
            &["$share/g/a/#/b", "$share/g/#/", "$share/g/sport/tennis#"],
            TopicError::MultiLevelWildcardNotLast,
        );
        assert_filter_error(
            &["$share/g/sport+", "$share/g/a/+b"],
            TopicError::SingleLevelWildcardNotAlone,
        );
    }

    #[test]
    fn share_prefix_is_exact_and_case_sensitive() {
        // Only "$share/" starts a shared filter; these are ordinary, valid filters.
        for filter in [
            "$SHARE/g/a",
            "$Share//a",
            "$share",
            "$sharegroup/a",
            "share/g/a",
            " $share/g/a",
        ] {
            assert_eq!(parse_shared(filter), None, "{filter:?}");
            assert_eq!(validate_topic_filter(filter), Ok(()), "{filter:?}");
        }
        // ... and are matched literally.
        assert_matches(&["$SHARE/g/a"], "$SHARE/g/a", true);
        assert_matches(&["$SHARE/g/a"], "a", false);
    }

    #[test]
    fn parse_shared_splits_at_the_first_slash_after_the_prefix() {
        let split = |share_name, filter| Some(SharedFilter { share_name, filter });
        assert_eq!(
            parse_shared("$share/consumer1/sport/tennis/+"),
            split("consumer1", "sport/tennis/+")
        );
        assert_eq!(
            parse_shared("$share/consumer1//finance"),
            split("consumer1", "/finance")
        );
        assert_eq!(parse_shared("$share/group/#"), split("group", "#"));
        assert_eq!(parse_shared("$share/g/a/b/c"), split("g", "a/b/c"));
        // No validation: malformed shared filters still split.
        assert_eq!(parse_shared("$share/group"), split("group", ""));
        assert_eq!(parse_shared("$share/group/"), split("group", ""));
        assert_eq!(parse_shared("$share/"), split("", ""));
        assert_eq!(parse_shared("$share//a"), split("", "a"));
        assert_eq!(parse_shared("$share/gr+oup/a"), split("gr+oup", "a"));
        // Not shared.
        assert_eq!(parse_shared("sport/tennis/+"), None);
        assert_eq!(parse_shared("#"), None);
        // The parts borrow from the input.
        let input = String::from("$share/g/x");
        let parts = parse_shared(&input).unwrap();
        assert_eq!(parts.filter.as_ptr(), input[9..].as_ptr());
        assert_eq!(parts.share_name.as_ptr(), input[7..].as_ptr());
    }

    #[test]
    fn shared_filters_match_with_the_part_after_the_share_name() {
        // 4.8.2: "$share/consumer1/sport/tennis/+" receives what "sport/tennis/+" would.
        let filters = [
            "$share/consumer1/sport/tennis/+",
            "$share/consumer2/sport/tennis/+",
        ];
        assert_matches(&filters, "sport/tennis/player1", true);
        assert_matches(&filters, "sport/tennis/player1/ranking", false);
        assert_matches(&filters, "$share/consumer1/sport/tennis/player1", false);
        // "$share/consumer1//finance" is the filter "/finance".
        assert_matches(&["$share/consumer1//finance"], "/finance", true);
        assert_matches(&["$share/consumer1//finance"], "finance", false);
        assert_matches(&["$share/group/#"], "a/b/c", true);
        assert_matches(&["$share/g/a"], "a", true);
        assert_matches(&["$share/g/a"], "$share/g/a", false);
        // [MQTT-4.7.2-1] applies to the filter after the ShareName.
        assert_matches(&["$share/g/#", "$share/g/+/x"], "$SYS/x", false);
        assert_matches(&["$share/g/$SYS/#", "$share/g/$SYS/+"], "$SYS/x", true);
    }

    // ------------------------------------------------------------------------------------
    // Robustness and a cross-check against a second, independent matcher
    // ------------------------------------------------------------------------------------

    #[test]
    fn matching_invalid_input_does_not_panic() {
        let strange = [
            "",
            "/",
            "#",
            "+",
            "$",
            "#/",
            "/#",
            "a/#/b",
            "$share/",
            "$share/g",
            "$share//",
            "$share/g/",
            "\0",
            "€",
            "+€",
            "#€/",
            "$share/€",
        ];
        for filter in strange {
            for name in strange {
                let _ = topic_matches(filter, name);
            }
        }
        // A '#' that is not last never matches.
        assert_matches(&["a/#/b", "#/", "#/a"], "a/x/b", false);
        assert_matches(&["#/"], "x/", false);
    }

    /// The matching rules of 4.7 written out independently, on owned levels.
    fn reference_matches(filter: &[&str], name: &[&str]) -> bool {
        match (filter.split_first(), name.split_first()) {
            (Some((&"#", [])), _) | (None, None) => true,
            (Some((&f, f_rest)), Some((&n, n_rest))) if f == "+" || f == n => {
                reference_matches(f_rest, n_rest)
            }
            _ => false,
        }
    }

    /// All '/'-joined strings of 1 to 3 levels drawn from `alphabet`.
    fn topics(alphabet: &[&str]) -> Vec<String> {
        let mut out: Vec<String> = alphabet.iter().map(ToString::to_string).collect();
        let mut last = out.clone();
        for _ in 1..3 {
            let mut next = Vec::new();
            for prefix in &last {
                for level in alphabet {
                    next.push(format!("{prefix}/{level}"));
                }
            }
            out.extend_from_slice(&next);
            last = next;
        }
        out
    }

    #[test]
    fn matching_agrees_with_the_reference_on_all_small_topics() {
        let filters = topics(&["", "a", "b", "$a", "+", "#"]);
        let mut names = topics(&["", "a", "b", "$a"]);
        names.retain(|name| !name.is_empty());
        let mut valid_filters = 0;
        let mut matched = 0;
        for filter in &filters {
            if validate_topic_filter(filter).is_err() {
                continue;
            }
            valid_filters += 1;
            let filter_levels: Vec<&str> = filter.split('/').collect();
            for name in &names {
                assert_eq!(validate_topic_name(name), Ok(()), "{name:?}");
                let name_levels: Vec<&str> = name.split('/').collect();
                let leading_wildcard = matches!(filter_levels[0], "+" | "#");
                let expected = !(name.starts_with('$') && leading_wildcard)
                    && reference_matches(&filter_levels, &name_levels);
                assert_eq!(
                    topic_matches(filter, name),
                    expected,
                    "topic_matches({filter:?}, {name:?})"
                );
                let shared = format!("$share/g/{filter}");
                assert_eq!(
                    topic_matches(&shared, name),
                    expected,
                    "topic_matches({shared:?}, {name:?})"
                );
                matched += usize::from(expected);
            }
        }
        // 6 + 36 + 216 candidates, minus "" and the 6 + 66 with a '#' before the last level.
        assert_eq!(valid_filters, 5 + 30 + 150);
        // Pins the size of the cross-check, so that it cannot silently become vacuous.
        assert_eq!(matched, 996);
    }
}
