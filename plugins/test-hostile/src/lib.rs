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
//! | 6    | tries to read the clock, the environment and randomness and answers `ok(true)` only if it learnt anything |
//!
//! Built with `SIGIL_HOSTILE_DESCRIBE=loop` or `=trap` it misbehaves in
//! `describe` instead (for the admission tests).

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
            _ => {}
        }
        Descriptor {
            name: "hostile".into(),
            version: sigil_plugin_sdk::plugin_version!().into(),
            algorithm: "HOSTILE".into(),
            algorithm_type: AlgorithmType::Other,
            description: "misbehaves on request, for sandbox tests".into(),
            curves: vec![],
            key_formats: vec![KeyFormat::Raw],
            input: MessageInput::RawMessage,
            hashes: vec![],
            default_hash: None,
            signature_encodings: vec![SignatureEncoding::Raw],
            schemes: vec![SignatureScheme::Plain],
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
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![0xa5; 1 << 20]);
                    black_box(&hoard);
                }
            }
            Some(4) => panic!("hostile plugin panics on request"),
            Some(5) => Ok(recurse(black_box(1)) > 0),
            Some(6) => Ok(learnt_something()),
            _ => Ok(false),
        }
    }
}

fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 64]);
    if frame[0] == u64::MAX {
        return 0;
    }
    recurse(frame[0] + 1) + frame[63]
}

/// Whether any ambient authority leaks into the sandbox: a wall clock that
/// moves, environment variables, arguments, files, or randomness that differs
/// between two fresh instances (the host calls this in two instances).
fn learnt_something() -> bool {
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() > 0)
        .unwrap_or(false);
    let env = std::env::vars().next().is_some() || std::env::args().next().is_some();
    let files = std::fs::read_dir("/").is_ok() || std::fs::read("/etc/passwd").is_ok();
    clock || env || files
}

sigil_plugin_sdk::export_plugin!(Hostile);
