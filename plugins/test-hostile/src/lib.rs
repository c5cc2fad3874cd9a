//! A deliberately hostile plugin for the host's sandbox tests. It serves the
//! made-up algorithm `HOSTILE` and misbehaves according to the first byte of
//! the signature it is asked to verify:
//!
//! | byte | behaviour |
//! |------|-----------|
//! | 0    | answers `ok(false)` |
//! | 1    | answers `ok(true)` |
//! | 2    | loops forever |
//! | 3    | allocates until memory runs out |
//! | 4    | panics (a trap) |
//! | 5    | recurses until the stack overflows |
//! | 6    | tries to read the clock and the environment and answers `ok(true)` only if it learnt anything |
//! | 7    | sleeps for an hour (`std::thread::sleep`: `wasi:clocks/monotonic-clock` `subscribe-duration`, then `wasi:io/poll`) |
//! | 8    | reads `/etc/passwd` (only built with the `fs` feature: imports `wasi:filesystem` beyond what std's stdio needs) |
//! | 9    | takes the network (only built with the `net` feature: imports `wasi:sockets/instance-network`) |
//!
//! Built with `SIGIL_HOSTILE_DESCRIBE=loop`, `=trap` or `=sleep` it
//! misbehaves in `describe` instead (for the admission tests). The `fs`
//! and `net` variants exist to be refused at admission.

use std::hint::black_box;

use sigil_plugin_sdk::{
    AlgorithmType, Descriptor, Error, KeyFormat, KeyInfo, MessageInput, Plugin, SignatureEncoding,
    SignatureScheme, VerifyRequest, keys,
};

struct Hostile;

impl Plugin for Hostile {
    fn describe() -> Descriptor {
        // Variants built for admission tests misbehave here already.
        match option_env!("SIGIL_HOSTILE_DESCRIBE") {
            Some("loop") => loop {
                black_box(());
            },
            Some("trap") => panic!("hostile plugin traps in describe"),
            Some("sleep") => std::thread::sleep(std::time::Duration::from_secs(3600)),
            _ => {}
        }
        Descriptor {
            name: "hostile".into(),
            version: sigil_plugin_sdk::plugin_version!().into(),
            algorithm: "HOSTILE".into(),
            algorithm_type: AlgorithmType::Other,
            description: "misbehaves on request, for sandbox tests".into(),
            parameter_sets: vec![],
            key_formats: vec![KeyFormat::Raw],
            input: MessageInput::RawMessage,
            hashes: vec![],
            default_hash: None,
            signature_encodings: vec![SignatureEncoding::Raw],
            schemes: vec![SignatureScheme::Plain],
            max_context_bytes: 0,
        }
    }

    fn parse_key(
        key: Vec<u8>,
        _format: KeyFormat,
        _curve: Option<String>,
    ) -> Result<KeyInfo, Error> {
        Ok(keys::key_info(
            None,
            8 * u32::try_from(key.len()).unwrap_or(0),
            key,
        ))
    }

    fn verify(request: VerifyRequest) -> Result<bool, Error> {
        match request.signature.first().copied() {
            Some(1) => Ok(true),
            Some(2) => loop {
                black_box(&request);
            },
            Some(3) => {
                // Grow by a MiB at a time, touching one byte of each: the
                // linear memory really grows to the cap, without spending
                // the call's deadline on writing every page.
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    let mut chunk = Vec::<u8>::with_capacity(1 << 20);
                    chunk.push(0xa5);
                    hoard.push(black_box(chunk));
                    black_box(&hoard);
                }
            }
            Some(4) => panic!("hostile plugin panics on request"),
            Some(5) => Ok(recurse(black_box(1)) > 0),
            Some(6) => Ok(learnt_something()),
            Some(7) => {
                std::thread::sleep(std::time::Duration::from_secs(3600));
                Ok(true)
            }
            #[cfg(feature = "fs")]
            Some(8) => Ok(std::fs::read("/etc/passwd").is_ok()),
            #[cfg(feature = "net")]
            Some(9) => {
                let network = net::wasi::sockets::instance_network::instance_network();
                black_box(&network);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// `wasi:sockets` as std::net would import it (the part needed to reach
/// the network), for the `net` variant.
#[cfg(feature = "net")]
mod net {
    wit_bindgen::generate!({
        path: "wit/sockets.wit",
        world: "wasi:sockets/hostile-net",
    });
}

fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 64]);
    if frame[0] == u64::MAX {
        return 0;
    }
    recurse(frame[0] + 1) + frame[63]
}

/// Whether any ambient authority leaks into the sandbox: a wall clock or a
/// monotonic clock that moves, environment variables or arguments. (Files
/// and the network are not even importable: see the `fs` and `net`
/// variants, which admission refuses.)
fn learnt_something() -> bool {
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() > 0)
        .unwrap_or(false);
    let started = std::time::Instant::now();
    let moving =
        (0..100_000u64).map(black_box).sum::<u64>() > 0 && started.elapsed().as_nanos() > 0;
    let env = std::env::vars().next().is_some() || std::env::args().next().is_some();
    clock || moving || env
}

sigil_plugin_sdk::export_plugin!(Hostile);
