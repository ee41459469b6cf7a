//! The flash bundle: a `tar.gz` holding `manifest.json` and the images under `files/`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The manifest schema version this crate writes and reads.
pub const MANIFEST_SCHEMA_VERSION: u32 = 1;

/// `manifest.json` at the root of a flash bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Manifest {
    pub schema_version: u32,
    pub build: ManifestBuild,
    pub flash: ManifestFlash,
}

/// Where a bundle came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ManifestBuild {
    /// `<UTC timestamp>-<project>`, for example `20260505T025256Z-handshake-full`.
    pub job_id: String,
    /// The daemon task that produced the bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    pub project: String,
    /// Source revision (`git rev-parse --short HEAD`), or `unknown`.
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// The ESP-IDF version, or `n/a-rust-no_std` for Rust no_std bundles.
    pub idf_version: String,
    pub target: String,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// What to write where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ManifestFlash {
    pub segments: Vec<Segment>,
    /// `qio`, `qout`, `dio` or `dout`.
    pub flash_mode: String,
    /// For example `80mhz`.
    pub flash_freq: String,
    /// For example `4mb`, `16mb`.
    pub flash_size: String,
}

/// One image at one flash offset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Segment {
    /// Hex with a `0x` prefix, for example `0x0` or `0x10000`.
    pub offset: String,
    /// Path inside the bundle, under `files/`.
    pub file: String,
    /// Lowercase hex SHA-256 of the file.
    pub sha256: String,
}
