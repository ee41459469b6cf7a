//! Checks an ELF before espflash sees it, so that each way a file can be wrong gets its own message
//! (espflash reports most of them as one "invalid ELF", and panics on a descriptor outside flash).

use espctl_protocol::chip::{Arch, Chip};
use object::elf::{ET_EXEC, SHT_INIT_ARRAY, SHT_NOBITS, SHT_PROGBITS};
use object::read::elf::{ElfFile32, SectionHeader as _};
use object::{Endianness, Object, ObjectSection, ObjectSymbol};

use super::error::BundleError;
use super::settings::espflash_chip;

pub(crate) const EM_XTENSA: u16 = 94;
pub(crate) const EM_RISCV: u16 = 243;

/// `ESP_APP_DESC_MAGIC_WORD`: the first word of an `esp_app_desc_t`.
pub(crate) const APP_DESC_MAGIC: u32 = 0xABCD_5432;
/// `sizeof(esp_app_desc_t)`.
pub(crate) const APP_DESC_SIZE: usize = 256;

const ELF32_HEADER_SIZE: usize = 52;
const METADATA_SECTION: &str = ".espressif.metadata";

/// What the checks learned about an ELF that passed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ElfFacts {
    pub arch: Arch,
    /// Where the application descriptor is linked.
    pub app_desc_addr: u32,
    /// The chip named in esp-hal's `.espressif.metadata`, when there is one.
    pub built_for: Option<Chip>,
}

/// Check that `data` is an ESP32 firmware ELF that espflash can turn into an image for `chip`.
/// `file` names the ELF in messages.
pub(crate) fn check(data: &[u8], file: &str, chip: Chip) -> Result<ElfFacts, BundleError> {
    let corrupt = |detail: String| BundleError::CorruptElf {
        file: file.to_string(),
        detail,
    };
    let unsupported = |reason: &str| BundleError::UnsupportedElf {
        file: file.to_string(),
        reason: reason.to_string(),
    };

    if data.len() < 4 || &data[..4] != b"\x7fELF" {
        return Err(BundleError::NotAnElf {
            file: file.to_string(),
        });
    }
    if data.len() < ELF32_HEADER_SIZE {
        return Err(corrupt(format!(
            "the file is {} bytes, shorter than an ELF header",
            data.len()
        )));
    }

    // The identification bytes and e_machine sit at the same offsets in 32- and 64-bit ELFs, so a
    // host program can be recognised as one before anything else is assumed about the layout.
    let big_endian = match data[5] {
        1 => false,
        2 => true,
        other => return Err(corrupt(format!("unknown byte order {other} in e_ident"))),
    };
    let read_u16 = |at: usize| {
        let bytes = [data[at], data[at + 1]];
        if big_endian {
            u16::from_be_bytes(bytes)
        } else {
            u16::from_le_bytes(bytes)
        }
    };
    let machine = read_u16(18);
    let arch = match machine {
        EM_XTENSA => Arch::Xtensa,
        EM_RISCV => Arch::Riscv,
        _ => {
            return Err(BundleError::ForeignArchitecture {
                file: file.to_string(),
                machine,
            });
        }
    };
    if data[4] != 1 {
        return Err(unsupported(
            "it is a 64-bit ELF, and every ESP32 runs 32-bit code (use a riscv32 or xtensa target)",
        ));
    }
    if big_endian {
        return Err(unsupported(
            "it is big-endian, and ESP32 firmware is little-endian",
        ));
    }
    if arch != chip.arch() {
        return Err(BundleError::WrongArchitecture {
            file: file.to_string(),
            elf_arch: arch,
            chip,
        });
    }
    if read_u16(16) != ET_EXEC {
        return Err(unsupported(
            "it is not a linked executable (e_type is not ET_EXEC); pass the final firmware binary, \
             not an object file or a library",
        ));
    }

    let elf = ElfFile32::<Endianness>::parse(data).map_err(|e| corrupt(e.to_string()))?;
    check_loaded_sections(&elf).map_err(corrupt)?;

    let built_for = metadata_chip(&elf);
    if let Some(built_for) = built_for
        && built_for != chip
    {
        return Err(BundleError::WrongChip {
            file: file.to_string(),
            built_for,
            chip,
        });
    }

    let app_desc_addr = find_app_descriptor(&elf, file, chip)?;
    Ok(ElfFacts {
        arch,
        app_desc_addr,
        built_for,
    })
}

/// Check the sections espflash puts in the image (loaded, non-empty, with contents): each must be
/// inside the file, and no two may overlap, which espflash does not survive.
fn check_loaded_sections(elf: &ElfFile32<'_, Endianness>) -> Result<(), String> {
    let mut loaded = Vec::new();
    for section in elf.sections() {
        let header = section.elf_section_header();
        let sh_type = header.sh_type(Endianness::Little);
        let name = section.name().unwrap_or("<unnamed>");
        if !(sh_type == SHT_PROGBITS || sh_type == SHT_INIT_ARRAY)
            || header.sh_flags(Endianness::Little) == 0
            || section.address() == 0
            || section.size() == 0
        {
            continue;
        }
        section.data().map_err(|e| format!("section {name}: {e}"))?;
        loaded.push((section.address(), section.size(), name));
    }
    loaded.sort();
    for pair in loaded.windows(2) {
        let ((start, size, name), (next, _, next_name)) = (pair[0], pair[1]);
        if start + size > next {
            return Err(format!(
                "sections {name} ({start:#010x}..{:#010x}) and {next_name} (from {next:#010x}) \
                 overlap; check the linker script",
                start + size
            ));
        }
    }
    Ok(())
}

/// The chip esp-hal recorded in `.espressif.metadata` (symbol `build_info.CHIP_NAME`), if any.
fn metadata_chip(elf: &ElfFile32<'_, Endianness>) -> Option<Chip> {
    let section = elf.section_by_name(METADATA_SECTION)?;
    let symbol = elf.symbols().find(|s| {
        s.name() == Ok("build_info.CHIP_NAME") && s.section_index() == Some(section.index())
    })?;
    let bytes = section
        .data_range(symbol.address(), symbol.size())
        .ok()
        .flatten()?;
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// Find the application descriptor and check that espflash and the bootloader can use it; returns
/// its address.
fn find_app_descriptor(
    elf: &ElfFile32<'_, Endianness>,
    file: &str,
    chip: Chip,
) -> Result<u32, BundleError> {
    let bad = |detail: String| BundleError::BadAppDescriptor {
        file: file.to_string(),
        detail,
    };

    // espflash moves the segment holding `.flash.appdesc` to the front of the image, where the
    // bootloader looks for the descriptor. ESP-IDF 4.x linker scripts named the section
    // `.rodata_desc` and already put it first in DROM.
    let Some(section) = elf
        .section_by_name(".flash.appdesc")
        .or_else(|| elf.section_by_name(".rodata_desc"))
    else {
        return Err(BundleError::NoAppDescriptor {
            file: file.to_string(),
            esp_hal: elf.section_by_name(METADATA_SECTION).is_some(),
        });
    };
    let name = section.name().unwrap_or(".flash.appdesc").to_string();
    let header = section.elf_section_header();
    let address = section.address() as u32;

    if header.sh_type(Endianness::Little) == SHT_NOBITS {
        return Err(bad(format!(
            "section {name} holds no data (NOBITS); the descriptor must be initialised data"
        )));
    }
    if !espflash_chip(chip).addr_is_flash(address) {
        return Err(bad(format!(
            "section {name} is linked at {address:#010x}, outside the {chip}'s flash-mapped \
             DROM/IROM ranges; link it at the start of DROM"
        )));
    }
    let data = section
        .data()
        .map_err(|e| bad(format!("section {name} cannot be read: {e}")))?;
    if data.len() < APP_DESC_SIZE {
        return Err(bad(format!(
            "section {name} is {} bytes, smaller than an esp_app_desc_t ({APP_DESC_SIZE} bytes)",
            data.len()
        )));
    }
    let magic = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    if magic != APP_DESC_MAGIC {
        return Err(bad(format!(
            "section {name} starts with {magic:#010x} instead of the magic word \
             {APP_DESC_MAGIC:#010x}; make sure the esp_app_desc_t is the first thing in it"
        )));
    }
    Ok(address)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::bundle::synth::{synth_app_elf, synth_app_elf_for, synth_esp_hal_app_elf};
    use espctl_protocol::error::ErrorCode;

    #[test]
    fn accepts_synthesized_elfs_for_every_chip() {
        for chip in Chip::RUST_NO_STD {
            let elf = synth_app_elf_for(chip, true);
            let facts = check(&elf, "app.elf", chip).unwrap();
            assert_eq!(facts.arch, chip.arch());
            assert_eq!(facts.built_for, None);
        }
    }

    #[test]
    fn refuses_files_that_are_not_elfs() {
        for data in [
            &b""[..],
            b"\x7fEL",
            b"hello world, not an elf",
            b"\xe9\x03\x02\x4f",
        ] {
            let err = check(data, "app.bin", Chip::Esp32s3).unwrap_err();
            assert!(matches!(err, BundleError::NotAnElf { .. }), "{err}");
            assert_eq!(err.code(), ErrorCode::InvalidInput);
            assert!(err.to_string().contains("app.bin"));
        }
    }

    #[test]
    fn refuses_wrong_architecture_and_suggests_matching_chips() {
        let err = check(&synth_app_elf(Arch::Riscv, true), "app.elf", Chip::Esp32s3).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, BundleError::WrongArchitecture { .. }));
        assert!(
            text.contains("app.elf is a RISC-V ELF but esp32s3 is an Xtensa chip"),
            "{text}"
        );
        assert!(text.contains("--target esp32c3"), "{text}");
        assert!(
            text.contains("esp32c2") && text.contains("esp32c6") && text.contains("esp32h2"),
            "{text}"
        );

        let err = check(&synth_app_elf(Arch::Xtensa, true), "fw", Chip::Esp32c6).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("fw is an Xtensa ELF but esp32c6 is a RISC-V chip"),
            "{text}"
        );
        assert!(text.contains("--target esp32s3"), "{text}");
        assert_eq!(err.code(), ErrorCode::InvalidInput);
    }

    #[test]
    fn refuses_host_programs_and_64_bit_elfs() {
        let mut elf = synth_app_elf(Arch::Riscv, true);
        elf[18..20].copy_from_slice(&62u16.to_le_bytes());
        let err = check(&elf, "app", Chip::Esp32c3).unwrap_err();
        assert!(matches!(
            err,
            BundleError::ForeignArchitecture { machine: 62, .. }
        ));
        assert!(err.to_string().contains("x86-64"), "{err}");

        let mut elf = synth_app_elf(Arch::Riscv, true);
        elf[4] = 2;
        let err = check(&elf, "app", Chip::Esp32c3).unwrap_err();
        assert!(err.to_string().contains("64-bit"), "{err}");
    }

    #[test]
    fn refuses_object_files() {
        let mut elf = synth_app_elf(Arch::Riscv, true);
        elf[16..18].copy_from_slice(&1u16.to_le_bytes());
        let err = check(&elf, "app.o", Chip::Esp32c3).unwrap_err();
        assert!(err.to_string().contains("ET_EXEC"), "{err}");
    }

    #[test]
    fn refuses_truncated_elfs() {
        let elf = synth_app_elf(Arch::Xtensa, true);
        for len in [20, 51, 200, elf.len() / 2, elf.len() - 1] {
            let err = check(&elf[..len], "app.elf", Chip::Esp32s3).unwrap_err();
            assert!(
                matches!(err, BundleError::CorruptElf { .. }),
                "len {len}: {err}"
            );
            assert!(err.to_string().contains("corrupt or truncated"));
        }
    }

    #[test]
    fn refuses_elfs_without_a_descriptor() {
        let err = check(
            &synth_app_elf(Arch::Xtensa, false),
            "app.elf",
            Chip::Esp32s3,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, BundleError::NoAppDescriptor { .. }));
        assert!(
            text.contains(".flash.appdesc") && text.contains("esp_app_desc!"),
            "{text}"
        );
        assert!(err.hint().unwrap().contains("0xABCD5432"));
    }

    #[test]
    fn refuses_a_descriptor_without_the_magic_word() {
        let mut elf = synth_app_elf(Arch::Riscv, true);
        let at = find_bytes(&elf, &APP_DESC_MAGIC.to_le_bytes()).unwrap();
        elf[at..at + 4].copy_from_slice(&[0; 4]);
        let err = check(&elf, "app.elf", Chip::Esp32c3).unwrap_err();
        assert!(matches!(err, BundleError::BadAppDescriptor { .. }), "{err}");
        assert!(err.to_string().contains("0xabcd5432"), "{err}");
    }

    #[test]
    fn refuses_a_descriptor_outside_flash() {
        // The ESP32's flash windows are elsewhere, so the ESP32-S3 layout puts the descriptor in
        // unmapped space; espflash itself would panic on this one.
        let err = check(
            &synth_app_elf_for(Chip::Esp32s3, true),
            "a.elf",
            Chip::Esp32,
        )
        .unwrap_err();
        assert!(matches!(err, BundleError::BadAppDescriptor { .. }), "{err}");
        assert!(err.to_string().contains("0x3c000020"), "{err}");
    }

    #[test]
    fn esp_hal_metadata_names_the_chip() {
        let elf = synth_esp_hal_app_elf(Chip::Esp32c6, "esp32c6", true);
        let facts = check(&elf, "app", Chip::Esp32c6).unwrap();
        assert_eq!(facts.built_for, Some(Chip::Esp32c6));

        // Same architecture, same flash window: only the metadata tells the chips apart.
        let elf = synth_esp_hal_app_elf(Chip::Esp32c6, "esp32h2", true);
        let err = check(&elf, "app", Chip::Esp32c6).unwrap_err();
        assert!(
            matches!(
                err,
                BundleError::WrongChip {
                    built_for: Chip::Esp32h2,
                    ..
                }
            ),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.contains("app was built for esp32h2") && text.contains("--target esp32h2"),
            "{text}"
        );

        // A name espctl does not know is no reason to refuse the ELF.
        let elf = synth_esp_hal_app_elf(Chip::Esp32c6, "esp32x9", true);
        assert_eq!(check(&elf, "app", Chip::Esp32c6).unwrap().built_for, None);
    }

    #[test]
    fn an_esp_hal_app_without_a_descriptor_is_told_about_the_macro() {
        let elf = synth_esp_hal_app_elf(Chip::Esp32s3, "esp32s3", false);
        let err = check(&elf, "app", Chip::Esp32s3).unwrap_err();
        assert!(matches!(
            err,
            BundleError::NoAppDescriptor { esp_hal: true, .. }
        ));
        assert!(
            err.to_string()
                .contains("add `esp_bootloader_esp_idf::esp_app_desc!();` to the application"),
            "{err}"
        );
    }

    #[test]
    fn refuses_overlapping_sections() {
        let elf = overlapping_sections_elf();
        let err = check(&elf, "app.elf", Chip::Esp32c3).unwrap_err();
        assert!(matches!(err, BundleError::CorruptElf { .. }), "{err}");
        assert!(
            err.to_string().contains(".flash.appdesc") && err.to_string().contains("overlap"),
            "{err}"
        );
    }

    fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).position(|w| w == needle)
    }

    /// The synthesized ESP32-C3 ELF with `.flash.rodata` moved 0x10 bytes into the descriptor.
    pub(crate) fn overlapping_sections_elf() -> Vec<u8> {
        let mut data = synth_app_elf_for(Chip::Esp32c3, true);
        let elf = ElfFile32::<Endianness>::parse(&*data).unwrap();
        let appdesc = elf.section_by_name(".flash.appdesc").unwrap().address() as u32;
        let rodata = elf.section_by_name(".flash.rodata").unwrap().index().0;
        let shoff = u32::from_le_bytes(data[32..36].try_into().unwrap()) as usize;
        // Section headers are 40 bytes; sh_addr is at offset 12.
        let sh_addr = shoff + rodata * 40 + 12;
        data[sh_addr..sh_addr + 4].copy_from_slice(&(appdesc + 0x10).to_le_bytes());
        data
    }
}
