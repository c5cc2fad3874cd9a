//! What a plugin may import: an explicit allow-list, checked when a
//! component is admitted, and the linker that provides exactly it.
//!
//! A verifier is a pure function, but a component built for wasm32-wasip2
//! with Rust's standard library imports the WASI interfaces std needs to
//! start, exit, write to stderr and read random bytes. Those are linked,
//! against a [`super::sandbox::SandboxState`] that grants nothing through
//! them (no arguments or environment, stdin closed, stdout discarded,
//! clocks frozen, seeded randomness). Among them, the calls that would
//! block the host thread (`wasi:io/poll`'s `poll` and `pollable.block`,
//! the monotonic clock's `subscribe-*`, which is what
//! `std::thread::sleep` uses) are stubs that trap with
//! [`ForbiddenCall`]: a plugin can import them, since std may, but a call
//! ends at once instead of holding a worker outside the deadline.
//!
//! std's stdio also imports a sliver of `wasi:filesystem` (the
//! preopened-directory list, and five methods on a file descriptor). The
//! host provides it inert: the list is empty, so no descriptor ever
//! exists. Any other filesystem function (opening, reading, listing), any
//! socket, HTTP or other interface is refused at admission with
//! [`PluginError::ForbiddenImport`], naming the import.

use wasmtime::Engine;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{
    HasData, Linker, LinkerInstance, Resource, ResourceTable, ResourceType, Val,
};
use wasmtime_wasi::WasiView as _;
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::p2::bindings::{cli, clocks, random, sync};
use wasmtime_wasi::random::WasiRandom;

use super::error::PluginError;
use super::sandbox::SandboxState;

/// The WASI version plugins are built against; any 0.2.x import matches.
const WASI_VERSION: &str = "0.2";

/// Which functions of an allowed interface a component may import.
#[derive(Debug, Clone, Copy)]
enum Functions {
    /// Every function of the interface.
    All,
    /// Only these.
    Only(&'static [&'static str]),
}

/// One interface of the allow-list.
#[derive(Debug, Clone, Copy)]
pub struct Allowed {
    /// `namespace:package/interface`, without its version.
    pub interface: &'static str,
    functions: Functions,
    /// What the plugin gets through it.
    pub provides: &'static str,
}

/// Every WASI interface a plugin may import (at any 0.2.x version), and
/// what it gets through it. Kept in step with PLUGINS.md ("What a plugin
/// may import").
pub const ALLOWED: &[Allowed] = &[
    Allowed {
        interface: "wasi:cli/environment",
        functions: Functions::All,
        provides: "no arguments, no environment variables, no working directory",
    },
    Allowed {
        interface: "wasi:cli/exit",
        functions: Functions::All,
        provides: "exit ends the call (as a failure)",
    },
    Allowed {
        interface: "wasi:cli/stdin",
        functions: Functions::All,
        provides: "a closed stream",
    },
    Allowed {
        interface: "wasi:cli/stdout",
        functions: Functions::All,
        provides: "a stream whose bytes are discarded",
    },
    Allowed {
        interface: "wasi:cli/stderr",
        functions: Functions::All,
        provides: "a 4 KiB buffer, logged with a failed call (panic messages)",
    },
    Allowed {
        interface: "wasi:cli/terminal-input",
        functions: Functions::All,
        provides: "no terminal",
    },
    Allowed {
        interface: "wasi:cli/terminal-output",
        functions: Functions::All,
        provides: "no terminal",
    },
    Allowed {
        interface: "wasi:cli/terminal-stdin",
        functions: Functions::All,
        provides: "no terminal",
    },
    Allowed {
        interface: "wasi:cli/terminal-stdout",
        functions: Functions::All,
        provides: "no terminal",
    },
    Allowed {
        interface: "wasi:cli/terminal-stderr",
        functions: Functions::All,
        provides: "no terminal",
    },
    Allowed {
        interface: "wasi:io/error",
        functions: Functions::All,
        provides: "errors of the streams above",
    },
    Allowed {
        interface: "wasi:io/streams",
        functions: Functions::All,
        provides: "the three streams above (none of them ever waits)",
    },
    Allowed {
        interface: "wasi:io/poll",
        functions: Functions::All,
        provides: "the `pollable` resource (the streams' `subscribe`); `poll`, `pollable.block` and `pollable.ready` trap",
    },
    Allowed {
        interface: "wasi:clocks/wall-clock",
        functions: Functions::All,
        provides: "a clock frozen at the epoch",
    },
    Allowed {
        interface: "wasi:clocks/monotonic-clock",
        functions: Functions::All,
        provides: "a clock frozen at zero; `subscribe-instant` and `subscribe-duration` (sleeping) trap",
    },
    Allowed {
        interface: "wasi:random/random",
        functions: Functions::All,
        provides: "bytes from a fixed seed (at most 4 KiB a call)",
    },
    Allowed {
        interface: "wasi:random/insecure",
        functions: Functions::All,
        provides: "bytes from a fixed seed",
    },
    Allowed {
        interface: "wasi:random/insecure-seed",
        functions: Functions::All,
        provides: "a fixed seed",
    },
    Allowed {
        interface: "wasi:filesystem/preopens",
        functions: Functions::Only(&["get-directories"]),
        provides: "an empty list of directories",
    },
    Allowed {
        interface: "wasi:filesystem/types",
        functions: Functions::Only(&[
            "[method]descriptor.read-via-stream",
            "[method]descriptor.write-via-stream",
            "[method]descriptor.append-via-stream",
            "[method]descriptor.get-type",
            "[method]descriptor.stat",
            "filesystem-error-code",
        ]),
        provides: "only what std's stdio imports; with no directory there is no descriptor to call them on",
    },
];

/// A call to a function the host links only as a trap (`wasi:io/poll`,
/// the monotonic clock's `subscribe-*`, the filesystem's methods).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the plugin called {interface}#{function}, which Sigil refuses: {why}")]
pub struct ForbiddenCall {
    /// The interface (without version).
    pub interface: &'static str,
    /// The function.
    pub function: &'static str,
    /// Why it is refused.
    pub why: &'static str,
}

/// Refuse a component that imports anything outside the allow-list (or
/// the contract's `types`), naming the first such import.
pub fn check(
    engine: &Engine,
    component: &wasmtime::component::Component,
    contract_types: &str,
) -> Result<(), PluginError> {
    let ty = component.component_type();
    for (name, item) in ty.imports(engine) {
        if name == contract_types {
            continue;
        }
        let (interface, version) = name.split_once('@').unwrap_or((name, ""));
        let allowed = ALLOWED.iter().find(|a| a.interface == interface);
        let Some(allowed) = allowed else {
            return Err(forbidden(name, reason(interface)));
        };
        if version.split('.').take(2).collect::<Vec<_>>().join(".") != WASI_VERSION {
            return Err(forbidden(
                name,
                "Sigil provides WASI 0.2 to plugins; build for wasm32-wasip2",
            ));
        }
        let ComponentItem::ComponentInstance(instance) = item.ty else {
            return Err(forbidden(name, "it is not an interface"));
        };
        if let Functions::Only(functions) = allowed.functions {
            for (function, item) in instance.exports(engine) {
                if matches!(item.ty, ComponentItem::ComponentFunc(_))
                    && !functions.contains(&function)
                {
                    return Err(forbidden(&format!("{name}#{function}"), reason(interface)));
                }
            }
        }
    }
    Ok(())
}

fn forbidden(import: &str, reason: &'static str) -> PluginError {
    PluginError::ForbiddenImport {
        import: import.to_owned(),
        reason,
    }
}

/// Why an interface outside the allow-list is refused.
fn reason(interface: &str) -> &'static str {
    if interface.starts_with("wasi:filesystem/") {
        "plugins get no filesystem"
    } else if interface.starts_with("wasi:sockets/") || interface.starts_with("wasi:http/") {
        "plugins get no network"
    } else {
        "it is not on the list of what plugins may import (PLUGINS.md)"
    }
}

/// The linker every plugin is instantiated with: the allow-list, the
/// trapping stubs, the inert filesystem and the contract's types.
pub fn linker(engine: &Engine, contract_types: &[&str]) -> wasmtime::Result<Linker<SandboxState>> {
    let mut linker = Linker::new(engine);
    let l = &mut linker;
    cli::environment::add_to_linker::<_, WasiCli>(l, <SandboxState as WasiCliView>::cli)?;
    cli::exit::add_to_linker::<_, WasiCli>(l, <SandboxState as WasiCliView>::cli)?;
    cli::stdin::add_to_linker::<_, WasiCli>(l, <SandboxState as WasiCliView>::cli)?;
    cli::stdout::add_to_linker::<_, WasiCli>(l, <SandboxState as WasiCliView>::cli)?;
    cli::stderr::add_to_linker::<_, WasiCli>(l, <SandboxState as WasiCliView>::cli)?;
    cli::terminal_input::add_to_linker::<_, WasiCli>(l, <SandboxState as WasiCliView>::cli)?;
    cli::terminal_output::add_to_linker::<_, WasiCli>(l, <SandboxState as WasiCliView>::cli)?;
    cli::terminal_stdin::add_to_linker::<_, WasiCli>(l, <SandboxState as WasiCliView>::cli)?;
    cli::terminal_stdout::add_to_linker::<_, WasiCli>(l, <SandboxState as WasiCliView>::cli)?;
    cli::terminal_stderr::add_to_linker::<_, WasiCli>(l, <SandboxState as WasiCliView>::cli)?;
    sync::io::error::add_to_linker::<_, HasTable>(l, table)?;
    sync::io::streams::add_to_linker::<_, HasTable>(l, table)?;
    clocks::wall_clock::add_to_linker::<_, WasiClocks>(
        l,
        <SandboxState as WasiClocksView>::clocks,
    )?;
    random::random::add_to_linker::<_, WasiRandom>(l, random_ctx)?;
    random::insecure::add_to_linker::<_, WasiRandom>(l, random_ctx)?;
    random::insecure_seed::add_to_linker::<_, WasiRandom>(l, random_ctx)?;
    add_poll(l)?;
    add_monotonic_clock(l)?;
    add_inert_filesystem(l)?;
    for types in contract_types {
        l.instance(types)?;
    }
    Ok(linker)
}

/// `wasi:io/poll` without waiting: its resource (which the streams'
/// `subscribe` hands out), and its functions as traps.
fn add_poll(linker: &mut Linker<SandboxState>) -> wasmtime::Result<()> {
    let mut poll = linker.instance(&versioned("wasi:io/poll"))?;
    poll.resource(
        "pollable",
        ResourceType::host::<DynPollable>(),
        |mut store, rep| {
            store
                .data_mut()
                .ctx()
                .table
                .delete(Resource::<DynPollable>::new_own(rep))?;
            Ok(())
        },
    )?;
    for function in ["poll", "[method]pollable.block", "[method]pollable.ready"] {
        trap(&mut poll, "wasi:io/poll", function, "a plugin may not wait")?;
    }
    Ok(())
}

/// `wasi:clocks/monotonic-clock` frozen at zero, with no way to sleep.
fn add_monotonic_clock(linker: &mut Linker<SandboxState>) -> wasmtime::Result<()> {
    let mut clock = linker.instance(&versioned("wasi:clocks/monotonic-clock"))?;
    clock.func_wrap("now", |_, (): ()| Ok((0u64,)))?;
    clock.func_wrap("resolution", |_, (): ()| Ok((1_000_000_000u64,)))?;
    for function in ["subscribe-instant", "subscribe-duration"] {
        trap(
            &mut clock,
            "wasi:clocks/monotonic-clock",
            function,
            "a plugin may not sleep",
        )?;
    }
    Ok(())
}

/// `wasi:filesystem` as std's stdio imports it, with nothing in it: no
/// directory, hence no descriptor on which the methods could be called
/// (they trap, should one ever be).
fn add_inert_filesystem(linker: &mut Linker<SandboxState>) -> wasmtime::Result<()> {
    let mut types = linker.instance(&versioned("wasi:filesystem/types"))?;
    types.resource(
        "descriptor",
        ResourceType::host::<NoDescriptor>(),
        |_, _| Ok(()),
    )?;
    let Some(Allowed {
        functions: Functions::Only(functions),
        ..
    }) = ALLOWED
        .iter()
        .find(|a| a.interface == "wasi:filesystem/types")
    else {
        wasmtime::bail!("the allow-list lost wasi:filesystem/types");
    };
    for &function in *functions {
        if function == "filesystem-error-code" {
            // An I/O error of a stream is never a filesystem error here.
            types.func_new(function, |_, _, _, results: &mut [Val]| {
                if let Some(result) = results.first_mut() {
                    *result = Val::Option(None);
                }
                Ok(())
            })?;
        } else {
            trap(
                &mut types,
                "wasi:filesystem/types",
                function,
                "plugins get no filesystem",
            )?;
        }
    }
    let mut preopens = linker.instance(&versioned("wasi:filesystem/preopens"))?;
    preopens.func_new("get-directories", |_, _, _, results: &mut [Val]| {
        if let Some(result) = results.first_mut() {
            *result = Val::List(Vec::new());
        }
        Ok(())
    })?;
    Ok(())
}

/// A file descriptor: the host never makes one.
enum NoDescriptor {}

/// Link `function` as a stub that fails the call with [`ForbiddenCall`].
fn trap(
    instance: &mut LinkerInstance<'_, SandboxState>,
    interface: &'static str,
    function: &'static str,
    why: &'static str,
) -> wasmtime::Result<()> {
    instance.func_new(function, move |_, _, _, _| {
        Err(wasmtime::Error::new(ForbiddenCall {
            interface,
            function,
            why,
        }))
    })
}

/// The name the linker defines an interface under (any 0.2.x import
/// matches it).
fn versioned(interface: &str) -> String {
    format!("{interface}@{WASI_VERSION}.0")
}

/// Host data of the `wasi:io` interfaces: the store's resource table.
struct HasTable;

impl HasData for HasTable {
    type Data<'a> = &'a mut ResourceTable;
}

fn table(state: &mut SandboxState) -> &mut ResourceTable {
    state.ctx().table
}

fn random_ctx(state: &mut SandboxState) -> &mut wasmtime_wasi::random::WasiRandomCtx {
    state.ctx().ctx.random()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(wat: &str) -> Result<(), PluginError> {
        let engine =
            Engine::new(wasmtime::Config::new().wasm_component_model(true)).expect("engine");
        let bytes = wat::parse_str(wat).expect("valid text");
        let component = wasmtime::component::Component::new(&engine, bytes).expect("compiles");
        check(&engine, &component, "sigil:plugin/types@0.1.0")
    }

    fn refused(wat: &str) -> (String, &'static str) {
        match checked(wat) {
            Err(PluginError::ForbiddenImport { import, reason }) => (import, reason),
            other => panic!("expected a forbidden import, got {other:?}"),
        }
    }

    #[test]
    fn allowed_interfaces_pass_at_any_0_2_version() {
        checked(
            r#"(component
                 (import "wasi:cli/stderr@0.2.3" (instance))
                 (import "wasi:random/random@0.2.6" (instance (export "get-random-u64" (func (result u64)))))
                 (import "wasi:clocks/monotonic-clock@0.2.0" (instance (export "now" (func (result u64)))))
                 (import "sigil:plugin/types@0.1.0" (instance)))"#,
        )
        .expect("admitted");
    }

    #[test]
    fn sockets_http_and_unknown_interfaces_are_refused_by_name() {
        assert_eq!(
            refused(r#"(component (import "wasi:sockets/tcp@0.2.6" (instance)))"#),
            ("wasi:sockets/tcp@0.2.6".into(), "plugins get no network")
        );
        assert_eq!(
            refused(r#"(component (import "wasi:http/outgoing-handler@0.2.6" (instance)))"#),
            (
                "wasi:http/outgoing-handler@0.2.6".into(),
                "plugins get no network"
            )
        );
        let (import, reason) = refused(r#"(component (import "acme:spy/leak@1.0.0" (instance)))"#);
        assert_eq!(import, "acme:spy/leak@1.0.0");
        assert!(reason.contains("not on the list"), "{reason}");
    }

    #[test]
    fn only_stdios_sliver_of_the_filesystem_passes() {
        checked(
            r#"(component
                 (import "wasi:filesystem/preopens@0.2.6" (instance (export "get-directories" (func))))
                 (import "wasi:filesystem/types@0.2.6" (instance (export "filesystem-error-code" (func)))))"#,
        )
        .expect("admitted");
        assert_eq!(
            refused(
                r#"(component (import "wasi:filesystem/types@0.2.6" (instance
                     (export "filesystem-error-code" (func))
                     (export "open-at" (func)))))"#
            ),
            (
                "wasi:filesystem/types@0.2.6#open-at".into(),
                "plugins get no filesystem"
            )
        );
    }

    #[test]
    fn other_wasi_versions_are_refused() {
        let (import, reason) =
            refused(r#"(component (import "wasi:io/streams@0.3.0" (instance)))"#);
        assert_eq!(import, "wasi:io/streams@0.3.0");
        assert!(reason.contains("WASI 0.2"), "{reason}");
    }

    /// The linker provides every allowed interface: a component importing
    /// each links (and the trapping stubs are there).
    #[test]
    fn the_linker_provides_the_allow_list() {
        let engine =
            Engine::new(wasmtime::Config::new().wasm_component_model(true)).expect("engine");
        let linker = linker(&engine, &["sigil:plugin/types@0.1.0"]).expect("linker");
        let bytes = wat::parse_str(
            r#"(component
                 (import "wasi:clocks/monotonic-clock@0.2.6" (instance $clock
                   (export "now" (func (result u64)))
                   (export "subscribe-duration" (func (param "when" u64)))))
                 (import "wasi:io/poll@0.2.6" (instance
                   (export "pollable" (type (sub resource)))))
                 (import "wasi:filesystem/preopens@0.2.6" (instance
                   (export "get-directories" (func (result (list string))))))
                 (core func $sleep (canon lower (func $clock "subscribe-duration")))
                 (core module $m
                   (import "" "sleep" (func $sleep (param i64)))
                   (func (export "run") (call $sleep (i64.const 1000000000))))
                 (core instance $i (instantiate $m (with "" (instance (export "sleep" (func $sleep))))))
                 (func (export "run") (canon lift (core func $i "run"))))"#,
        )
        .expect("valid text");
        let component = wasmtime::component::Component::new(&engine, bytes).expect("compiles");
        check(&engine, &component, "sigil:plugin/types@0.1.0").expect("admitted");
        let mut store = wasmtime::Store::new(&engine, SandboxState::new(1 << 20));
        let instance = linker.instantiate(&mut store, &component).expect("links");
        let run = instance
            .get_typed_func::<(), ()>(&mut store, "run")
            .expect("export");
        let error = run.call(&mut store, ()).expect_err("traps");
        let call = error
            .downcast_ref::<ForbiddenCall>()
            .expect("a forbidden call");
        assert_eq!(call.function, "subscribe-duration");
    }
}
