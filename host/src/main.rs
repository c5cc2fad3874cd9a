//! The `sigil` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    sigil::cli::main()
}
