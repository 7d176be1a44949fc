//! The client and the fake server hold the spec's `User-Agent` pattern as a constant (the client
//! must not depend on the spec loader); this keeps both equal to the spec, so neither can drift.

#[test]
fn the_client_and_the_fake_check_the_user_agent_with_the_spec_pattern() {
    let spec = cliniko_spec::Spec::embedded().expect("the embedded spec loads");
    let pattern = spec
        .raw()
        .pointer("/components/parameters/UserAgent/schema/pattern")
        .and_then(serde_json::Value::as_str)
        .expect("the spec gives a User-Agent pattern");
    assert_eq!(cliniko_client::USER_AGENT_PATTERN, pattern);
    assert_eq!(cliniko_fake::USER_AGENT_PATTERN, pattern);
}
