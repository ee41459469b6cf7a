//! [`BundleError`]: everything that can go wrong while building, writing or reading a flash bundle.

use std::io;
use std::path::PathBuf;

use espctl_protocol::chip::{Arch, Chip};
use espctl_protocol::error::ErrorCode;

/// A failure of the bundle subsystem. Each message says what went wrong and what to do about it;
/// [`BundleError::hint`] adds background where there is some.
#[derive(thiserror::Error, Debug)]
pub enum BundleError {
    #[error("unknown target `{name}`; build.rust_elf accepts {}", Chip::list(&Chip::RUST_NO_STD))]
    UnknownTarget { name: String },

    #[error(
        "target {chip} is not supported by build.rust_elf: the Rust no_std Xtensa/RISC-V toolchain \
         doesn't cover it yet; pick one of {} or build the project with ESP-IDF (`espctl build`), \
         which supports every chip",
        Chip::list(&Chip::RUST_NO_STD)
    )]
    UnsupportedTarget { chip: Chip },

    #[error(
        "the ELF path `{path}` is relative, but the daemon cannot know which directory it is relative \
         to; pass an absolute path"
    )]
    RelativeElfPath { path: PathBuf },

    #[error(
        "the output path `{path}` is relative, but the daemon cannot know which directory it is \
         relative to; pass an absolute path or leave it out to write next to the ELF"
    )]
    RelativeOutPath { path: PathBuf },

    #[error("no ELF file at {path}; check the path, or build the firmware first")]
    ElfNotFound { path: PathBuf },

    #[error("{path} is a directory, not an ELF file; pass the firmware file itself")]
    ElfIsDirectory { path: PathBuf },

    #[error("could not read the ELF {path}: {source}; check that the file is readable")]
    ElfUnreadable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error(
        "{file} is not an ELF file (it does not start with the ELF magic \\x7fELF); pass the ELF the \
         compiler produced, not a .bin image or a flash bundle"
    )]
    NotAnElf { file: String },

    #[error("{file} is not an ESP32 firmware ELF: {reason}")]
    UnsupportedElf { file: String, reason: String },

    #[error(
        "{file} is an ELF for {} (e_machine {machine}), not for an ESP32; pass the firmware built for \
         the chip (for example target/xtensa-esp32s3-none-elf/release/<app>), not a host program",
        machine_name(*machine)
    )]
    ForeignArchitecture { file: String, machine: u16 },

    #[error(
        "{file} is a{} {elf_arch} ELF but {chip} is a{} {} chip; pass --target {} (or another {elf_arch} \
         chip: {}), or rebuild the firmware for {chip}",
        article(*elf_arch),
        article(chip.arch()),
        chip.arch(),
        suggested_chip(*elf_arch),
        other_chips(*elf_arch)
    )]
    WrongArchitecture {
        file: String,
        elf_arch: Arch,
        chip: Chip,
    },

    #[error(
        "{file} was built for {built_for} (its .espressif.metadata says so) but the target is {chip}; \
         pass --target {built_for}, or rebuild the firmware for {chip}"
    )]
    WrongChip {
        file: String,
        built_for: Chip,
        chip: Chip,
    },

    #[error(
        "{file} is a corrupt or truncated ELF ({detail}); rebuild the firmware, or copy it again if it \
         was transferred"
    )]
    CorruptElf { file: String, detail: String },

    #[error(
        "{file} has no ESP-IDF application descriptor (no `.flash.appdesc` section holding the magic \
         0xABCD5432), so the second-stage bootloader would refuse to boot it; {}",
        if *esp_hal {
            "add `esp_bootloader_esp_idf::esp_app_desc!();` to the application (crate \
             esp-bootloader-esp-idf) and rebuild"
        } else {
            "add an `esp_app_desc_t` in section `.flash.appdesc` at the start of DROM (in Rust: the \
             `esp_bootloader_esp_idf::esp_app_desc!()` macro) and rebuild"
        }
    )]
    NoAppDescriptor { file: String, esp_hal: bool },

    #[error("{file} has an unusable ESP-IDF application descriptor: {detail}")]
    BadAppDescriptor { file: String, detail: String },

    #[error("flash mode `{value}` is not valid; use qio, qout, dio or dout")]
    InvalidFlashMode { value: String },

    #[error("flash frequency `{value}` is not supported by the {chip}; use one of {accepted}")]
    InvalidFlashFreq {
        value: String,
        chip: Chip,
        accepted: String,
    },

    #[error(
        "flash size `{value}` is not valid; use 1mb, 2mb, 4mb, 8mb, 16mb, 32mb, 64mb or 128mb (the size \
         of the flash chip on the board)"
    )]
    InvalidFlashSize { value: String },

    #[error(
        "the application image of {file} is {app_size} bytes, which does not fit the {partition_size}-byte \
         app partition of a {flash_size} flash; pass a larger flash size if the board has one, or make \
         the firmware smaller (build with --release, opt-level = \"s\")"
    )]
    AppTooBig {
        file: String,
        app_size: u32,
        partition_size: u32,
        flash_size: String,
    },

    #[error("espflash could not turn {file} into a flash image: {detail}")]
    ImageFailed { file: String, detail: String },

    #[error(
        "cannot write the bundle to {path}: it is a directory; pass a file path such as \
         {path}/app-flash-bundle.tar.gz"
    )]
    OutPathIsDirectory { path: PathBuf },

    #[error(
        "cannot write the bundle to {path}: the directory {dir} does not exist; create it or pass \
         another output path"
    )]
    OutDirMissing { path: PathBuf, dir: PathBuf },

    #[error(
        "cannot write the bundle to {path}: {source}; check that the directory exists and is writable, \
         or pass another output path"
    )]
    WriteFailed {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("refusing to write an inconsistent bundle: {detail}")]
    InconsistentBundle { detail: String },

    #[error("no flash bundle at {path}; check the path, or build one first")]
    BundleNotFound { path: PathBuf },

    #[error(
        "could not read the flash bundle {path}: {source}; check that it is a readable .tar.gz"
    )]
    BundleUnreadable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{path} is not a valid flash bundle: {reason}; rebuild the bundle")]
    InvalidBundle { path: PathBuf, reason: String },

    #[error(
        "{path} has manifest schema_version {found}, but this espctl reads version {}; rebuild the \
         bundle with this espctl, or upgrade espctl",
        espctl_protocol::bundle::MANIFEST_SCHEMA_VERSION
    )]
    UnsupportedSchema { path: PathBuf, found: String },
}

impl BundleError {
    /// The JSON-RPC error code the daemon answers with.
    pub fn code(&self) -> ErrorCode {
        use BundleError::*;
        match self {
            UnknownTarget { .. } | UnsupportedTarget { .. } => ErrorCode::InvalidTarget,
            RelativeElfPath { .. }
            | RelativeOutPath { .. }
            | ElfNotFound { .. }
            | ElfIsDirectory { .. }
            | ElfUnreadable { .. }
            | NotAnElf { .. }
            | UnsupportedElf { .. }
            | ForeignArchitecture { .. }
            | WrongArchitecture { .. }
            | WrongChip { .. }
            | CorruptElf { .. }
            | NoAppDescriptor { .. }
            | BadAppDescriptor { .. }
            | InvalidFlashMode { .. }
            | InvalidFlashFreq { .. }
            | InvalidFlashSize { .. }
            | AppTooBig { .. }
            | ImageFailed { .. }
            | BundleNotFound { .. }
            | InvalidBundle { .. }
            | UnsupportedSchema { .. } => ErrorCode::InvalidInput,
            OutPathIsDirectory { .. }
            | OutDirMissing { .. }
            | WriteFailed { .. }
            | BundleUnreadable { .. } => ErrorCode::Runtime,
            InconsistentBundle { .. } => ErrorCode::Internal,
        }
    }

    /// Background that helps the user act on the error, beyond what the message says.
    pub fn hint(&self) -> Option<String> {
        use BundleError::*;
        let hint = match self {
            UnknownTarget { .. } | UnsupportedTarget { .. } => format!(
                "build.rust_elf takes {}; the default is esp32s3",
                Chip::list(&Chip::RUST_NO_STD)
            ),
            RelativeElfPath { .. } | RelativeOutPath { .. } => {
                "the espctl CLI makes paths absolute for you; MCP and JSON-RPC callers must do it \
                 themselves"
                    .to_string()
            }
            ElfNotFound { .. } => {
                "cargo puts firmware under target/<triple>/<profile>/<binary name>, without an \
                 extension"
                    .to_string()
            }
            WrongArchitecture { .. } | WrongChip { .. } | ForeignArchitecture { .. } => {
                "Xtensa chips: esp32, esp32s2, esp32s3 (targets xtensa-esp32*-none-elf); RISC-V chips: \
                 esp32c2, esp32c3 (riscv32imc-unknown-none-elf), esp32c6, esp32h2 \
                 (riscv32imac-unknown-none-elf)"
                    .to_string()
            }
            NoAppDescriptor { .. } | BadAppDescriptor { .. } => {
                "the ESP-IDF bootloader reads the descriptor (esp_app_desc_t, 256 bytes, magic \
                 0xABCD5432) from the start of the first flash segment; see \
                 https://docs.espressif.com/projects/rust/esp-bootloader-esp-idf/latest"
                    .to_string()
            }
            InvalidFlashFreq { .. } => {
                "leave the frequency out to use the fastest one the chip's flash clock supports"
                    .to_string()
            }
            AppTooBig { .. } => {
                "the bundle uses espflash's default partition table: one factory app partition \
                 from 0x10000 to the end of the flash (at most 16000 KiB)"
                    .to_string()
            }
            OutDirMissing { .. } | WriteFailed { .. } | OutPathIsDirectory { .. } => {
                "nothing was written at the output path; the bundle is written to a temporary file \
                 in the same directory and renamed into place only when complete"
                    .to_string()
            }
            InvalidBundle { .. } | UnsupportedSchema { .. } => {
                "a flash bundle is a .tar.gz holding manifest.json and the images under files/, \
                 as written by `espctl build`"
                    .to_string()
            }
            InconsistentBundle { .. } => "this is a bug in espctl; please report it".to_string(),
            ElfIsDirectory { .. }
            | ElfUnreadable { .. }
            | NotAnElf { .. }
            | UnsupportedElf { .. }
            | CorruptElf { .. }
            | InvalidFlashMode { .. }
            | InvalidFlashSize { .. }
            | ImageFailed { .. }
            | BundleNotFound { .. }
            | BundleUnreadable { .. } => return None,
        };
        Some(hint)
    }
}

fn machine_name(machine: u16) -> &'static str {
    match machine {
        3 => "x86",
        40 => "32-bit Arm",
        62 => "x86-64",
        183 => "AArch64",
        8 => "MIPS",
        20 | 21 => "PowerPC",
        _ => "an unknown architecture",
    }
}

fn article(arch: Arch) -> &'static str {
    match arch {
        Arch::Xtensa => "n",
        Arch::Riscv => "",
    }
}

/// The chip most projects of that architecture target, offered first in suggestions.
pub(crate) fn suggested_chip(arch: Arch) -> Chip {
    match arch {
        Arch::Xtensa => Chip::Esp32s3,
        Arch::Riscv => Chip::Esp32c3,
    }
}

fn other_chips(arch: Arch) -> String {
    let others: Vec<Chip> = Chip::RUST_NO_STD
        .into_iter()
        .filter(|c| c.arch() == arch && *c != suggested_chip(arch))
        .collect();
    Chip::list(&others)
}
