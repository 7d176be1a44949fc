//! The workspace's own spec passes every check.

#[test]
fn the_workspace_spec_passes_its_checks() {
    let spec = cliniko_spec::Spec::embedded().expect("the embedded spec loads");
    if let Err(error) = spec.check() {
        panic!("{error}");
    }
}
