//! Flash bundles: the `tar.gz` (a `manifest.json` plus images under `files/`) that `espctl flash`
//! writes to a chip.
//!
//! Main types and entry points:
//! - [`build_rust_elf_bundle`] turns a Rust no_std firmware ELF ([`RustElfRequest`]) into a bundle
//!   ([`BundleOutput`]) holding one merged image at offset 0: espflash's second-stage bootloader for
//!   the chip, its default partition table and the application image, built with the espflash crate.
//!   [`validate_rust_target`] checks the chip first.
//! - [`write_bundle`] writes any bundle atomically; ESP-IDF builds use it too.
//! - [`read_bundle`] reads one back as a [`VerifiedBundle`], refusing anything unsafe or inconsistent.
//! - [`BundleError`] says what went wrong and what to do, and maps to an
//!   [`ErrorCode`](espctl_protocol::error::ErrorCode).
//! - [`synth`] builds minimal application ELFs; it is a stand-in used by tests.
//!
//! Everything here is synchronous and blocking; the daemon calls it from `spawn_blocking`.

mod archive;
mod elf;
mod error;
mod image;
mod rust_elf;
mod settings;
pub mod synth;

#[cfg(test)]
mod tests;

pub use archive::{
    FILES_DIR, MANIFEST_PATH, VerifiedBundle, read_bundle, sha256_hex, write_bundle,
};
pub use error::BundleError;
pub use rust_elf::{
    BundleOutput, DEFAULT_RUST_TARGET, FIRMWARE_FILE, RUST_NO_STD_IDF_VERSION, RustElfRequest,
    build_rust_elf_bundle, default_out_path, project_name, validate_rust_target,
};
