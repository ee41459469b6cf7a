//! Flash mode, frequency and size: parsed from what users type, normalised to the manifest's spelling
//! (`dio`, `80mhz`, `16mb`) and mapped onto espflash's types.

use espctl_protocol::chip::Chip;
use espflash::flasher::{FlashFrequency, FlashMode, FlashSize};

use super::error::BundleError;

/// Flash settings, both as espflash wants them and as the manifest records them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FlashParams {
    pub mode: FlashMode,
    pub freq: FlashFrequency,
    pub size: FlashSize,
    /// `qio`, `qout`, `dio` or `dout`.
    pub mode_name: String,
    /// For example `80mhz`.
    pub freq_name: String,
    /// For example `16mb`.
    pub size_name: String,
}

const MODES: [(&str, FlashMode); 4] = [
    ("qio", FlashMode::Qio),
    ("qout", FlashMode::Qout),
    ("dio", FlashMode::Dio),
    ("dout", FlashMode::Dout),
];

const FREQUENCIES: [(u32, FlashFrequency); 11] = [
    (12, FlashFrequency::_12Mhz),
    (15, FlashFrequency::_15Mhz),
    (16, FlashFrequency::_16Mhz),
    (20, FlashFrequency::_20Mhz),
    (24, FlashFrequency::_24Mhz),
    (26, FlashFrequency::_26Mhz),
    (30, FlashFrequency::_30Mhz),
    (40, FlashFrequency::_40Mhz),
    (48, FlashFrequency::_48Mhz),
    (60, FlashFrequency::_60Mhz),
    (80, FlashFrequency::_80Mhz),
];

/// The sizes an ESP-IDF image header can encode; 256 MB exists in espflash but no supported chip maps
/// that much.
const SIZES: [(u32, FlashSize); 8] = [
    (1, FlashSize::_1Mb),
    (2, FlashSize::_2Mb),
    (4, FlashSize::_4Mb),
    (8, FlashSize::_8Mb),
    (16, FlashSize::_16Mb),
    (32, FlashSize::_32Mb),
    (64, FlashSize::_64Mb),
    (128, FlashSize::_128Mb),
];

pub(crate) const DEFAULT_MODE: &str = "dio";
pub(crate) const DEFAULT_SIZE: &str = "16mb";

/// The espflash chip for one of ours. Every chip espctl knows exists in espflash.
pub(crate) fn espflash_chip(chip: Chip) -> espflash::target::Chip {
    use espflash::target::Chip as E;
    match chip {
        Chip::Esp32 => E::Esp32,
        Chip::Esp32s2 => E::Esp32s2,
        Chip::Esp32s3 => E::Esp32s3,
        Chip::Esp32c2 => E::Esp32c2,
        Chip::Esp32c3 => E::Esp32c3,
        Chip::Esp32c5 => E::Esp32c5,
        Chip::Esp32c6 => E::Esp32c6,
        Chip::Esp32c61 => E::Esp32c61,
        Chip::Esp32h2 => E::Esp32h2,
        Chip::Esp32p4 => E::Esp32p4,
    }
}

/// The flash frequencies (in MHz) the chip's image header can encode, slowest first.
fn chip_frequencies(chip: Chip) -> Vec<u32> {
    let encodings = espflash_chip(chip).flash_frequency_encodings();
    FREQUENCIES
        .iter()
        .filter(|(_, freq)| encodings.contains_key(freq))
        .map(|(mhz, _)| *mhz)
        .collect()
}

/// The default flash frequency: 80 MHz, or the fastest the chip supports where that is lower (60 MHz
/// on the ESP32-C2, 48 MHz on the ESP32-H2, whose flash clocks come from other PLL dividers).
pub(crate) fn default_freq_mhz(chip: Chip) -> u32 {
    chip_frequencies(chip).into_iter().max().unwrap_or(40)
}

/// Parse and check the three flash settings for `chip`, filling in the defaults.
pub(crate) fn resolve(
    chip: Chip,
    mode: Option<&str>,
    freq: Option<&str>,
    size: Option<&str>,
) -> Result<FlashParams, BundleError> {
    let mode_text = mode.unwrap_or(DEFAULT_MODE);
    let (mode_name, mode) = MODES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(mode_text.trim()))
        .ok_or_else(|| BundleError::InvalidFlashMode {
            value: mode_text.to_string(),
        })?;

    let freq_mhz = match freq {
        None => default_freq_mhz(chip),
        Some(text) => {
            parse_number_with_unit(text, &["mhz", "m"]).ok_or_else(|| invalid_freq(text, chip))?
        }
    };
    let freq_value = FREQUENCIES
        .iter()
        .find(|(mhz, _)| *mhz == freq_mhz)
        .map(|(_, f)| *f)
        .filter(|f| {
            espflash_chip(chip)
                .flash_frequency_encodings()
                .contains_key(f)
        })
        .ok_or_else(|| invalid_freq(freq.unwrap_or_default(), chip))?;

    let size_text = size.unwrap_or(DEFAULT_SIZE);
    let size_mb = parse_number_with_unit(size_text, &["mb", "m"]).ok_or_else(|| {
        BundleError::InvalidFlashSize {
            value: size_text.to_string(),
        }
    })?;
    let size_value = SIZES
        .iter()
        .find(|(mb, _)| *mb == size_mb)
        .map(|(_, s)| *s)
        .ok_or_else(|| BundleError::InvalidFlashSize {
            value: size_text.to_string(),
        })?;

    Ok(FlashParams {
        mode: *mode,
        freq: freq_value,
        size: size_value,
        mode_name: mode_name.to_string(),
        freq_name: format!("{freq_mhz}mhz"),
        size_name: format!("{size_mb}mb"),
    })
}

fn invalid_freq(value: &str, chip: Chip) -> BundleError {
    BundleError::InvalidFlashFreq {
        value: value.to_string(),
        chip,
        accepted: chip_frequencies(chip)
            .iter()
            .map(|mhz| format!("{mhz}mhz"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// `80mhz`, `80MHz`, `80m` and `80` all give 80; anything else gives `None`.
fn parse_number_with_unit(text: &str, units: &[&str]) -> Option<u32> {
    let lower = text.trim().to_ascii_lowercase();
    let digits = units
        .iter()
        .find_map(|unit| lower.strip_suffix(unit))
        .unwrap_or(&lower)
        .trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_dio_80mhz_16mb() {
        let params = resolve(Chip::Esp32s3, None, None, None).unwrap();
        assert_eq!(params.mode, FlashMode::Dio);
        assert_eq!(params.freq, FlashFrequency::_80Mhz);
        assert_eq!(params.size, FlashSize::_16Mb);
        assert_eq!(
            (params.mode_name.as_str(), params.freq_name.as_str()),
            ("dio", "80mhz")
        );
        assert_eq!(params.size_name, "16mb");
    }

    #[test]
    fn spellings_are_normalised() {
        let params = resolve(Chip::Esp32c3, Some("QIO"), Some("80m"), Some("16MB")).unwrap();
        assert_eq!(params.mode_name, "qio");
        assert_eq!(params.freq_name, "80mhz");
        assert_eq!(params.size_name, "16mb");
        let params = resolve(Chip::Esp32, Some("dout"), Some("40MHz"), Some("4m")).unwrap();
        assert_eq!(params.freq, FlashFrequency::_40Mhz);
        assert_eq!(params.size, FlashSize::_4Mb);
    }

    #[test]
    fn chips_without_80mhz_default_to_their_fastest_clock() {
        assert_eq!(
            resolve(Chip::Esp32h2, None, None, None).unwrap().freq_name,
            "48mhz"
        );
        assert_eq!(
            resolve(Chip::Esp32c2, None, None, None).unwrap().freq_name,
            "60mhz"
        );
        let err = resolve(Chip::Esp32h2, None, Some("80mhz"), None).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("80mhz") && text.contains("esp32h2") && text.contains("48mhz"),
            "{text}"
        );
    }

    #[test]
    fn bad_values_are_refused_with_the_accepted_ones() {
        let err = resolve(Chip::Esp32s3, Some("quad"), None, None).unwrap_err();
        assert!(matches!(err, BundleError::InvalidFlashMode { .. }));
        assert!(err.to_string().contains("qio, qout, dio or dout"));

        for bad in ["fast", "33mhz", "", "80 ghz"] {
            let err = resolve(Chip::Esp32s3, None, Some(bad), None).unwrap_err();
            assert!(
                matches!(err, BundleError::InvalidFlashFreq { .. }),
                "{bad}: {err}"
            );
        }
        for bad in ["3mb", "256mb", "512kb", "big", "16gb"] {
            let err = resolve(Chip::Esp32s3, None, None, Some(bad)).unwrap_err();
            assert!(
                matches!(err, BundleError::InvalidFlashSize { .. }),
                "{bad}: {err}"
            );
            assert_eq!(err.code(), espctl_protocol::error::ErrorCode::InvalidInput);
        }
    }
}
