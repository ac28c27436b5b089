//! What the compiler refuses, by design: each file in `tests/ui/` is a way to read content
//! or personal data around the policy, and must not compile. The expected errors are in the
//! `.stderr` files next to them (`TRYBUILD=overwrite` regenerates them after a deliberate
//! change of wording; a file that starts to compile fails this test).

#[test]
fn reads_around_the_policy_do_not_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
