//! The recorded corpus: every good recording conforms, every known-bad one gets its expected
//! verdict, and together they cover every operation, every documented status and every kind.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cliniko_conformance::{CheckOptions, Checker, Report, ViolationKind, read_recording};
use cliniko_spec::Spec;
use serde::Deserialize;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn checker(strict: bool) -> Checker {
    checker_for(Spec::embedded().expect("the embedded spec loads"), strict)
}

fn checker_for(spec: Spec, strict: bool) -> Checker {
    Checker::new(
        &spec,
        CheckOptions {
            strict,
            ..CheckOptions::default()
        },
    )
    .expect("the spec compiles")
}

#[derive(Deserialize)]
struct Expected {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    file: String,
    strict: bool,
    /// The spec as a user might have edited it without regenerating the types: one text
    /// replacement in the embedded spec.
    #[serde(default)]
    spec_drift: Option<SpecDrift>,
    violations: Vec<ExpectedViolation>,
    /// The request problems reported as notes (an invalid request the server rejected); checked
    /// when given.
    #[serde(default)]
    notes: Option<Vec<ExpectedViolation>>,
}

#[derive(Deserialize)]
struct SpecDrift {
    find: String,
    replace: String,
}

impl Case {
    fn checker(&self, strict: bool) -> Checker {
        let Some(drift) = &self.spec_drift else {
            return checker(strict);
        };
        let text = cliniko_spec::EMBEDDED_YAML;
        assert!(
            text.contains(&drift.find),
            "{}: the spec no longer contains {:?}",
            self.file,
            drift.find
        );
        let drifted = text.replace(&drift.find, &drift.replace);
        checker_for(
            Spec::from_yaml_str(&drifted, "drifted spec").expect("the drifted spec loads"),
            strict,
        )
    }
}

#[derive(Deserialize, Debug, PartialEq, Eq)]
struct ExpectedViolation {
    kind: ViolationKind,
    pointer: Option<String>,
}

#[test]
fn every_good_recording_conforms_even_in_strict_mode() {
    for strict in [false, true] {
        let report = Report::check_paths(&checker(strict), &[root().join("tests/recordings")]);
        assert!(report.unreadable.is_empty(), "{:?}", report.unreadable);
        assert!(
            report.exchanges.len() >= 100,
            "only {} exchanges",
            report.exchanges.len()
        );
        let failing: Vec<String> = report
            .exchanges
            .iter()
            .filter(|e| !e.verdict.conforms())
            .map(|e| format!("{}: {:?}", e.title(), e.verdict.violations))
            .collect();
        assert!(
            failing.is_empty(),
            "strict={strict}:\n{}",
            failing.join("\n")
        );
    }
}

#[test]
fn every_known_bad_recording_gets_its_expected_verdict() {
    let dir = root().join("tests/recordings-bad");
    let expected: Expected = serde_json::from_slice(
        &std::fs::read(dir.join("expected.json")).expect("expected.json exists"),
    )
    .expect("parses");
    let mut kinds = BTreeSet::new();
    for case in &expected.cases {
        let exchanges = read_recording(&dir.join(&case.file)).expect("the recording reads");
        assert_eq!(exchanges.len(), 1, "{}", case.file);
        let verdict = case.checker(case.strict).check(&exchanges[0]);
        let expected_form =
            |violations: &[cliniko_conformance::Violation]| -> Vec<ExpectedViolation> {
                violations
                    .iter()
                    .map(|v| ExpectedViolation {
                        kind: v.kind(),
                        pointer: v.pointer().map(str::to_owned),
                    })
                    .collect()
            };
        let found = expected_form(&verdict.violations);
        assert_eq!(
            found, case.violations,
            "{}: {:?}",
            case.file, verdict.violations
        );
        if let Some(notes) = &case.notes {
            assert_eq!(
                &expected_form(&verdict.notes),
                notes,
                "{}: notes {:?}",
                case.file,
                verdict.notes
            );
        }
        kinds.extend(found.iter().map(|v| v.kind));
        if case.strict {
            let lenient = case.checker(false).check(&exchanges[0]);
            assert!(
                lenient.conforms(),
                "{} should only fail with --strict: {:?}",
                case.file,
                lenient.violations
            );
        }
    }
    let all = [
        ViolationKind::UnknownOperation,
        ViolationKind::UndocumentedStatus,
        ViolationKind::ContentType,
        ViolationKind::MissingHeader,
        ViolationKind::HeaderSchema,
        ViolationKind::BodyNotJson,
        ViolationKind::UnexpectedBody,
        ViolationKind::BodySchema,
        ViolationKind::UndocumentedField,
        ViolationKind::RoundTrip,
        ViolationKind::RequestParameter,
        ViolationKind::RequestHeader,
        ViolationKind::RequestBody,
        ViolationKind::AcceptedInvalidRequest,
    ];
    for kind in all {
        assert!(kinds.contains(&kind), "no known-bad recording shows {kind}");
    }
}

#[test]
fn the_good_recordings_cover_every_operation_and_documented_status() {
    let spec = Spec::embedded().expect("the embedded spec loads");
    let checker = checker(false);
    let report = Report::check_paths(&checker, &[root().join("tests/recordings")]);
    let covered: BTreeSet<(String, String)> = report
        .exchanges
        .iter()
        .filter_map(|e| {
            let operation = e.verdict.operation.clone()?;
            let status = e.verdict.status;
            Some((
                operation,
                if status >= 500 {
                    "5XX".to_owned()
                } else {
                    status.to_string()
                },
            ))
        })
        .collect();
    let mut missing = Vec::new();
    for item in spec.raw()["paths"].as_object().expect("paths").values() {
        for operation in item.as_object().expect("a path item").values() {
            let Some(id) = operation.get("operationId").and_then(|id| id.as_str()) else {
                continue;
            };
            for status in operation["responses"]
                .as_object()
                .expect("responses")
                .keys()
            {
                if !covered.contains(&(id.to_owned(), status.clone())) {
                    missing.push(format!("{id} {status}"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "no recording for: {}",
        missing.join(", ")
    );
}
