//! The result cache: what invalidates a cached evaluation and what does not.

use super::*;

fn setup() -> (Fixture, ComponentInput) {
    let fixture = Fixture::new();
    fixture.write("components/comp/src/a.c", "");
    fixture.component(
        "comp",
        "file(GLOB extra ${CMAKE_CURRENT_LIST_DIR}/src/*.c)\n\
         set(srcs main.c ${extra})\n\
         if(CONFIG_FREERTOS_UNICORE)\nlist(APPEND srcs unicore.c)\nendif()\n\
         if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/optional.c)\nlist(APPEND srcs optional.c)\nendif()\n\
         idf_component_register(SRCS ${srcs})\n",
    );
    let input = fixture.input("comp", ComponentPass::Processing);
    (fixture, input)
}

fn with_values(input: &ComponentInput, change: impl FnOnce(&mut InputValues)) -> ComponentInput {
    let mut values = (*input.values).clone();
    change(&mut values);
    ComponentInput {
        values: Arc::new(values),
        ..input.clone()
    }
}

#[test]
fn unchanged_inputs_return_the_same_result() {
    let (_fixture, input) = setup();
    let evaluator = Evaluator::new();
    let first = evaluator.eval_component_cached(&input);
    let second = evaluator.eval_component_cached(&input);
    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!(
        evaluator.stats(),
        EvaluatorStats {
            evaluations: 1,
            cache_hits: 1
        }
    );
    assert!(first.inputs.still_valid(&input.values));
}

#[test]
fn content_change_re_evaluates() {
    let (fixture, input) = setup();
    let evaluator = Evaluator::new();
    let first = evaluator.eval_component_cached(&input);
    // Same size, different content: the hash catches it even if the mtime tick did not move.
    let path = fixture.component_dir("comp").join("CMakeLists.txt");
    let old = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, old.replace("main.c", "mainx")).unwrap();
    assert!(!first.inputs.still_valid(&input.values));
    let second = evaluator.eval_component_cached(&input);
    assert!(!Arc::ptr_eq(&first, &second));
    assert_eq!(evaluator.stats().evaluations, 2);
    assert!(
        second.registrations[0]
            .srcs
            .iter()
            .any(|p| p.ends_with("mainx"))
    );
}

#[test]
fn touching_a_file_without_changing_it_keeps_the_result() {
    let (fixture, input) = setup();
    let evaluator = Evaluator::new();
    let first = evaluator.eval_component_cached(&input);
    let path = fixture.component_dir("comp").join("CMakeLists.txt");
    let content = std::fs::read(&path).unwrap();
    std::fs::write(&path, content).unwrap();
    let second = evaluator.eval_component_cached(&input);
    assert!(Arc::ptr_eq(&first, &second));
}

#[test]
fn unrelated_variable_change_does_not_re_evaluate() {
    let (_fixture, input) = setup();
    let evaluator = Evaluator::new();
    let first = evaluator.eval_component_cached(&input);
    let changed = with_values(&input, |v| {
        v.variables
            .insert("CONFIG_UNRELATED_OPTION".into(), "y".into());
        v.variables
            .insert("CONFIG_LOG_DEFAULT_LEVEL".into(), "5".into());
        v.env.insert("SOME_ENV".into(), "x".into());
        v.build_properties
            .insert("COMPILE_OPTIONS".into(), "-O3".into());
    });
    let second = evaluator.eval_component_cached(&changed);
    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!(evaluator.stats().evaluations, 1);
}

#[test]
fn read_variable_change_re_evaluates() {
    let (_fixture, input) = setup();
    let evaluator = Evaluator::new();
    let first = evaluator.eval_component_cached(&input);
    assert!(
        first.registrations[0]
            .srcs
            .iter()
            .any(|p| p.ends_with("unicore.c"))
    );
    let changed = with_values(&input, |v| {
        v.variables
            .insert("CONFIG_FREERTOS_UNICORE".into(), "".into());
    });
    let second = evaluator.eval_component_cached(&changed);
    assert!(!Arc::ptr_eq(&first, &second));
    assert!(
        !second.registrations[0]
            .srcs
            .iter()
            .any(|p| p.ends_with("unicore.c"))
    );
    // Removing a variable that was read as defined is a change too.
    let removed = with_values(&input, |v| {
        v.variables.remove("CONFIG_FREERTOS_UNICORE");
    });
    assert!(!second.inputs.still_valid(&removed.values));
}

#[test]
fn glob_and_existence_changes_re_evaluate() {
    let (fixture, input) = setup();
    let evaluator = Evaluator::new();
    let first = evaluator.eval_component_cached(&input);
    fixture.write("components/comp/src/b.c", "");
    let second = evaluator.eval_component_cached(&input);
    assert!(!Arc::ptr_eq(&first, &second));
    assert!(
        second.registrations[0]
            .srcs
            .iter()
            .any(|p| p.ends_with("src/b.c"))
    );

    fixture.write("components/comp/optional.c", "");
    let third = evaluator.eval_component_cached(&input);
    assert!(!Arc::ptr_eq(&second, &third));
    assert!(
        third.registrations[0]
            .srcs
            .iter()
            .any(|p| p.ends_with("optional.c"))
    );
    let fourth = evaluator.eval_component_cached(&input);
    assert!(Arc::ptr_eq(&third, &fourth));
}

#[test]
fn included_file_change_re_evaluates() {
    let fixture = Fixture::new();
    fixture.write("components/comp/sources.cmake", "set(srcs a.c)\n");
    fixture.component(
        "comp",
        "include(sources.cmake)\nidf_component_register(SRCS ${srcs})\n",
    );
    let input = fixture.input("comp", ComponentPass::EarlyExpansion);
    let evaluator = Evaluator::new();
    let first = evaluator.eval_component_cached(&input);
    fixture.write("components/comp/sources.cmake", "set(srcs b.c)\n");
    let second = evaluator.eval_component_cached(&input);
    assert!(!Arc::ptr_eq(&first, &second));
    assert!(second.registrations[0].srcs[0].ends_with("b.c"));
}

#[test]
fn passes_and_components_are_cached_separately() {
    let (fixture, input) = setup();
    let evaluator = Evaluator::new();
    let processing = evaluator.eval_component_cached(&input);
    let early =
        evaluator.eval_component_cached(&fixture.input("comp", ComponentPass::EarlyExpansion));
    assert!(!Arc::ptr_eq(&processing, &early));
    assert_eq!(early.pass, ComponentPass::EarlyExpansion);
    // In the early expansion CONFIG_* is undefined and never recorded as read.
    assert!(
        !early
            .inputs
            .variables
            .contains_key(&InputKey::Variable("CONFIG_FREERTOS_UNICORE".into()))
    );
    assert_eq!(evaluator.stats().evaluations, 2);
}

#[test]
fn missing_file_is_fatal_and_its_creation_invalidates() {
    let fixture = Fixture::new();
    let input = fixture.input("ghost", ComponentPass::Processing);
    let evaluator = Evaluator::new();
    let first = evaluator.eval_component_cached(&input);
    assert!(
        first
            .fatal
            .as_ref()
            .expect("fatal")
            .message
            .contains("cannot read")
    );
    assert!(Arc::ptr_eq(
        &first,
        &evaluator.eval_component_cached(&input)
    ));
    fixture.component("ghost", "idf_component_register()\n");
    let second = evaluator.eval_component_cached(&input);
    assert_eq!(second.fatal, None);
    assert_eq!(second.registrations.len(), 1);
}

#[test]
fn project_results_are_cached() {
    let fixture = Fixture::new();
    fixture.write(
        "project/CMakeLists.txt",
        "set(COMPONENTS main)\nproject(p)\n",
    );
    let input = ProjectInput::new(fixture.path("project"), Arc::new(fixture.values.clone()));
    let evaluator = Evaluator::new();
    let first = evaluator.eval_project_cached(&input);
    assert!(Arc::ptr_eq(&first, &evaluator.eval_project_cached(&input)));
    fixture.write(
        "project/CMakeLists.txt",
        "set(COMPONENTS main app)\nproject(p)\n",
    );
    let second = evaluator.eval_project_cached(&input);
    assert_eq!(
        second.variables.get("COMPONENTS").map(String::as_str),
        Some("main;app")
    );
}

#[test]
fn evaluator_is_send_and_sync_and_works_in_parallel() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Evaluator>();
    let (_fixture, input) = setup();
    let evaluator = Evaluator::new();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let r = evaluator.eval_component_cached(&input);
                assert_eq!(r.registrations.len(), 1);
            });
        }
    });
}

#[test]
fn command_files_are_inputs_only_when_used() {
    let fixture = Fixture::new();
    let helper = fixture.write(
        "helpers/project_include.cmake",
        "function(helper_fn)\nendfunction()\n",
    );
    fixture.component("plain", "idf_component_register(SRCS a.c)\n");
    fixture.component("user", "helper_fn()\nidf_component_register(SRCS a.c)\n");
    fixture.component("unknown", "not_defined_anywhere()\n");
    let evaluator = Evaluator::new();
    let input = |name: &str| {
        let mut input = fixture.input(name, ComponentPass::Processing);
        input.command_files = Arc::from([helper.clone()]);
        input
    };
    let plain = evaluator.eval_component_cached(&input("plain"));
    let user = evaluator.eval_component_cached(&input("user"));
    let unknown = evaluator.eval_component_cached(&input("unknown"));
    assert!(!plain.inputs.files.iter().any(|f| f.path == helper));
    assert!(user.inputs.files.iter().any(|f| f.path == helper));
    assert!(unknown.inputs.files.iter().any(|f| f.path == helper));
    // A new definition in the helper file: components that could see it are re-evaluated.
    fixture.write(
        "helpers/project_include.cmake",
        "function(helper_fn)\nendfunction()\nfunction(not_defined_anywhere)\nendfunction()\n",
    );
    assert!(Arc::ptr_eq(
        &plain,
        &evaluator.eval_component_cached(&input("plain"))
    ));
    assert!(!Arc::ptr_eq(
        &user,
        &evaluator.eval_component_cached(&input("user"))
    ));
    let unknown_again = evaluator.eval_component_cached(&input("unknown"));
    assert!(!Arc::ptr_eq(&unknown, &unknown_again));
    assert!(
        unknown_again.warnings.is_empty(),
        "{:?}",
        unknown_again.warnings
    );
}

#[test]
fn is_newer_than_operands_are_inputs() {
    let fixture = Fixture::new();
    fixture.write("components/stamp/a.txt", "a");
    fixture.write("components/stamp/b.txt", "b");
    fixture.component(
        "stamp",
        "if(${CMAKE_CURRENT_LIST_DIR}/a.txt IS_NEWER_THAN ${CMAKE_CURRENT_LIST_DIR}/b.txt)\n\
         set(srcs newer.c)\nelse()\nset(srcs older.c)\nendif()\n\
         idf_component_register(SRCS ${srcs})\n",
    );
    let input = fixture.input("stamp", ComponentPass::Processing);
    let evaluator = Evaluator::new();
    let first = evaluator.eval_component_cached(&input);
    let dir = fixture.component_dir("stamp");
    for name in ["a.txt", "b.txt"] {
        assert!(
            first.inputs.files.iter().any(|f| f.path == dir.join(name)),
            "{name} is not an input of the evaluation"
        );
    }
    std::fs::write(dir.join("b.txt"), "b changed").unwrap();
    let second = evaluator.eval_component_cached(&input);
    assert!(!Arc::ptr_eq(&first, &second));
}
