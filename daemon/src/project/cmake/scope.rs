//! Variable scopes.
//!
//! CMake gives each function call and each `add_subdirectory()` a new scope initialised as a
//! copy of the caller's. Here a scope is an overlay on the one below it (a lookup walks down the
//! stack), which is the same thing as long as the scope below does not change while the overlay
//! is live — and it only can through `set(... PARENT_SCOPE)`, which is handled by first pinning
//! the current value in the overlay (in CMake, PARENT_SCOPE never changes the caller's own view).
//! An unset variable is an explicit `None` so that it hides the scopes below.
//! The bottom of the stack falls through to the evaluation inputs (see `Interp::base_variable`).

use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameKind {
    /// Values the evaluator defines for the file (COMPONENT_NAME, CMAKE_CURRENT_SOURCE_DIR, ...).
    Base,
    /// A directory: the evaluated file itself, or an `add_subdirectory()`.
    Directory,
    Function,
    /// `block()`.
    Block,
}

#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) kind: FrameKind,
    pub(crate) vars: HashMap<String, Option<String>>,
}

#[derive(Debug, Default)]
pub(crate) struct Scopes {
    frames: Vec<Frame>,
}

/// What a walk down the frames found.
pub(crate) enum Found<'a> {
    Set(&'a str),
    Unset,
    /// No frame knows the name: ask the inputs.
    Missing,
}

impl Scopes {
    pub(crate) fn push(&mut self, kind: FrameKind) {
        self.frames.push(Frame {
            kind,
            vars: HashMap::new(),
        });
    }

    pub(crate) fn pop(&mut self) -> Option<Frame> {
        // The base frame stays.
        if self.frames.len() > 1 {
            self.frames.pop()
        } else {
            None
        }
    }

    pub(crate) fn get(&self, name: &str) -> Found<'_> {
        for frame in self.frames.iter().rev() {
            if let Some(value) = frame.vars.get(name) {
                return match value {
                    Some(v) => Found::Set(v),
                    None => Found::Unset,
                };
            }
        }
        Found::Missing
    }

    pub(crate) fn set(&mut self, name: &str, value: String) {
        if let Some(top) = self.frames.last_mut() {
            top.vars.insert(name.to_owned(), Some(value));
        }
    }

    pub(crate) fn unset(&mut self, name: &str) {
        if let Some(top) = self.frames.last_mut() {
            top.vars.insert(name.to_owned(), None);
        }
    }

    /// Mutable access to the value in the top frame, creating it from `current` (the visible
    /// value) when the top frame does not hold the name yet: in-place list appends.
    pub(crate) fn top_value_mut(
        &mut self,
        name: &str,
        current: impl FnOnce() -> Option<String>,
    ) -> &mut String {
        let needs_init = !matches!(
            self.frames.last().and_then(|f| f.vars.get(name)),
            Some(Some(_))
        );
        if needs_init {
            let value = current().unwrap_or_default();
            if let Some(top) = self.frames.last_mut() {
                top.vars.insert(name.to_owned(), Some(value));
            }
        }
        let top = self
            .frames
            .last_mut()
            .expect("the base frame always exists");
        top.vars
            .get_mut(name)
            .and_then(Option::as_mut)
            .expect("just inserted")
    }

    /// `set(name value PARENT_SCOPE)` / `unset(name PARENT_SCOPE)`. `visible` is the value the
    /// current scope sees now, pinned so that the change does not show through. Returns false
    /// when there is no parent scope.
    pub(crate) fn set_parent(
        &mut self,
        name: &str,
        value: Option<String>,
        visible: Option<String>,
    ) -> bool {
        let n = self.frames.len();
        if n < 3 {
            // Frame 0 is the evaluator's base; the evaluated file's own scope has no parent the
            // file could observe.
            return false;
        }
        let top = &mut self.frames[n - 1];
        top.vars.entry(name.to_owned()).or_insert(visible);
        self.frames[n - 2].vars.insert(name.to_owned(), value);
        true
    }

    /// Every variable defined in the frames above the base, as the top of the stack sees them.
    pub(crate) fn visible_set_variables(&self) -> Vec<(String, String)> {
        let mut seen: HashMap<&str, Option<&str>> = HashMap::new();
        for frame in self
            .frames
            .iter()
            .rev()
            .filter(|f| f.kind != FrameKind::Base)
        {
            for (name, value) in &frame.vars {
                seen.entry(name.as_str()).or_insert(value.as_deref());
            }
        }
        let mut out: Vec<(String, String)> = seen
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned())))
            .collect();
        out.sort();
        out
    }
}
