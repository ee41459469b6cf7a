//! `espctl-bench`: runs the scenarios and prints the table (or `--json`).
//!
//! Exit codes: 0 every goal met (or `--quick`); 1 a goal was missed (full runs only); 2 a scenario or
//! the setup failed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use espctl_bench::bins::{self, Bins};
use espctl_bench::harness::{Options, Scenario};
use espctl_bench::report::{self, RunInfo};
use espctl_bench::scenarios::{self, SCENARIOS};

/// Benchmarks of espctld and espctl, each figure next to a baseline measured in the same run.
/// Real figures need release builds: `cargo build --release --workspace && target/release/espctl-bench`.
#[derive(Debug, Parser)]
#[command(name = "espctl-bench", version)]
struct Args {
    /// Smoke run: every scenario measured for real but with few iterations; missed goals do not fail it.
    #[arg(long)]
    quick: bool,
    /// Print the report as JSON on stdout (progress and warnings still go to stderr).
    #[arg(long)]
    json: bool,
    /// Run only this scenario (repeat for several). `--list` names them.
    #[arg(long, value_name = "SCENARIO")]
    only: Vec<String>,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
    /// Where espctld and espctl are [default: the directory of this executable].
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// The firmware ELF to bundle [default: examples/blink-c3/blink-c3.elf of the source tree].
    #[arg(long, value_name = "PATH")]
    elf: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.list {
        for s in SCENARIOS {
            println!("{:<18} [{}] {}", s.name, s.area, s.measures);
        }
        return ExitCode::SUCCESS;
    }
    match run(args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("espctl-bench: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> anyhow::Result<u8> {
    let selected: Vec<&'static Scenario> = if args.only.is_empty() {
        SCENARIOS.iter().collect()
    } else {
        args.only
            .iter()
            .map(|name| {
                scenarios::find(name).ok_or_else(|| {
                    anyhow::anyhow!(
                        "no scenario `{name}`; there are: {}",
                        SCENARIOS
                            .iter()
                            .map(|s| s.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
            })
            .collect::<anyhow::Result<_>>()?
    };
    let bins = Bins::find(args.bin_dir.as_deref())?;
    let elf = args.elf.unwrap_or_else(bins::default_elf);
    let elf = std::fs::canonicalize(&elf).map_err(|e| {
        anyhow::anyhow!(
            "cannot find the firmware ELF {}: {e} (pass one with --elf)",
            elf.display()
        )
    })?;

    let (cores, cpu, loadavg_start) = espctl_bench::machine();
    let mut info = RunInfo {
        quick: args.quick,
        cores,
        cpu,
        bench_profile: bins::own_profile(),
        bin_profile: bins.profile(),
        bin_dir: bins.dir.display().to_string(),
        elf: elf.display().to_string(),
        loadavg_start,
        loadavg_end: Vec::new(),
    };
    let header = report::header(&info);
    let warning = report::profile_warning(&info);
    // The warning goes to stderr first, so it is seen while the run is going too.
    eprint!("{header}");
    if let Some(w) = &warning {
        eprint!("{w}");
    }

    let opts = Options {
        quick: args.quick,
        bins,
        elf,
    };
    let results = espctl_bench::run(opts, &selected, &mut |line| eprintln!("{line}"))?;
    info.loadavg_end = espctl_bench::loadavg();

    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report::json(&results, &info))?
        );
    } else {
        println!();
        print!("{header}");
        println!();
        print!("{}", report::table(&results, &info));
        if let Some(w) = &warning {
            print!("\n{w}");
        }
    }

    let (_, missed, errors) = report::counts(&results);
    Ok(if errors > 0 {
        2
    } else if missed > 0 && !args.quick {
        1
    } else {
        0
    })
}
