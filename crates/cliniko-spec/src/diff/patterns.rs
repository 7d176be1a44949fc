//! Whether one regular expression accepts everything another does, for `pattern` and
//! `x-cliniko-pattern` changes.
//!
//! Both are compiled to lazy DFAs (`regex-automata`) over bytes, searched anywhere in the text as
//! ECMA-262 `pattern` is, and walked side by side: the older pattern is covered when no text takes
//! it to a match that the newer one misses. Syntax that the `regex` dialect reads differently
//! from ECMA-262, or automata too large to walk, give no answer.

use std::collections::{HashSet, VecDeque};

use regex_automata::hybrid::LazyStateID;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};

/// How many pairs of states to visit before giving up.
const MAX_PAIRS: usize = 20_000;

/// `Some(true)` when every text that `old` accepts, `new` accepts too; `Some(false)` when some
/// text is accepted by `old` only; `None` when that cannot be told.
pub(super) fn covers(new: &str, old: &str) -> Option<bool> {
    let (old_dfa, new_dfa) = (compile(old)?, compile(new)?);
    let (mut old_cache, mut new_cache) = (old_dfa.create_cache(), new_dfa.create_cache());
    let input = Input::new("").anchored(Anchored::Yes);
    let start = (
        old_dfa.start_state_forward(&mut old_cache, &input).ok()?,
        new_dfa.start_state_forward(&mut new_cache, &input).ok()?,
    );
    let mut seen = HashSet::new();
    let mut queue = VecDeque::from([start]);
    seen.insert(start);
    while let Some((a, b)) = queue.pop_front() {
        if seen.len() > MAX_PAIRS {
            return None;
        }
        let accepts = |dfa: &DFA, cache: &mut Cache, state: LazyStateID| -> Option<bool> {
            if state.is_dead() {
                return Some(false);
            }
            let end = dfa.next_eoi_state(cache, state).ok()?;
            Some(state.is_match() || end.is_match())
        };
        if accepts(&old_dfa, &mut old_cache, a)? && !accepts(&new_dfa, &mut new_cache, b)? {
            return Some(false);
        }
        if a.is_dead() {
            continue;
        }
        for byte in 0..=255u8 {
            let next = (
                old_dfa.next_state(&mut old_cache, a, byte).ok()?,
                new_dfa.next_state(&mut new_cache, b, byte).ok()?,
            );
            if next.0.is_quit() || next.1.is_quit() {
                return None;
            }
            if seen.insert(next) {
                queue.push_back(next);
            }
        }
    }
    Some(true)
}

/// A DFA for "the text contains a match of `pattern`", with the whole text read.
fn compile(pattern: &str) -> Option<DFA> {
    // Matched anywhere, as ECMA-262 `pattern` is: `^` and `$` still pin the ends.
    let wrapped = format!("(?s-u:.)*(?:{pattern})(?s-u:.)*");
    DFA::builder()
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .configure(DFA::config().cache_capacity(8 << 20))
        .build(&wrapped)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn a_wider_pattern_covers_a_narrower_one() {
        assert_eq!(covers("^[a-z]{2,3}[0-9]+$", "^[a-z]{2}[0-9]+$"), Some(true));
        assert_eq!(
            covers("^[a-z]{2}[0-9]+$", "^[a-z]{2,3}[0-9]+$"),
            Some(false)
        );
        assert_eq!(covers("^[a-z]{2}[0-9]+$", "^[a-z]{2}[0-9]+$"), Some(true));
        assert_eq!(covers("[0-9]", "^[0-9]+$"), Some(true));
        assert_eq!(covers("^[0-9]+$", "[0-9]"), Some(false));
    }
}
