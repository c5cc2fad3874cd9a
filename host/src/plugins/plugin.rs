//! A loaded plugin: its compiled component pre-linked against the sandbox,
//! its descriptor, and the calls of the contract. Every call instantiates
//! the component afresh in its own store, so nothing survives from one
//! request to the next; calls are synchronous and CPU-bound, and are made
//! from the [`super::executor::PluginExecutor`]'s threads.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use sha2::{Digest as _, Sha256};
use wasmtime::Store;
use wasmtime::component::Component;

use super::bindings::{self, v0_1};
use super::contract::{Descriptor, KeyFormat, KeyInfo, Verdict, VerifyInput};
use super::contract_0_1 as from_0_1;
use super::engine::PluginEngine;
use super::error::{ContractError, PluginError};
use super::sandbox::SandboxState;

/// Most items the host hands to one `verify-batch` call: batches are cut
/// into chunks of this size so that a misbehaving plugin is interrupted
/// within a bounded time and work spreads over the cores.
pub const MAX_BATCH_CALL: usize = 64;

/// A component pre-linked at the contract version it exports.
#[derive(Clone)]
enum Pre {
    /// `sigil:plugin@0.2.0`, the contract the host thinks in.
    Current(bindings::PluginPre<SandboxState>),
    /// `sigil:plugin@0.1.0`, translated by [`from_0_1`].
    V0_1(v0_1::PluginPre<SandboxState>),
}

/// A plugin ready to serve calls.
pub struct LoadedPlugin {
    engine: PluginEngine,
    pre: Pre,
    descriptor: Descriptor,
    sha256: String,
    bytes: Arc<[u8]>,
    /// During admission: when every call must have ended (see
    /// [`LoadedPlugin::load_until`]).
    until: Option<Instant>,
}

impl fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("name", &self.descriptor.name)
            .field("version", &self.descriptor.version)
            .field("sha256", &self.sha256)
            .field("contract", &self.contract_version())
            .finish()
    }
}

impl LoadedPlugin {
    /// Compile, check and link a component, then ask it to describe itself.
    /// Refuses anything that is not a component exporting this host's
    /// version of the `verifier` interface, or that imports anything
    /// outside the allow-list ([`super::imports::ALLOWED`]).
    pub fn load(engine: &PluginEngine, bytes: &[u8]) -> Result<Self, PluginError> {
        Self::load_inner(engine, bytes, None)
    }

    /// [`LoadedPlugin::load`] for admission: this call and every later call
    /// on the plugin end by `until` (a call running then is interrupted, a
    /// call after it fails at once with [`PluginError::Timeout`]), until
    /// [`LoadedPlugin::admitted`] lifts the limit. Compilation itself cannot
    /// be interrupted; it is bounded by the size of the component.
    pub fn load_until(
        engine: &PluginEngine,
        bytes: &[u8],
        until: Instant,
    ) -> Result<Self, PluginError> {
        Self::load_inner(engine, bytes, Some(until))
    }

    /// The plugin without the admission deadline, to serve.
    #[must_use]
    pub fn admitted(mut self) -> Self {
        self.until = None;
        self
    }

    fn load_inner(
        engine: &PluginEngine,
        bytes: &[u8],
        until: Option<Instant>,
    ) -> Result<Self, PluginError> {
        let component = engine.compile(bytes)?;
        let version = check_world(engine, &component)?;
        let instance_pre = engine
            .linker()
            .instantiate_pre(&component)
            .map_err(|e| PluginError::Link(format!("{e:#}")))?;
        let link = |e: wasmtime::Error| PluginError::Link(format!("{e:#}"));
        let pre = match version {
            Contract::Current => {
                Pre::Current(bindings::PluginPre::new(instance_pre).map_err(link)?)
            }
            Contract::V0_1 => Pre::V0_1(v0_1::PluginPre::new(instance_pre).map_err(link)?),
        };
        let raw = match &pre {
            Pre::Current(pre) => call(engine, pre, 1, until, |plugin, store| {
                plugin.sigil_plugin_verifier().call_describe(store)
            })?,
            Pre::V0_1(pre) => call(engine, pre, 1, until, |plugin, store| {
                plugin.sigil_plugin_verifier().call_describe(store)
            })
            .map(from_0_1::descriptor)?,
        };
        let descriptor = Descriptor::from_wit(raw).map_err(PluginError::ContractViolation)?;
        Ok(LoadedPlugin {
            engine: engine.clone(),
            pre,
            descriptor,
            sha256: hex::encode(Sha256::digest(bytes)),
            bytes: Arc::from(bytes),
            until,
        })
    }

    /// What the plugin declared.
    pub fn descriptor(&self) -> &Descriptor {
        &self.descriptor
    }

    /// The contract version the component exports (`0.2.0`).
    pub fn contract_version(&self) -> &'static str {
        match self.pre {
            Pre::Current(_) => bindings::CONTRACT_VERSION,
            Pre::V0_1(_) => "0.1.0",
        }
    }

    /// Hex SHA-256 of the component's bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Size of the component in bytes.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    /// The component's bytes (to record it).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// `name@version`, for logs and records.
    pub fn label(&self) -> String {
        format!("{}@{}", self.descriptor.name, self.descriptor.version)
    }

    /// Validate and canonicalise a public key.
    pub fn parse_key(
        &self,
        key: &[u8],
        format: KeyFormat,
        curve: Option<&str>,
    ) -> Result<Result<KeyInfo, ContractError>, PluginError> {
        let answer = match &self.pre {
            Pre::Current(pre) => self.call(pre, 1, |plugin, store| {
                plugin
                    .sigil_plugin_verifier()
                    .call_parse_key(store, key, format.into(), curve)
            })?,
            Pre::V0_1(pre) => self
                .call(pre, 1, |plugin, store| {
                    plugin.sigil_plugin_verifier().call_parse_key(
                        store,
                        key,
                        bindings::KeyFormat::from(format).into(),
                        curve,
                    )
                })?
                .map(from_0_1::key_info)
                .map_err(from_0_1::error),
        };
        match answer {
            Ok(info) => KeyInfo::from_wit(info)
                .map(Ok)
                .map_err(PluginError::ContractViolation),
            Err(refusal) => Ok(Err(ContractError::from(refusal))),
        }
    }

    /// Verify one signature.
    pub fn verify(
        &self,
        input: VerifyInput,
    ) -> Result<Result<Verdict, ContractError>, PluginError> {
        let request = input.into_wit();
        let answer = match &self.pre {
            Pre::Current(pre) => self.call(pre, 1, |plugin, store| {
                plugin.sigil_plugin_verifier().call_verify(store, &request)
            })?,
            Pre::V0_1(pre) => {
                let request = from_0_1::request(request).map_err(PluginError::ContractViolation)?;
                self.call(pre, 1, |plugin, store| {
                    plugin.sigil_plugin_verifier().call_verify(store, &request)
                })?
                .map(from_0_1::verdict)
                .map_err(from_0_1::error)
            }
        };
        settle(answer)
    }

    /// Verify many signatures in one instance; one answer per input, in
    /// order. The call's deadline is the per-call deadline times the number
    /// of inputs, so callers keep batches to [`MAX_BATCH_CALL`] items.
    pub fn verify_batch(
        &self,
        inputs: &[VerifyInput],
    ) -> Result<Vec<Result<Verdict, ContractError>>, PluginError> {
        let expected = inputs.len();
        let requests: Vec<bindings::VerifyRequest> =
            inputs.iter().cloned().map(VerifyInput::into_wit).collect();
        let answers: Vec<Result<bindings::Verdict, bindings::Error>> = match &self.pre {
            Pre::Current(pre) => self.call(pre, expected, |plugin, store| {
                plugin
                    .sigil_plugin_verifier()
                    .call_verify_batch(store, &requests)
            })?,
            Pre::V0_1(pre) => {
                let requests = requests
                    .into_iter()
                    .map(from_0_1::request)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(PluginError::ContractViolation)?;
                self.call(pre, expected, |plugin, store| {
                    plugin
                        .sigil_plugin_verifier()
                        .call_verify_batch(store, &requests)
                })?
                .into_iter()
                .map(|a| a.map(from_0_1::verdict).map_err(from_0_1::error))
                .collect()
            }
        };
        if answers.len() != expected {
            return Err(PluginError::ContractViolation(format!(
                "verify-batch answered {} results for {expected} requests",
                answers.len()
            )));
        }
        // One answer the contract forbids (a `recovered` text out of
        // bounds) fails the whole call: the caller then verifies the items
        // one by one, and only the offending one fails.
        answers.into_iter().map(settle).collect()
    }

    fn call<P, R>(
        &self,
        pre: &P,
        items: usize,
        f: impl FnOnce(&P::Bindings, &mut Store<SandboxState>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError>
    where
        P: Instantiate,
    {
        call(&self.engine, pre, items, self.until, f)
    }
}

/// A plugin's answer to one verification, its verdict checked.
fn settle(
    answer: Result<bindings::Verdict, bindings::Error>,
) -> Result<Result<Verdict, ContractError>, PluginError> {
    match answer {
        Ok(verdict) => Verdict::from_wit(verdict)
            .map(Ok)
            .map_err(PluginError::ContractViolation),
        Err(refusal) => Ok(Err(ContractError::from(refusal))),
    }
}

/// The pre-linked component of either contract version, instantiated.
trait Instantiate {
    /// The generated bindings of the instance.
    type Bindings;
    /// A fresh instance in `store`.
    fn instantiate(&self, store: &mut Store<SandboxState>) -> wasmtime::Result<Self::Bindings>;
}

impl Instantiate for bindings::PluginPre<SandboxState> {
    type Bindings = bindings::Plugin;
    fn instantiate(&self, store: &mut Store<SandboxState>) -> wasmtime::Result<Self::Bindings> {
        bindings::PluginPre::instantiate(self, store)
    }
}

impl Instantiate for v0_1::PluginPre<SandboxState> {
    type Bindings = v0_1::Plugin;
    fn instantiate(&self, store: &mut Store<SandboxState>) -> wasmtime::Result<Self::Bindings> {
        v0_1::PluginPre::instantiate(self, store)
    }
}

/// Run one call in a fresh instance under the sandbox's limits, with the
/// deadline of `items` verifications, or `until` if that comes first.
fn call<P: Instantiate, R>(
    engine: &PluginEngine,
    pre: &P,
    items: usize,
    until: Option<Instant>,
    f: impl FnOnce(&P::Bindings, &mut Store<SandboxState>) -> wasmtime::Result<R>,
) -> Result<R, PluginError> {
    if until.is_some_and(|until| Instant::now() >= until) {
        return Err(PluginError::Timeout(
            u64::try_from(engine.limits().deadline.as_millis()).unwrap_or(u64::MAX),
        ));
    }
    let mut store = engine.new_store(items, until);
    let outcome = pre
        .instantiate(&mut store)
        .and_then(|plugin| f(&plugin, &mut store));
    outcome.map_err(|error| engine.classify(error, &store))
}

/// The contract version a component exports.
#[derive(Debug, Clone, Copy)]
enum Contract {
    /// 0.2.0.
    Current,
    /// 0.1.0.
    V0_1,
}

/// Check the component's exports and imports before linking, to say
/// precisely what is wrong with a component that is not a Sigil plugin;
/// answers the contract version it exports.
fn check_world(engine: &PluginEngine, component: &Component) -> Result<Contract, PluginError> {
    let ty = component.component_type();
    let exports: Vec<&str> = ty.exports(engine.engine()).map(|(name, _)| name).collect();
    let (contract, types) = if exports.contains(&bindings::VERIFIER_EXPORT) {
        (Contract::Current, bindings::TYPES_IMPORT)
    } else if exports.contains(&v0_1::VERIFIER_EXPORT) {
        (Contract::V0_1, v0_1::TYPES_IMPORT)
    } else if let Some(other) = exports
        .iter()
        .find(|name| name.split('@').next() == Some(bindings::VERIFIER_INTERFACE))
    {
        return Err(PluginError::IncompatibleContract {
            found: (*other).to_owned(),
            expected: bindings::ACCEPTED_EXPORTS,
        });
    } else {
        return Err(PluginError::WrongWorld {
            exports: exports.join(", "),
            expected: bindings::ACCEPTED_EXPORTS,
        });
    };
    super::imports::check(engine.engine(), component, types)?;
    Ok(contract)
}
