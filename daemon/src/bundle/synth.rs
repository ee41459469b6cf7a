//! A stand-in used by tests: synthesizes minimal ESP32 application ELFs, so that bundle building can be
//! tested for every chip and both architectures without a cross compiler.
//!
//! The ELFs are shaped like what esp-hal's linker scripts produce: an `esp_app_desc_t` in section
//! `.flash.appdesc` 0x20 bytes into DROM (after the image header and first segment header, as the
//! bootloader expects), some read-only data after it, and a one-instruction endless loop in IROM as
//! the entry point. They are real enough for espflash and `esptool image-info`; they are not meant to
//! run on a chip.

use espctl_protocol::chip::{Arch, Chip};
use object::Endianness;
use object::elf::{
    ET_EXEC, PF_R, PF_X, PT_LOAD, SHF_ALLOC, SHF_EXECINSTR, SHT_PROGBITS, STB_GLOBAL, STT_FUNC,
    STT_OBJECT,
};
use object::write::elf::{FileHeader, ProgramHeader, SectionHeader, Sym, Writer};

use super::elf::{APP_DESC_MAGIC, APP_DESC_SIZE, EM_RISCV, EM_XTENSA};

/// Where a synthesized ELF links its read-only data and its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    drom: u32,
    irom: u32,
}

/// The flash windows of each chip (espflash's `Chip::addr_is_flash`, from esp-metadata): the ESP32 and
/// ESP32-S2 map flash at their own addresses; the ESP32-S3, C2 and C3 have separate DROM (0x3C...) and
/// IROM (0x42...) windows; the newer RISC-V chips map both through one window at 0x42000000.
fn layout(chip: Chip) -> Layout {
    match chip {
        Chip::Esp32 => Layout {
            drom: 0x3F40_0020,
            irom: 0x400D_0020,
        },
        Chip::Esp32s2 => Layout {
            drom: 0x3F00_0020,
            irom: 0x4008_0020,
        },
        Chip::Esp32s3 | Chip::Esp32c2 | Chip::Esp32c3 => Layout {
            drom: 0x3C00_0020,
            irom: 0x4200_0020,
        },
        Chip::Esp32c5 | Chip::Esp32c6 | Chip::Esp32c61 | Chip::Esp32h2 | Chip::Esp32p4 => {
            shared_window_layout()
        }
    }
}

/// Data and code in separate 64 KiB pages of the window at 0x42000000. Every RISC-V chip maps that
/// range to flash (on the C2 and C3 it is their IROM window), so one ELF suits all of them.
fn shared_window_layout() -> Layout {
    Layout {
        drom: 0x4200_0020,
        irom: 0x4201_0020,
    }
}

/// A minimal application ELF for `arch`: for Xtensa it has the ESP32-S3 layout, for RISC-V one that
/// every RISC-V chip accepts (esp32c2, esp32c3, esp32c6, esp32h2). No single Xtensa ELF fits all
/// three Xtensa chips, whose flash windows do not overlap; use [`synth_app_elf_for`] for those.
///
/// With `with_app_desc` false the descriptor is left out, which espflash and the bootloader refuse.
pub fn synth_app_elf(arch: Arch, with_app_desc: bool) -> Vec<u8> {
    let layout = match arch {
        Arch::Xtensa => layout(Chip::Esp32s3),
        Arch::Riscv => shared_window_layout(),
    };
    build(&Options::new(arch, layout, with_app_desc))
}

/// A minimal application ELF linked at `chip`'s own flash addresses.
pub fn synth_app_elf_for(chip: Chip, with_app_desc: bool) -> Vec<u8> {
    build(&Options::new(chip.arch(), layout(chip), with_app_desc))
}

/// Like [`synth_app_elf_for`], with `code_len` bytes of code: for testing size limits.
#[cfg(test)]
pub(crate) fn synth_app_elf_with_code_len(chip: Chip, code_len: usize) -> Vec<u8> {
    let mut options = Options::new(chip.arch(), layout(chip), true);
    options.code.resize(code_len.max(options.code.len()), 0);
    build(&options)
}

/// Like [`synth_app_elf_for`], with esp-hal's `.espressif.metadata` naming `chip_name` as the chip
/// the application was built for.
#[cfg(test)]
pub(crate) fn synth_esp_hal_app_elf(chip: Chip, chip_name: &str, with_app_desc: bool) -> Vec<u8> {
    let mut options = Options::new(chip.arch(), layout(chip), with_app_desc);
    options.metadata_chip = Some(chip_name.to_string());
    build(&options)
}

struct Options {
    arch: Arch,
    layout: Layout,
    with_app_desc: bool,
    code: Vec<u8>,
    metadata_chip: Option<String>,
}

impl Options {
    fn new(arch: Arch, layout: Layout, with_app_desc: bool) -> Self {
        // `j .`: for Xtensa a J with offset -4, for RISC-V `jal x0, 0`.
        let code = match arch {
            Arch::Xtensa => vec![0x06, 0xff, 0xff, 0x00],
            Arch::Riscv => vec![0x6f, 0x00, 0x00, 0x00],
        };
        Options {
            arch,
            layout,
            with_app_desc,
            code,
            metadata_chip: None,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Code,
    ReadOnlyData,
    /// Not loaded: information for tools, at address 0.
    Info,
}

struct SynthSection {
    name: &'static [u8],
    address: u32,
    data: Vec<u8>,
    kind: Kind,
}

/// A global symbol at the start of one of the sections.
struct SynthSymbol {
    name: &'static [u8],
    section: usize,
    size: u32,
    is_function: bool,
}

fn build(options: &Options) -> Vec<u8> {
    let layout = options.layout;
    let rodata = b"espctl synthesized test image\0\0\0".to_vec();
    let mut sections = Vec::new();
    let mut symbols = Vec::new();
    if options.with_app_desc {
        symbols.push(SynthSymbol {
            name: b"esp_app_desc",
            section: sections.len(),
            size: APP_DESC_SIZE as u32,
            is_function: false,
        });
        sections.push(SynthSection {
            name: b".flash.appdesc",
            address: layout.drom,
            data: app_descriptor(),
            kind: Kind::ReadOnlyData,
        });
    }
    let rodata_address = layout.drom + sections.len() as u32 * APP_DESC_SIZE as u32;
    sections.push(SynthSection {
        name: b".flash.rodata",
        address: rodata_address,
        data: rodata,
        kind: Kind::ReadOnlyData,
    });
    symbols.push(SynthSymbol {
        name: b"_start",
        section: sections.len(),
        size: options.code.len() as u32,
        is_function: true,
    });
    sections.push(SynthSection {
        name: b".flash.text",
        address: layout.irom,
        data: options.code.clone(),
        kind: Kind::Code,
    });
    if let Some(chip_name) = &options.metadata_chip {
        symbols.push(SynthSymbol {
            name: b"build_info.CHIP_NAME",
            section: sections.len(),
            size: chip_name.len() as u32,
            is_function: false,
        });
        sections.push(SynthSection {
            name: b".espressif.metadata",
            address: 0,
            data: chip_name.as_bytes().to_vec(),
            kind: Kind::Info,
        });
    }

    // e_flags as the toolchains set them: Xtensa 0x300 (EF_XTENSA_XT_INSN | EF_XTENSA_XT_LIT),
    // RISC-V 0x1 (EF_RISCV_RVC, soft-float ABI).
    let (machine, flags) = match options.arch {
        Arch::Xtensa => (EM_XTENSA, 0x300),
        Arch::Riscv => (EM_RISCV, 0x1),
    };
    write_elf(machine, flags, layout.irom, &sections, &symbols)
}

/// An `esp_app_desc_t` as esp-bootloader-esp-idf fills it in; espflash writes the ELF's SHA-256.
fn app_descriptor() -> Vec<u8> {
    fn text(field: &mut [u8], value: &str) {
        field[..value.len()].copy_from_slice(value.as_bytes());
    }
    let mut desc = vec![0u8; APP_DESC_SIZE];
    desc[0..4].copy_from_slice(&APP_DESC_MAGIC.to_le_bytes());
    text(&mut desc[16..48], "0.1.0");
    text(&mut desc[48..80], "espctl-synth");
    text(&mut desc[80..96], "00:00:00");
    text(&mut desc[96..112], "Jan  1 2026");
    text(&mut desc[112..144], "n/a");
    // min_efuse_blk_rev_full 0, max_efuse_blk_rev_full 0xFFFF (no upper bound), mmu_page_size
    // log2(64 KiB).
    desc[176..178].copy_from_slice(&0u16.to_le_bytes());
    desc[178..180].copy_from_slice(&0xFFFFu16.to_le_bytes());
    desc[180] = 16;
    desc
}

fn write_elf(
    machine: u16,
    flags: u32,
    entry: u32,
    sections: &[SynthSection],
    symbols: &[SynthSymbol],
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut writer = Writer::new(Endianness::Little, false, &mut out);
    let loaded: Vec<usize> = (0..sections.len())
        .filter(|&i| sections[i].kind != Kind::Info)
        .collect();

    let names: Vec<_> = sections
        .iter()
        .map(|s| writer.add_section_name(s.name))
        .collect();
    let symbol_names: Vec<_> = symbols.iter().map(|s| writer.add_string(s.name)).collect();
    writer.reserve_file_header();
    writer.reserve_program_headers(loaded.len() as u32);
    writer.reserve_null_section_index();
    let indices: Vec<_> = sections
        .iter()
        .map(|_| writer.reserve_section_index())
        .collect();
    writer.reserve_null_symbol_index();
    for symbol in symbols {
        writer.reserve_symbol_index(Some(indices[symbol.section]));
    }
    writer.reserve_symtab_section_index();
    writer.reserve_strtab_section_index();
    writer.reserve_shstrtab_section_index();
    let offsets: Vec<usize> = sections
        .iter()
        .map(|s| writer.reserve(s.data.len(), 4))
        .collect();
    writer.reserve_symtab();
    writer.reserve_strtab();
    writer.reserve_shstrtab();
    writer.reserve_section_headers();

    writer
        .write_file_header(&FileHeader {
            os_abi: 0,
            abi_version: 0,
            e_type: ET_EXEC,
            e_machine: machine,
            e_entry: entry.into(),
            e_flags: flags,
        })
        .expect("an in-memory ELF header always fits");
    writer.write_align_program_headers();
    for &i in &loaded {
        let section = &sections[i];
        let size = section.data.len() as u64;
        writer.write_program_header(&ProgramHeader {
            p_type: PT_LOAD,
            p_flags: if section.kind == Kind::Code {
                PF_R | PF_X
            } else {
                PF_R
            },
            p_offset: offsets[i] as u64,
            p_vaddr: section.address.into(),
            p_paddr: section.address.into(),
            p_filesz: size,
            p_memsz: size,
            p_align: 4,
        });
    }
    for (section, offset) in sections.iter().zip(&offsets) {
        writer.pad_until(*offset);
        writer.write(&section.data);
    }

    writer.write_null_symbol();
    for (symbol, name) in symbols.iter().zip(&symbol_names) {
        let kind = if symbol.is_function {
            STT_FUNC
        } else {
            STT_OBJECT
        };
        writer.write_symbol(&Sym {
            name: Some(*name),
            section: Some(indices[symbol.section]),
            st_info: (STB_GLOBAL << 4) | kind,
            st_other: 0,
            st_shndx: 0,
            st_value: sections[symbol.section].address.into(),
            st_size: symbol.size.into(),
        });
    }
    writer.write_strtab();
    writer.write_shstrtab();

    writer.write_null_section_header();
    for ((section, offset), name) in sections.iter().zip(&offsets).zip(&names) {
        let flags = match section.kind {
            Kind::Code => SHF_ALLOC | SHF_EXECINSTR,
            Kind::ReadOnlyData => SHF_ALLOC,
            Kind::Info => 0,
        };
        writer.write_section_header(&SectionHeader {
            name: Some(*name),
            sh_type: SHT_PROGBITS,
            sh_flags: flags.into(),
            sh_addr: section.address.into(),
            sh_offset: *offset as u64,
            sh_size: section.data.len() as u64,
            sh_link: 0,
            sh_info: 0,
            sh_addralign: if section.kind == Kind::Info { 1 } else { 4 },
            sh_entsize: 0,
        });
    }
    // Only the null symbol is local.
    writer.write_symtab_section_header(1);
    writer.write_strtab_section_header();
    writer.write_shstrtab_section_header();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::{Object, ObjectSection, ObjectSymbol};

    #[test]
    fn elfs_have_the_right_machine_and_sections() {
        for (arch, machine) in [(Arch::Xtensa, EM_XTENSA), (Arch::Riscv, EM_RISCV)] {
            let data = synth_app_elf(arch, true);
            let elf = object::read::elf::ElfFile32::<Endianness>::parse(&*data).unwrap();
            assert_eq!(u16::from_le_bytes([data[18], data[19]]), machine, "{arch}");
            let desc = elf.section_by_name(".flash.appdesc").unwrap();
            assert_eq!(desc.size(), APP_DESC_SIZE as u64);
            assert_eq!(&desc.data().unwrap()[..4], &APP_DESC_MAGIC.to_le_bytes());
            assert_eq!(
                elf.entry(),
                elf.section_by_name(".flash.text").unwrap().address()
            );

            let names: Vec<_> = elf.symbols().filter_map(|s| s.name().ok()).collect();
            assert!(
                names.contains(&"esp_app_desc") && names.contains(&"_start"),
                "{names:?}"
            );

            let without = synth_app_elf(arch, false);
            let elf = object::read::elf::ElfFile32::<Endianness>::parse(&*without).unwrap();
            assert!(elf.section_by_name(".flash.appdesc").is_none());
        }
    }

    #[test]
    fn every_chip_gets_addresses_in_its_flash_windows() {
        for chip in Chip::ALL {
            let espflash = crate::bundle::settings::espflash_chip(chip);
            let layout = layout(chip);
            assert!(espflash.addr_is_flash(layout.drom), "{chip} DROM");
            assert!(espflash.addr_is_flash(layout.irom), "{chip} IROM");
        }
        for chip in Chip::RUST_NO_STD
            .into_iter()
            .filter(|c| c.arch() == Arch::Riscv)
        {
            let espflash = crate::bundle::settings::espflash_chip(chip);
            let shared = shared_window_layout();
            assert!(espflash.addr_is_flash(shared.drom) && espflash.addr_is_flash(shared.irom));
        }
    }
}
