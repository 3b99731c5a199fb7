//! Template versions (pure): semantic versions as semver 2.0.0 defines them, pre-releases and
//! build metadata included (the `semver` crate, the one Cargo itself uses).
use semver::Version;
use std::cmp::Ordering;

/// Parses a semantic version: MAJOR.MINOR.PATCH, an optional pre-release (`-beta.1`) and
/// optional build metadata (`+sha.5114f85`). No leading `v`, no leading zeros.
pub fn parse(v: &str) -> Option<Version> {
    Version::parse(v).ok()
}

/// MAJOR, MINOR and PATCH of a semantic version.
pub fn parse_semver(v: &str) -> Option<(u64, u64, u64)> {
    parse(v).map(|v| (v.major, v.minor, v.patch))
}

/// Semver 2.0.0 precedence (section 11): a pre-release comes before its release, identifiers
/// compare numerically or in ASCII order, and build metadata does not count. Two versions
/// that differ only in build metadata have equal precedence; for a stable listing they are
/// then ordered by their text. A string that is not a version sorts first.
pub fn precedence(a: &str, b: &str) -> Ordering {
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => x.cmp_precedence(&y).then_with(|| a.cmp(b)),
        (x, y) => x.is_some().cmp(&y.is_some()).then_with(|| a.cmp(b)),
    }
}

/// Whether `a` has the same precedence as `b` or a lower one.
pub fn at_or_below(a: &str, b: &str) -> bool {
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => x.cmp_precedence(&y) != Ordering::Greater,
        _ => false,
    }
}
