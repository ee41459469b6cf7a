//! The ESP32 chips espctl knows, and what each supports.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A chip (an ESP-IDF `IDF_TARGET`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Chip {
    Esp32,
    Esp32s2,
    Esp32s3,
    Esp32c2,
    Esp32c3,
    Esp32c5,
    Esp32c6,
    Esp32c61,
    Esp32h2,
    Esp32p4,
}

/// The CPU architecture of a chip: decides which ELFs it can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    Xtensa,
    Riscv,
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Arch::Xtensa => "Xtensa",
            Arch::Riscv => "RISC-V",
        })
    }
}

impl Chip {
    /// Every chip, in the order the ESP-IDF documentation lists them.
    pub const ALL: [Chip; 10] = [
        Chip::Esp32,
        Chip::Esp32s2,
        Chip::Esp32s3,
        Chip::Esp32c2,
        Chip::Esp32c3,
        Chip::Esp32c5,
        Chip::Esp32c6,
        Chip::Esp32c61,
        Chip::Esp32h2,
        Chip::Esp32p4,
    ];

    /// The chips `build.rust_elf` accepts: the Rust no_std toolchains do not cover the others yet.
    pub const RUST_NO_STD: [Chip; 7] = [
        Chip::Esp32,
        Chip::Esp32s2,
        Chip::Esp32s3,
        Chip::Esp32c2,
        Chip::Esp32c3,
        Chip::Esp32c6,
        Chip::Esp32h2,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Chip::Esp32 => "esp32",
            Chip::Esp32s2 => "esp32s2",
            Chip::Esp32s3 => "esp32s3",
            Chip::Esp32c2 => "esp32c2",
            Chip::Esp32c3 => "esp32c3",
            Chip::Esp32c5 => "esp32c5",
            Chip::Esp32c6 => "esp32c6",
            Chip::Esp32c61 => "esp32c61",
            Chip::Esp32h2 => "esp32h2",
            Chip::Esp32p4 => "esp32p4",
        }
    }

    pub fn arch(self) -> Arch {
        match self {
            Chip::Esp32 | Chip::Esp32s2 | Chip::Esp32s3 => Arch::Xtensa,
            _ => Arch::Riscv,
        }
    }

    pub fn supports_rust_no_std(self) -> bool {
        Self::RUST_NO_STD.contains(&self)
    }

    /// Offset of the second-stage bootloader in flash: 0x1000 on the older chips, 0x0 on most newer
    /// ones, 0x2000 on the ESP32-C5 and ESP32-P4.
    pub fn bootloader_offset(self) -> u32 {
        match self {
            Chip::Esp32 | Chip::Esp32s2 => 0x1000,
            Chip::Esp32c5 | Chip::Esp32p4 => 0x2000,
            _ => 0x0,
        }
    }

    /// A comma-separated list of names, for error messages.
    pub fn list(chips: &[Chip]) -> String {
        chips
            .iter()
            .map(|c| c.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Chip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A chip name that is not one of [`Chip::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownChip(pub String);

impl fmt::Display for UnknownChip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown target `{}`; valid targets are: {}",
            self.0,
            Chip::list(&Chip::ALL)
        )
    }
}

impl std::error::Error for UnknownChip {}

impl FromStr for Chip {
    type Err = UnknownChip;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace(['-', '_'], "");
        Chip::ALL
            .into_iter()
            .find(|c| c.name() == wanted)
            .ok_or_else(|| UnknownChip(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for chip in Chip::ALL {
            assert_eq!(chip.name().parse::<Chip>().unwrap(), chip);
            assert_eq!(
                serde_json::to_string(&chip).unwrap(),
                format!("\"{}\"", chip.name())
            );
        }
        assert_eq!("ESP32-C3".parse::<Chip>().unwrap(), Chip::Esp32c3);
    }

    #[test]
    fn unknown_chip_lists_valid_ones() {
        let err = "esp8266".parse::<Chip>().unwrap_err().to_string();
        assert!(err.contains("esp8266") && err.contains("esp32c61"), "{err}");
    }

    #[test]
    fn rust_chips_exclude_new_ones() {
        for chip in [Chip::Esp32p4, Chip::Esp32c5, Chip::Esp32c61] {
            assert!(!chip.supports_rust_no_std());
        }
        assert_eq!(Chip::Esp32s3.arch(), Arch::Xtensa);
        assert_eq!(Chip::Esp32c3.arch(), Arch::Riscv);
    }
}
