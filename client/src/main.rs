//! `espctl`: the command-line client of the espctld daemon. See [`cli`] for the commands and exit codes.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
