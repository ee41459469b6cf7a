//! `if()` conditions: truthiness, every operator, precedence, errors.

use super::*;

/// Evaluates `if(<cond>)` for each condition, with `prelude` run first.
fn truth(prelude: &str, conditions: &[&str]) -> Vec<bool> {
    let mut src = String::from(prelude);
    for (i, c) in conditions.iter().enumerate() {
        src.push_str(&format!(
            "if({c})\nmessage(\"{i}:1\")\nelse()\nmessage(\"{i}:0\")\nendif()\n"
        ));
    }
    let (_f, r) = eval(&src);
    assert_eq!(r.fatal, None, "conditions {conditions:?}");
    messages(&r).iter().map(|m| m.ends_with(":1")).collect()
}

#[test]
fn constants_truthiness_table() {
    let truthy = [
        "1", "ON", "on", "YES", "TRUE", "True", "Y", "y", "2", "-1", "0.5", "1e3", "0x10", "\"ON\"",
    ];
    let falsy = [
        "0",
        "OFF",
        "off",
        "NO",
        "FALSE",
        "N",
        "n",
        "IGNORE",
        "NOTFOUND",
        "X-NOTFOUND",
        "x-notfound",
        "\"\"",
        "0.0",
        "-0",
        "\"0\"",
    ];
    assert_eq!(truth("", &truthy), vec![true; truthy.len()], "{truthy:?}");
    assert_eq!(truth("", &falsy), vec![false; falsy.len()], "{falsy:?}");
}

#[test]
fn variables_are_dereferenced_only_unquoted() {
    let results = truth(
        "set(yes_var \"some text\")\nset(off_var OFF)\nset(empty_var \"\")\nset(nf_var LIB-NOTFOUND)\nset(name_of yes_var)\n",
        &[
            "yes_var",
            "off_var",
            "empty_var",
            "nf_var",
            "undefined_var",
            "\"yes_var\"",
            "\"some text\"",
            "${name_of}",
            "CONFIG_FREERTOS_UNICORE",
            "CONFIG_SPIRAM",
            "CONFIG_NOT_IN_SDKCONFIG",
            "NOT undefined_var",
        ],
    );
    assert_eq!(
        results,
        vec![
            true, false, false, false, false, false, false, true, true, false, false, true
        ]
    );
}

#[test]
fn comparison_operators() {
    let results = truth(
        "set(a 10)\nset(s abc)\nset(v 1.2.3)\nset(l x y z)\nset(target esp32c3)\n",
        &[
            "a EQUAL 10",
            "a LESS 9",
            "a GREATER 9",
            "a LESS_EQUAL 10",
            "a GREATER_EQUAL 11",
            "\"10\" EQUAL 1e1",
            "abc EQUAL 1",
            "s STREQUAL abc",
            "s STREQUAL \"s\"",
            "\"abc\" STREQUAL s",
            "s STRLESS abd",
            "s STRGREATER abb",
            "s STRLESS_EQUAL abc",
            "s STRGREATER_EQUAL abd",
            "v VERSION_LESS 1.10",
            "v VERSION_EQUAL 1.2.3.0",
            "v VERSION_GREATER 1.2",
            "v VERSION_LESS_EQUAL 1.2.3",
            "v VERSION_GREATER_EQUAL 2",
            "y IN_LIST l",
            "w IN_LIST l",
            "\"x\" IN_LIST l",
            "x IN_LIST undefined_list",
            "target STREQUAL \"esp32c3\"",
            "${target} STREQUAL \"esp32c3\"",
            "/a/./b PATH_EQUAL /a/b",
        ],
    );
    assert_eq!(
        results,
        vec![
            true, false, true, true, false, true, false, true, false, true, true, true, true,
            false, true, true, true, true, false, true, false, true, false, true, true, false
        ]
    );
}

#[test]
fn matches_sets_match_variables() {
    let out = output(
        "set(ver \"v5.1.2-dirty\")\n\
         if(ver MATCHES \"^v([0-9]+)\\\\.([0-9]+)\")\nmessage(\"${CMAKE_MATCH_0} ${CMAKE_MATCH_1} ${CMAKE_MATCH_2}\")\nendif()\n\
         if(\"literal\" MATCHES \"^lit\")\nmessage(quoted-lhs)\nendif()\n\
         if(ver MATCHES \"^x\")\nelse()\nmessage(\"cleared [${CMAKE_MATCH_1}]\")\nendif()\n",
    );
    assert_eq!(out, vec!["v5.1 5 1", "quoted-lhs", "cleared []"]);
}

#[test]
fn unary_tests() {
    let fixture = Fixture::new();
    let dir = fixture.component_dir("comp");
    let d = paths::to_cmake(&dir);
    fixture.write("components/comp/include/x.h", "");
    let conditions: Vec<(String, bool)> = vec![
        (format!("EXISTS {d}/include/x.h"), true),
        (format!("EXISTS {d}/nope"), false),
        ("EXISTS include/x.h".into(), false),
        (format!("IS_DIRECTORY {d}/include"), true),
        (format!("IS_DIRECTORY {d}/include/x.h"), false),
        ("IS_ABSOLUTE /x".into(), true),
        ("IS_ABSOLUTE x".into(), false),
        ("COMMAND my_fn".into(), true),
        ("COMMAND set".into(), true),
        ("COMMAND idf_component_register".into(), true),
        ("COMMAND nope_fn".into(), false),
        ("POLICY CMP0057".into(), true),
        ("POLICY CMP9999".into(), false),
        ("TARGET made_here".into(), true),
        ("TARGET other_thing".into(), false),
        ("TARGET idf::freertos".into(), true),
        ("TARGET idf::not_built".into(), false),
        ("DEFINED defined_var".into(), true),
        ("DEFINED undefined_var".into(), false),
        ("DEFINED ENV{SET_ENV}".into(), true),
        ("DEFINED ENV{NOT_SET}".into(), false),
        ("DEFINED CACHE{c}".into(), true),
        ("DEFINED CACHE{nope}".into(), false),
        ("DEFINED CONFIG_SPIRAM".into(), true),
    ];
    let mut src = String::from(
        "function(my_fn)\nendfunction()\nadd_custom_target(made_here)\nset(ENV{SET_ENV} 1)\n\
         set(c v CACHE STRING doc)\nset(defined_var \"\")\n",
    );
    for (i, (c, _)) in conditions.iter().enumerate() {
        src.push_str(&format!(
            "if({c})\nmessage(\"{i}:1\")\nelse()\nmessage(\"{i}:0\")\nendif()\n"
        ));
    }
    fixture.component("comp", &src);
    let mut values = fixture.values.clone();
    values
        .build_properties
        .insert("BUILD_COMPONENTS".into(), "freertos;esp_system".into());
    let input = ComponentInput::new(
        "comp",
        dir.clone(),
        ComponentPass::Processing,
        Arc::new(values),
    );
    let r = Evaluator::new().eval_component(&input);
    assert_eq!(r.fatal, None);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let got: Vec<bool> = messages(&r).iter().map(|m| m.ends_with(":1")).collect();
    for ((condition, expected), got) in conditions.iter().zip(&got) {
        assert_eq!(got, expected, "if({condition})");
    }
    assert_eq!(got.len(), conditions.len());
    assert!(
        r.inputs
            .exists_checks
            .iter()
            .any(|c| c.path == dir.join("nope") && !c.result)
    );
    assert_eq!(
        r.inputs
            .variables
            .get(&InputKey::BuildProperty("BUILD_COMPONENTS".into())),
        Some(&Some("freertos;esp_system".into()))
    );
}

#[test]
fn target_of_other_component_without_build_components_warns() {
    let (_f, r) = eval("if(TARGET idf::freertos)\nmessage(yes)\nendif()\n");
    assert_eq!(r.fatal, None);
    assert_eq!(r.warnings.len(), 1);
    assert!(r.warnings[0].message.contains("assumed false"));
    assert!(messages(&r).is_empty());
}

#[test]
fn boolean_operators_and_precedence() {
    let results = truth(
        "set(t TRUE)\nset(f FALSE)\n",
        &[
            "NOT f",
            "t AND f",
            "t OR f",
            "NOT t OR t",
            "f AND f OR t",
            "t OR f AND f",
            "f AND (f OR t)",
            "(t OR f) AND NOT f",
            "NOT (t AND f)",
            "((t))",
            "NOT \"\"",
            "f STREQUAL FALSE AND t",
            "1 EQUAL 1 OR 1 EQUAL 2",
        ],
    );
    // AND and OR have the same precedence and go left to right: `t OR f AND f` is `(t OR f) AND f`.
    assert_eq!(
        results,
        vec![
            true, false, true, true, true, false, false, true, true, true, true, true, true
        ]
    );
}

#[test]
fn malformed_conditions_are_cmake_errors() {
    for cond in ["a b", "NOT NOT x", "${paren} a", "a STREQUAL", "a AND"] {
        let (_f, r) = eval(&format!("set(paren \"(\")\nif({cond})\nendif()\n"));
        let fatal = r
            .fatal
            .unwrap_or_else(|| panic!("`if({cond})` should be an error"));
        assert_eq!(fatal.line, 2);
        assert!(fatal.message.contains("if()"), "{}", fatal.message);
    }
    assert_eq!(truth("", &[""]), vec![false]);
}

#[test]
fn elseif_chain_takes_first_true_branch() {
    let out = output(
        "set(target esp32c3)\n\
         if(target STREQUAL esp32)\nmessage(one)\n\
         elseif(target STREQUAL esp32c3)\nmessage(two)\n\
         elseif(target MATCHES esp)\nmessage(three)\n\
         else()\nmessage(four)\nendif()\n",
    );
    assert_eq!(out, vec!["two"]);
}

#[test]
fn config_values_are_undefined_in_early_expansion() {
    let fixture = Fixture::new();
    fixture.component(
        "comp",
        "if(CONFIG_FREERTOS_UNICORE)\nmessage(config-seen)\nendif()\n\
         if(CMAKE_BUILD_EARLY_EXPANSION)\nmessage(early)\nendif()\n\
         if(DEFINED CONFIG_SPIRAM)\nmessage(defined)\nendif()\n",
    );
    let early = fixture.eval("comp", ComponentPass::EarlyExpansion);
    assert_eq!(messages(&early), vec!["early"]);
    let processing = fixture.eval("comp", ComponentPass::Processing);
    assert_eq!(messages(&processing), vec!["config-seen", "defined"]);
}
