use std::path::Path;
use std::time::{Duration, SystemTime};

use super::*;
use crate::project::config::kconfig::KconfigEnv;

fn file(name: &str, text: &str, kind: FileKind) -> SdkconfigFile {
    let (f, w) = sdkconfig::parse(Path::new(name), text, kind);
    assert!(w.is_empty(), "{w:?}");
    f
}

fn tree(text: &str) -> KconfigTree {
    KconfigTree::load_text("Kconfig", text, &KconfigEnv::new())
}

const KCONFIG: &str = "\
config FEATURE
    bool \"feature\"
config NEEDS_FEATURE
    int \"needs\"
    depends on FEATURE
    default 3
config SIZE
    hex \"size\"
    default 0x1000
config NAME
    string \"name\"
    default \"kconfig\"
config PLAIN
    bool \"plain\"
config ON
    bool
    default y
";

#[test]
fn layers_without_kconfig_override_in_order() {
    let layers = Layers {
        defaults: vec![
            file(
                "d1",
                "CONFIG_A=y\nCONFIG_N=1\nCONFIG_H=0x0010\n",
                FileKind::Defaults,
            ),
            file("d2", "CONFIG_N=2\nCONFIG_S=\"two\"\n", FileKind::Defaults),
        ],
        sdkconfig: Some(file(
            "sdkconfig",
            "CONFIG_N=3\n# CONFIG_B is not set\n",
            FileKind::Sdkconfig,
        )),
        overrides: Some(sdkconfig::from_overrides(
            Path::new("params"),
            &[("CONFIG_S".to_string(), "free text".to_string())]
                .into_iter()
                .collect(),
        )),
        ..Layers::default()
    };
    let (set, w) = ConfigSet::resolve(&layers, None);
    assert!(w.is_empty());
    assert_eq!(
        set.get("A"),
        Some((ConfigValue::Bool(true), Provenance::Defaults("d1".into())))
    );
    assert_eq!(
        set.get("CONFIG_N"),
        Some((ConfigValue::Int(3), Provenance::Sdkconfig))
    );
    assert_eq!(
        set.get("S"),
        Some((
            ConfigValue::String("free text".into()),
            Provenance::Override
        ))
    );
    assert_eq!(
        set.get("H"),
        Some((ConfigValue::Hex(16), Provenance::Defaults("d1".into())))
    );
    assert_eq!(set.cmake_value("H").as_deref(), Some("0x10"));
    assert_eq!(set.cmake_value("B").as_deref(), Some(""));
    assert_eq!(set.cmake_value("A").as_deref(), Some("y"));
    assert_eq!(set.get("MISSING"), None);
    assert_eq!(set.cmake_value("MISSING"), None);
    assert_eq!(set.guessed(), ["A", "H"]);
    assert!(!set.used_json());
}

#[test]
fn kconfig_decides_what_defaults_and_sdkconfig_give() {
    let t = tree(KCONFIG);
    let layers = Layers {
        defaults: vec![file(
            "sdkconfig.defaults",
            "CONFIG_NEEDS_FEATURE=9\nCONFIG_NAME=\"defaults\"\n",
            FileKind::Defaults,
        )],
        sdkconfig: Some(file(
            "sdkconfig",
            "CONFIG_SIZE=0x2000\n",
            FileKind::Sdkconfig,
        )),
        ..Layers::default()
    };
    let (set, w) = ConfigSet::resolve(&layers, Some(&t));
    assert!(w.is_empty(), "{w:?}");
    // FEATURE is off, so the defaults file's NEEDS_FEATURE is not taken and CMake never sees it.
    assert_eq!(set.get("NEEDS_FEATURE"), None);
    assert_eq!(set.cmake_value("NEEDS_FEATURE"), None);
    assert_eq!(
        set.get("FEATURE"),
        Some((ConfigValue::Bool(false), Provenance::Unset))
    );
    assert_eq!(set.cmake_value("FEATURE").as_deref(), Some(""));
    assert_eq!(
        set.get("SIZE"),
        Some((ConfigValue::Hex(0x2000), Provenance::Sdkconfig))
    );
    assert_eq!(
        set.get("NAME"),
        Some((
            ConfigValue::String("defaults".into()),
            Provenance::Defaults("sdkconfig.defaults".into())
        ))
    );
    assert_eq!(
        set.get("ON"),
        Some((
            ConfigValue::Bool(true),
            Provenance::KconfigDefault("Kconfig".into(), 17)
        ))
    );
    assert_eq!(set.guessed(), ["FEATURE", "NAME", "ON", "PLAIN"]);

    // With FEATURE on in sdkconfig, the defaults file's value applies.
    let mut layers = layers;
    layers.sdkconfig = Some(file("sdkconfig", "CONFIG_FEATURE=y\n", FileKind::Sdkconfig));
    let (set, _) = ConfigSet::resolve(&layers, Some(&t));
    assert_eq!(
        set.get("NEEDS_FEATURE"),
        Some((
            ConfigValue::Int(9),
            Provenance::Defaults("sdkconfig.defaults".into())
        ))
    );
    assert_eq!(set.cmake_value("NEEDS_FEATURE").as_deref(), Some("9"));

    // An override goes through Kconfig too.
    layers.overrides = Some(sdkconfig::from_overrides(
        Path::new("params"),
        &[("FEATURE".to_string(), "n".to_string())]
            .into_iter()
            .collect(),
    ));
    let (set, _) = ConfigSet::resolve(&layers, Some(&t));
    assert_eq!(
        set.get("FEATURE"),
        Some((ConfigValue::Bool(false), Provenance::Override))
    );
    assert_eq!(set.cmake_value("NEEDS_FEATURE"), None);
}

#[test]
fn sdkconfig_json_is_exact() {
    let t = tree(KCONFIG);
    let json: BTreeMap<String, JsonValue> = [
        ("FEATURE".to_string(), JsonValue::Bool(true)),
        ("SIZE".to_string(), JsonValue::Integer(4096)),
        ("NAME".to_string(), JsonValue::String("json".into())),
        ("NEEDS_FEATURE".to_string(), JsonValue::Integer(5)),
    ]
    .into_iter()
    .collect();
    let layers = Layers {
        json: Some(json),
        sdkconfig: Some(file(
            "sdkconfig",
            "CONFIG_SIZE=0x1000\nCONFIG_NAME=\"older\"\n",
            FileKind::Sdkconfig,
        )),
        ..Layers::default()
    };
    let (set, _) = ConfigSet::resolve(&layers, Some(&t));
    assert!(set.used_json());
    assert_eq!(
        set.get("SIZE"),
        Some((ConfigValue::Hex(0x1000), Provenance::SdkconfigJson))
    );
    assert_eq!(set.cmake_value("SIZE").as_deref(), Some("0x1000"));
    assert_eq!(set.cmake_value("NAME").as_deref(), Some("json"));
    // Defined but absent from the JSON: not written.
    assert_eq!(
        set.get("PLAIN"),
        Some((ConfigValue::Bool(false), Provenance::Unset))
    );
    assert_eq!(set.cmake_value("PLAIN"), None);
    assert!(set.guessed().is_empty());

    // Without Kconfig, sdkconfig's 0x spelling says SIZE is hex.
    let (set, _) = ConfigSet::resolve(&layers, None);
    assert_eq!(set.cmake_value("SIZE").as_deref(), Some("0x1000"));
    assert_eq!(set.cmake_value("NEEDS_FEATURE").as_deref(), Some("5"));
}

#[test]
fn old_names_read_new_ones() {
    let layers = Layers {
        sdkconfig: Some(file(
            "sdkconfig",
            "CONFIG_NEW=y\n# CONFIG_POS is not set\n# Deprecated options for backward compatibility\nCONFIG_LEGACY=42\n# End of deprecated options\n",
            FileKind::Sdkconfig,
        )),
        renames: vec![
            Rename {
                old: "OLD".into(),
                new: "NEW".into(),
                inverted: false,
            },
            Rename {
                old: "NEG".into(),
                new: "POS".into(),
                inverted: true,
            },
        ],
        ..Layers::default()
    };
    let (set, _) = ConfigSet::resolve(&layers, None);
    assert_eq!(set.cmake_value("OLD").as_deref(), Some("y"));
    assert_eq!(set.cmake_value("NEG").as_deref(), Some("y"));
    assert_eq!(
        set.get("NEG"),
        Some((ConfigValue::Bool(true), Provenance::Sdkconfig))
    );
    assert_eq!(set.cmake_value("LEGACY").as_deref(), Some("42"));
    assert_eq!(set.get("LEGACY").unwrap().0, ConfigValue::Int(42));
    assert_eq!(set.len(), 2, "old names are not symbols of their own");
}

fn set_mtime(path: &Path, t: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

#[test]
fn json_counts_only_when_newer_than_sdkconfig() {
    let dir = tempfile::tempdir().unwrap();
    let paths = ConfigPaths::new(dir.path(), &dir.path().join("build"));
    std::fs::create_dir_all(paths.sdkconfig_json.parent().unwrap()).unwrap();
    std::fs::write(&paths.sdkconfig_json, r#"{"A": true, "N": 1}"#).unwrap();
    assert!(
        json_is_fresh(&paths.sdkconfig_json, &paths.sdkconfig),
        "no sdkconfig: the JSON is all there is"
    );
    std::fs::write(&paths.sdkconfig, "# CONFIG_A is not set\nCONFIG_N=2\n").unwrap();
    let now = SystemTime::now();
    set_mtime(&paths.sdkconfig, now - Duration::from_secs(10));
    set_mtime(&paths.sdkconfig_json, now);
    assert!(json_is_fresh(&paths.sdkconfig_json, &paths.sdkconfig));
    let (set, w) = ConfigSet::load(&paths, None);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(
        set.get("N"),
        Some((ConfigValue::Int(1), Provenance::SdkconfigJson))
    );

    // sdkconfig edited after the last configure: the JSON is stale.
    set_mtime(&paths.sdkconfig, now + Duration::from_secs(10));
    assert!(!json_is_fresh(&paths.sdkconfig_json, &paths.sdkconfig));
    let (set, _) = ConfigSet::load(&paths, None);
    assert_eq!(
        set.get("N"),
        Some((ConfigValue::Int(2), Provenance::Sdkconfig))
    );
    assert_eq!(set.cmake_value("A").as_deref(), Some(""));

    // A broken JSON is a warning, and sdkconfig is used.
    set_mtime(&paths.sdkconfig, now - Duration::from_secs(10));
    std::fs::write(&paths.sdkconfig_json, "{not json").unwrap();
    set_mtime(&paths.sdkconfig_json, now);
    let (set, w) = ConfigSet::load(&paths, None);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(
        set.get("N"),
        Some((ConfigValue::Int(2), Provenance::Sdkconfig))
    );
    assert!(!json_is_fresh(
        &dir.path().join("nope.json"),
        &paths.sdkconfig
    ));
}

#[test]
fn provenance_display() {
    assert_eq!(
        Provenance::KconfigDefault("a/Kconfig".into(), 3).to_string(),
        "Kconfig default at a/Kconfig:3"
    );
    assert!(Provenance::Override.is_exact() && !Provenance::Defaults("x".into()).is_exact());
}
