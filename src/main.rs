//! The `gatehouse` binary: see [`gatehouse::cli`].

use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than the system allocator: measured in `benches/load/README.md`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    gatehouse::cli::run(gatehouse::cli::Cli::parse())
}
