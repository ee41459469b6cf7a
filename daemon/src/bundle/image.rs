//! The merged flash image: espflash's ESP-IDF image format (its bundled second-stage bootloader, its
//! default partition table and the application image), laid out from flash offset 0 in one file.

use std::panic::{AssertUnwindSafe, catch_unwind};

use espctl_protocol::chip::Chip;
use espflash::flasher::{FlashData, FlashSettings};
use espflash::image_format::idf::IdfBootloaderFormat;

use super::error::BundleError;
use super::settings::{FlashParams, espflash_chip};

/// Flash that was never written reads as 0xFF, so gaps get that value: the merged image then writes
/// exactly what flashing the parts one by one would leave behind.
const ERASED: u8 = 0xFF;

/// One part of the merged image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    pub name: &'static str,
    pub offset: u32,
    pub len: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct MergedImage {
    /// Bootloader, partition table and app, from flash offset 0.
    pub data: Vec<u8>,
    pub parts: Vec<Part>,
    /// The app image size and the app partition size, in bytes.
    pub app_size: u32,
    pub partition_size: u32,
}

/// Build the merged image for `chip` from the ELF in `elf`, which [`super::elf::check`] accepted.
///
/// Unlike `espflash save-image --merge` without `--skip-padding`, the image is not padded to the flash
/// size: the padding is all 0xFF, and writing it would make every flash erase the whole chip.
pub(crate) fn merged_image(
    elf: &[u8],
    file: &str,
    chip: Chip,
    params: &FlashParams,
) -> Result<MergedImage, BundleError> {
    let target = espflash_chip(chip);
    let flash_data = FlashData::new(
        FlashSettings::new(Some(params.mode), Some(params.size), Some(params.freq)),
        0,
        None,
        target,
        target.default_xtal_frequency(),
    );

    // espflash indexes into segments it assumes are well formed (overlapping sections, for one, end
    // in a slice panic); a malformed ELF must become an error for that ELF, not take the caller down.
    let built = catch_unwind(AssertUnwindSafe(|| {
        IdfBootloaderFormat::new(elf, &flash_data, None, None, None, None)
    }))
    .map_err(|panic| BundleError::CorruptElf {
        file: file.to_string(),
        detail: format!(
            "espflash failed while laying out its segments: {}",
            panic_message(&panic)
        ),
    })?;
    let image = built.map_err(|e| map_espflash_error(e, file, params))?;

    let metadata = image.metadata();
    let number = |key: &str| {
        metadata
            .get(key)
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    };
    let (app_size, partition_size) = (number("app_size"), number("part_size"));

    let segments: Vec<_> = image.flash_segments().collect();
    let names = ["bootloader", "partition table", "app"];
    let mut data = Vec::new();
    let mut parts = Vec::new();
    for (index, segment) in segments.iter().enumerate() {
        let offset = segment.addr as usize;
        if offset < data.len() {
            return Err(BundleError::ImageFailed {
                file: file.to_string(),
                detail: format!(
                    "its flash segments overlap at {offset:#x}; this is a bug in the image layout"
                ),
            });
        }
        data.resize(offset, ERASED);
        data.extend_from_slice(&segment.data);
        parts.push(Part {
            name: names.get(index).copied().unwrap_or("segment"),
            offset: segment.addr,
            len: segment.data.len(),
        });
    }

    Ok(MergedImage {
        data,
        parts,
        app_size,
        partition_size,
    })
}

fn map_espflash_error(error: espflash::Error, file: &str, params: &FlashParams) -> BundleError {
    match error {
        espflash::Error::ElfTooBig(app_size, partition_size) => BundleError::AppTooBig {
            file: file.to_string(),
            app_size,
            partition_size,
            flash_size: params.size_name.clone(),
        },
        espflash::Error::InvalidAppDescriptor(source) => BundleError::BadAppDescriptor {
            file: file.to_string(),
            detail: format!(
                "{source}; link `.flash.appdesc` first in DROM, 0x20 bytes past an MMU page boundary \
                 (esp-hal's linker scripts do this)"
            ),
        },
        espflash::Error::InvalidElf(source) => BundleError::CorruptElf {
            file: file.to_string(),
            detail: source.to_string(),
        },
        other => BundleError::ImageFailed {
            file: file.to_string(),
            detail: error_chain(&other),
        },
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::settings::resolve;
    use crate::bundle::synth::{synth_app_elf_for, synth_app_elf_with_code_len};

    #[test]
    fn parts_sit_at_the_chip_offsets_with_erased_gaps() {
        for chip in Chip::RUST_NO_STD {
            let params = resolve(chip, None, None, None).unwrap();
            let elf = synth_app_elf_for(chip, true);
            let image = merged_image(&elf, "app.elf", chip, &params).unwrap();
            let offsets: Vec<u32> = image.parts.iter().map(|p| p.offset).collect();
            assert_eq!(
                offsets,
                [chip.bootloader_offset(), 0x8000, 0x10000],
                "{chip}"
            );
            assert!(
                image.data[..chip.bootloader_offset() as usize]
                    .iter()
                    .all(|b| *b == ERASED)
            );
            let bootloader = &image.parts[0];
            let gap = bootloader.offset as usize + bootloader.len..0x8000;
            assert!(image.data[gap].iter().all(|b| *b == ERASED), "{chip}");
            // Every part is an ESP image or a partition table with its own magic.
            let at = |offset: u32| image.data[offset as usize];
            assert_eq!(at(chip.bootloader_offset()), 0xE9, "{chip}");
            assert_eq!(at(0x8000), 0xAA, "{chip}");
            assert_eq!(at(0x10000), 0xE9, "{chip}");
            assert_eq!(
                image.data.len(),
                0x10000 + image.parts[2].len,
                "{chip}: no padding after the app"
            );
            assert_eq!(image.app_size as usize, image.parts[2].len);
            assert!(image.partition_size > image.app_size);
        }
    }

    #[test]
    fn the_app_header_records_the_flash_settings() {
        let chip = Chip::Esp32s3;
        let params = resolve(chip, Some("qio"), Some("40mhz"), Some("4mb")).unwrap();
        let image = merged_image(&synth_app_elf_for(chip, true), "a", chip, &params).unwrap();
        let app = &image.data[0x10000..];
        // Byte 2: SPI mode (QIO = 0); byte 3: size << 4 | frequency (4 MB = 2, 40 MHz = 0).
        assert_eq!(app[2], 0);
        assert_eq!(app[3], 0x20);
        // The bootloader's own header never says quad mode: the ROM cannot boot it that way.
        assert_eq!(image.data[2], 2);
    }

    #[test]
    fn an_espflash_panic_becomes_an_error() {
        // The ELF checks refuse overlapping sections; past them, espflash would panic on them.
        let chip = Chip::Esp32c3;
        let params = resolve(chip, None, None, None).unwrap();
        let elf = crate::bundle::elf::tests::overlapping_sections_elf();
        let err = merged_image(&elf, "app.elf", chip, &params).unwrap_err();
        assert!(matches!(err, BundleError::CorruptElf { .. }), "{err}");
        assert!(err.to_string().contains("espflash failed"), "{err}");
    }

    #[test]
    fn an_app_larger_than_its_partition_is_refused() {
        // A 1 MB flash leaves 960 KiB for the app partition; this ELF carries 1 MiB of code.
        let chip = Chip::Esp32c3;
        let params = resolve(chip, None, None, Some("1mb")).unwrap();
        let elf = synth_app_elf_with_code_len(chip, 1 << 20);
        let err = merged_image(&elf, "big.elf", chip, &params).unwrap_err();
        assert!(matches!(err, BundleError::AppTooBig { .. }), "{err}");
        assert_eq!(err.code(), espctl_protocol::error::ErrorCode::InvalidInput);
        let text = err.to_string();
        assert!(text.contains("1mb") && text.contains("big.elf"), "{text}");

        // The same ELF fits a 2 MB flash.
        let params = resolve(chip, None, None, Some("2mb")).unwrap();
        merged_image(&elf, "big.elf", chip, &params).unwrap();
    }
}
