//! Specs with mistakes get clear errors that name the file and where the mistake is.

use std::path::Path;

fn refusal(name: &str) -> String {
    let path = Path::new("tests/fixtures/bad").join(name);
    let text = std::fs::read_to_string(&path).expect("the fixture exists");
    let error = match cliniko_spec::Spec::from_yaml_str(&text, name) {
        Err(error) => error,
        Ok(spec) => spec.check().expect_err("the checks refuse this spec"),
    };
    error.to_string()
}

#[test]
fn yaml_syntax_error_names_file_line_and_column() {
    insta::assert_snapshot!(refusal("yaml_syntax.yaml"));
}

#[test]
fn openapi_31_is_refused() {
    insta::assert_snapshot!(refusal("openapi_31.yaml"));
}

#[test]
fn unresolved_ref_is_named_with_its_pointer() {
    insta::assert_snapshot!(refusal("unresolved_ref.yaml"));
}

#[test]
fn duplicate_operation_id_and_missing_names() {
    insta::assert_snapshot!(refusal("duplicate_operation_id.yaml"));
}

#[test]
fn failing_example_reports_every_error_with_its_pointer() {
    insta::assert_snapshot!(refusal("failing_example.yaml"));
}

#[test]
fn two_error_schemas_are_refused_before_progenitor_sees_them() {
    insta::assert_snapshot!(refusal("two_error_schemas.yaml"));
}

#[test]
fn a_misplaced_nullable_names_file_line_pointer_and_property() {
    insta::assert_snapshot!(refusal("misplaced_nullable.yaml"));
}

#[test]
fn a_missing_file_is_named() {
    let error =
        cliniko_spec::Spec::load(Path::new("tests/fixtures/nope.yaml")).expect_err("no such file");
    assert!(
        error
            .to_string()
            .starts_with("cannot read tests/fixtures/nope.yaml: "),
        "{error}"
    );
}
