//! Every committed corpus file (`fuzz/corpus/<target>/`) through its
//! target, as an ordinary test: what the fuzzers found once keeps passing.

use std::path::PathBuf;

#[test]
fn every_corpus_file_passes_its_target() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for (name, target) in sigil_fuzz::TARGETS {
        let dir = root.join(name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("a directory entry").path())
            .filter(|path| path.is_file())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{} has no corpus", dir.display());
        for file in files {
            let data = std::fs::read(&file).expect("a corpus file");
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "{name} fails on {}", file.display());
        }
    }
}

#[test]
fn every_fuzz_target_has_a_binary_and_a_corpus() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for (name, _) in sigil_fuzz::TARGETS {
        assert!(
            root.join("fuzz_targets")
                .join(format!("{name}.rs"))
                .is_file()
        );
        assert!(root.join("corpus").join(name).is_dir());
    }
}
