//! Every shipped plugin agrees with every Wycheproof vector in its scope
//! (the same check as `sigil plugin check`).

use sigil::plugins::conformance;

fn check(name: &str, minimum_vectors: usize) {
    let bytes = crate::helpers::component_bytes(name);
    let plugin = sigil::plugins::LoadedPlugin::load(crate::helpers::conformance_engine(), &bytes)
        .expect("loads");
    let report = conformance::run(&plugin);
    let (vectors, passed, failed) = report.totals();
    assert_eq!(
        failed,
        0,
        "{name} disagrees with Wycheproof:\n{}",
        report.render()
    );
    assert_eq!(vectors, passed);
    assert!(
        vectors >= minimum_vectors,
        "{name}: only {vectors} vectors ran:\n{}",
        report.render()
    );
}

#[test]
fn ecdsa_p256_conforms() {
    check("ecdsa-p256", 1500);
}

#[test]
fn ecdsa_p384_conforms() {
    check("ecdsa-p384", 2000);
}

#[test]
fn ecdsa_secp256k1_conforms_to_the_low_s_sets() {
    check("ecdsa-secp256k1", 450);
}

#[test]
fn ed25519_conforms() {
    check("ed25519", 150);
}

#[test]
fn rsa_conforms() {
    check("rsa", 4000);
}

#[test]
fn template_conforms() {
    check("template", 400);
}
