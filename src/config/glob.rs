//! A tiny glob matcher for `include` patterns: `*`, `?` and `[...]`
//! (with ranges `a-z` and negation `[!...]` or `[^...]`), as glob(3) does
//! for one path component. A leading `.` in a name is only matched by a
//! literal `.`, like the shell. No allocation, no recursion.

/// True if `pattern` contains a wildcard character.
pub fn has_wildcards(pattern: &[u8]) -> bool {
    pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'['))
}

/// Matches one path component `name` against `pattern`.
pub fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    if name.first() == Some(&b'.') && pattern.first() != Some(&b'.') {
        return false;
    }
    let (mut p, mut n) = (0usize, 0usize);
    // Where to resume after the last `*`: (pattern index after it, name index).
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        let step = match pattern.get(p) {
            Some(b'*') => {
                star = Some((p + 1, n));
                p += 1;
                continue;
            }
            Some(b'?') => Some(p + 1),
            Some(b'[') => match class(pattern, p + 1, name[n]) {
                Some((true, next)) => Some(next),
                Some((false, _)) => None,
                // Unclosed `[`: a literal bracket.
                None => (name[n] == b'[').then_some(p + 1),
            },
            Some(&c) => (c == name[n]).then_some(p + 1),
            None => None,
        };
        match step {
            Some(next) => {
                p = next;
                n += 1;
            }
            None => match star {
                Some((sp, sn)) => {
                    p = sp;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&b| b == b'*')
}

/// Matches byte `c` against the class starting at `pattern[i]` (just after
/// `[`). Returns (matched, index after `]`), or None if the class is not
/// closed.
fn class(pattern: &[u8], mut i: usize, c: u8) -> Option<(bool, usize)> {
    let negate = matches!(pattern.get(i), Some(b'!') | Some(b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let lo = *pattern.get(i)?;
        if lo == b']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if pattern.get(i + 1) == Some(&b'-') && pattern.get(i + 2).is_some_and(|&b| b != b']') {
            let hi = pattern[i + 2];
            if lo <= c && c <= hi {
                matched = true;
            }
            i += 3;
        } else {
            if lo == c {
                matched = true;
            }
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, n: &str) -> bool {
        glob_match(p.as_bytes(), n.as_bytes())
    }

    #[test]
    fn literals_and_question_mark() {
        assert!(m("a.conf", "a.conf"));
        assert!(!m("a.conf", "b.conf"));
        assert!(m("?.conf", "b.conf"));
        assert!(!m("?.conf", "bb.conf"));
        assert!(!m("a.conf", "a.conf2"));
    }

    #[test]
    fn stars() {
        assert!(m("*.conf", "vi_1.conf"));
        assert!(m("*", "x"));
        assert!(!m("*.conf", ".conf"));
        assert!(m("a*b*c", "aXXbYYbc"));
        assert!(!m("a*b*c", "aXXbYYbd"));
        assert!(m("**x", "abx"));
        assert!(m("a*", "a"));
        assert!(!m("*.conf", "x.conf.bak"));
    }

    #[test]
    fn classes() {
        assert!(m("vi[0-9].conf", "vi3.conf"));
        assert!(!m("vi[0-9].conf", "via.conf"));
        assert!(m("vi[!0-9].conf", "via.conf"));
        assert!(m("vi[^0-9].conf", "via.conf"));
        assert!(m("[]x]", "]"));
        assert!(m("[a-]", "-"));
        assert!(m("x[", "x["));
        assert!(!m("x[a", "xa"));
    }

    #[test]
    fn hidden_files_need_a_literal_dot() {
        assert!(!m("*", ".hidden"));
        assert!(!m("?hidden", ".hidden"));
        assert!(m(".*", ".hidden"));
    }

    #[test]
    fn wildcard_detection() {
        assert!(has_wildcards(b"/etc/*.conf"));
        assert!(has_wildcards(b"a?"));
        assert!(has_wildcards(b"a[1]"));
        assert!(!has_wildcards(b"/etc/keepalived/x.conf"));
    }
}
