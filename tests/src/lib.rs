//! Cross-crate tests live in `tests/it/` (one test binary); this library only compiles the README's examples.

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExamples;
