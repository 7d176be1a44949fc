//! A spec whose `$ref`s do not resolve is refused by the checker with the file, the pointer of the
//! node holding the bad `$ref`, and the reference (followed with `cliniko_spec::pointer::chase`).

use cliniko_conformance::{CheckOptions, Checker, CheckerError};

fn spec(responses: &str) -> cliniko_spec::Spec {
    let text = format!(
        r##"openapi: 3.0.3
info: {{ title: t, version: "1" }}
servers: [{{ url: "https://api.example.com/v1" }}]
paths:
  /things:
    get:
      operationId: listThings
      responses:
        "200": {{ $ref: "#/components/responses/Ok" }}
components:
  responses:
{responses}
"##
    );
    cliniko_spec::Spec::from_yaml_str(&text, "refs.yaml").expect("the YAML loads")
}

#[test]
fn a_dangling_ref_at_the_end_of_a_chain_names_the_node_holding_it() {
    let spec = spec(
        r##"    Ok: { $ref: "#/components/responses/Moved" }
    Moved: { $ref: "#/components/responses/Gone" }"##,
    );
    let error = Checker::new(&spec, CheckOptions::default()).expect_err("a dangling $ref");
    assert!(
        matches!(error, CheckerError::UnresolvedRef { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "refs.yaml: at /components/responses/Moved: $ref #/components/responses/Gone does not resolve"
    );
}

#[test]
fn a_ref_loop_is_refused_rather_than_followed_for_ever() {
    let spec = spec(
        r##"    Ok: { $ref: "#/components/responses/Again" }
    Again: { $ref: "#/components/responses/Ok" }"##,
    );
    let error = Checker::new(&spec, CheckOptions::default()).expect_err("a loop");
    assert!(
        error
            .to_string()
            .contains("(a chain of more than 64 $refs)"),
        "{error}"
    );
}
