//! Errors of the plugin engine, kept apart from the plugin's own answers.
//!
//! A [`PluginError`] means the sandbox could not produce an answer (the
//! component is not a Sigil plugin, it trapped, ran out of time or memory);
//! a [`ContractError`] is the plugin's typed refusal of an input, which the
//! contract defines and which reaches clients as a problem code.

use serde::Serialize;

/// Why a component could not be loaded or a call could not complete.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The bytes are not a WebAssembly binary at all.
    #[error("not a WebAssembly binary")]
    NotWasm,
    /// A core module was given where a component is required.
    #[error("a core WebAssembly module, not a component; build it as a component (wasm32-wasip2)")]
    CoreModule,
    /// The component failed validation or compilation.
    #[error("the component does not compile: {0}")]
    Compile(String),
    /// The component exports another version of the Sigil contract.
    #[error("the component exports {found}, this host speaks {expected}")]
    IncompatibleContract {
        /// What the component exports.
        found: String,
        /// What this host requires.
        expected: &'static str,
    },
    /// The component does not export the Sigil `verifier` interface.
    #[error(
        "the component does not target the Sigil plugin world: it exports [{exports}], not {expected}"
    )]
    WrongWorld {
        /// The component's exports.
        exports: String,
        /// What this host requires.
        expected: &'static str,
    },
    /// The component imports something this host does not provide to
    /// plugins (see `imports::ALLOWED`).
    #[error("the component imports {import}, which Sigil does not provide to plugins: {reason}")]
    ForbiddenImport {
        /// The import (`wasi:sockets/tcp@0.2.6`), or the function of an
        /// allowed interface (`wasi:filesystem/types@0.2.6#[method]descriptor.open-at`).
        import: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// Exports have the right name but not the contract's types.
    #[error("the component's exports do not match the contract: {0}")]
    Link(String),
    /// The call exceeded its deadline and was interrupted.
    #[error("the plugin exceeded its {0} ms deadline")]
    Timeout(u64),
    /// The plugin tried to grow its memory past the cap.
    #[error("the plugin exceeded its memory cap of {0} MiB")]
    MemoryExhausted(usize),
    /// The plugin called a function the host links only as a trap (one
    /// that would wait or sleep): the call ends at once.
    #[error("{0}")]
    ForbiddenCall(String),
    /// The plugin trapped (a panic, an out-of-bounds access, a stack
    /// overflow...).
    #[error("the plugin trapped: {0}")]
    Trap(String),
    /// The plugin answered something the contract forbids (for example a
    /// batch answer of the wrong length, an invalid descriptor).
    #[error("the plugin broke the contract: {0}")]
    ContractViolation(String),
    /// The engine could not run the call (instance pool exhausted...).
    #[error("the plugin engine failed: {0}")]
    Engine(String),
}

impl PluginError {
    /// A stable machine-readable code, used in problem bodies and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            PluginError::NotWasm => "not_wasm",
            PluginError::CoreModule => "core_module",
            PluginError::Compile(_) => "compile_failed",
            PluginError::IncompatibleContract { .. } => "incompatible_contract",
            PluginError::WrongWorld { .. } => "wrong_world",
            PluginError::ForbiddenImport { .. } => "forbidden_import",
            PluginError::ForbiddenCall(_) => "plugin_forbidden_call",
            PluginError::Link(_) => "link_failed",
            PluginError::Timeout(_) => "plugin_timeout",
            PluginError::MemoryExhausted(_) => "plugin_memory_exhausted",
            PluginError::Trap(_) => "plugin_trap",
            PluginError::ContractViolation(_) => "plugin_contract_violation",
            PluginError::Engine(_) => "plugin_engine",
        }
    }

    /// Whether the failure's text is for operators only: a trap's message
    /// and backtrace, a contract violation or an engine fault is logged,
    /// never shown to clients.
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            PluginError::Trap(_) | PluginError::ContractViolation(_) | PluginError::Engine(_)
        )
    }
}

/// What a client is told of a failure whose text is for operators only:
/// a generic sentence naming only its code.
pub fn internal_detail(code: &str) -> String {
    format!("the verification failed inside the service ({code}); the failure has been logged")
}

/// A plugin's typed refusal of an input (the contract's `error` variant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum ContractError {
    /// The key bytes do not parse.
    #[error("malformed key: {0}")]
    MalformedKey(String),
    /// The key parses but policy refuses it.
    #[error("key rejected: {0}")]
    RejectedKey(String),
    /// The signature does not parse.
    #[error("malformed signature: {0}")]
    MalformedSignature(String),
    /// The signature is not in canonical form.
    #[error("non-canonical signature: {0}")]
    NonCanonicalSignature(String),
    /// The request asks for something the plugin does not offer.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The plugin reported an internal fault.
    #[error("plugin internal error: {0}")]
    Internal(String),
}

impl ContractError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ContractError::MalformedKey(_) => "malformed_key",
            ContractError::RejectedKey(_) => "key_rejected",
            ContractError::MalformedSignature(_) => "malformed_signature",
            ContractError::NonCanonicalSignature(_) => "non_canonical_signature",
            ContractError::Unsupported(_) => "unsupported_parameters",
            ContractError::Internal(_) => "plugin_internal_error",
        }
    }

    /// Whether the refusal's text is for operators only (the plugin's
    /// internal fault).
    pub fn is_internal(&self) -> bool {
        matches!(self, ContractError::Internal(_))
    }
}

impl From<super::bindings::Error> for ContractError {
    fn from(error: super::bindings::Error) -> Self {
        use super::bindings::Error as E;
        match error {
            E::MalformedKey(m) => ContractError::MalformedKey(m),
            E::RejectedKey(m) => ContractError::RejectedKey(m),
            E::MalformedSignature(m) => ContractError::MalformedSignature(m),
            E::NonCanonicalSignature(m) => ContractError::NonCanonicalSignature(m),
            E::Unsupported(m) => ContractError::Unsupported(m),
            E::Internal(m) => ContractError::Internal(m),
        }
    }
}
