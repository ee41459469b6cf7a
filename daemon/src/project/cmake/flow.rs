//! Loops, `block()`, and user-defined commands (`function()` / `macro()`).

use std::rc::Rc;
use std::sync::Arc;

use super::expand;
use super::interp::{
    Flow, Interp, MAX_DEPTH, MAX_FOREACH, MAX_WHILE, UserCommand, UserKind, try_flow,
};
use super::paths;
use super::scope::FrameKind;
use super::syntax::{Call, Node};

impl Interp<'_> {
    pub(crate) fn run_foreach(&mut self, head: &Call, body: &[Node]) -> Flow {
        self.line = head.line;
        let args = try_flow!(self.expand_args(head));
        let Some((vars, iterations)) = self.foreach_items(&args) else {
            return Flow::Stop;
        };
        let saved: Vec<(String, Option<String>)> =
            vars.iter().map(|v| (v.clone(), self.var(v))).collect();
        let mut flow = Flow::Normal;
        for (count, values) in iterations.into_iter().enumerate() {
            if count >= MAX_FOREACH {
                self.line = head.line;
                self.warn(format!("foreach() stopped after {MAX_FOREACH} iterations"));
                break;
            }
            for (var, value) in vars.iter().zip(values) {
                self.set_var(var, value);
            }
            match self.run_block(body) {
                Flow::Normal | Flow::Continue => {}
                Flow::Break => break,
                other => {
                    flow = other;
                    break;
                }
            }
        }
        // The loop variables are scoped to the loop (CMP0124).
        for (var, old) in saved {
            match old {
                Some(v) => self.set_var(&var, v),
                None => self.unset_var(&var),
            }
        }
        flow
    }

    /// The loop variables and the values of each iteration. None: error reported.
    fn foreach_items(&mut self, args: &[String]) -> Option<(Vec<String>, Vec<Vec<String>>)> {
        if args.is_empty() {
            self.fail("foreach() called with incorrect number of arguments");
            return None;
        }
        if args.len() >= 2 && args[1] == "RANGE" {
            let numbers: Vec<i64> = args[2..].iter().map(|a| super::commands::atoi(a)).collect();
            let (start, stop, step) = match numbers.as_slice() {
                [stop] => (0, *stop, 1),
                [start, stop] => (*start, *stop, 1),
                [start, stop, step] => (*start, *stop, *step),
                _ => {
                    self.fail("foreach(RANGE) called with incorrect number of arguments");
                    return None;
                }
            };
            if (start > stop && step > 0) || (start < stop && step < 0) || step == 0 {
                self.fail(format!(
                    "foreach() called with incorrect range specification: start {start}, stop {stop}, step {step}"
                ));
                return None;
            }
            let mut items = Vec::new();
            let mut i = start;
            while ((step > 0 && i <= stop) || (step < 0 && i >= stop)) && items.len() <= MAX_FOREACH
            {
                items.push(vec![i.to_string()]);
                i = match i.checked_add(step) {
                    Some(n) => n,
                    None => break,
                };
            }
            return Some((vec![args[0].clone()], items));
        }
        let Some(in_pos) = args.iter().position(|a| a == "IN") else {
            return Some((
                vec![args[0].clone()],
                args[1..].iter().map(|a| vec![a.clone()]).collect(),
            ));
        };
        let vars: Vec<String> = args[..in_pos].to_vec();
        if vars.is_empty() {
            self.fail("foreach() called without a loop variable");
            return None;
        }
        let mut items: Vec<String> = Vec::new();
        let mut zip: Vec<Vec<String>> = Vec::new();
        let mut mode = "";
        let mut zip_mode = false;
        for arg in &args[in_pos + 1..] {
            match (arg.as_str(), mode) {
                ("LISTS", m) if m != "ITEMS" => mode = "LISTS",
                ("ITEMS", _) => mode = "ITEMS",
                ("ZIP_LISTS", "") => {
                    mode = "ZIP_LISTS";
                    zip_mode = true;
                }
                (name, "LISTS") => {
                    let value = self.var_or_empty(name);
                    items.extend(expand::list_items_nonempty(&value));
                }
                (name, "ZIP_LISTS") => {
                    let value = self.var_or_empty(name);
                    zip.push(expand::list_items(&value));
                }
                (item, "ITEMS") => items.push(item.to_owned()),
                (other, _) => {
                    self.fail(format!(
                        "foreach(IN ...) given unexpected argument `{other}`"
                    ));
                    return None;
                }
            }
        }
        if zip_mode {
            let rows = zip.iter().map(Vec::len).max().unwrap_or(0);
            let loop_vars: Vec<String> = if vars.len() == 1 {
                (0..zip.len()).map(|i| format!("{}_{i}", vars[0])).collect()
            } else if vars.len() == zip.len() {
                vars.clone()
            } else {
                self.fail("foreach(... IN ZIP_LISTS) expects one loop variable or one per list");
                return None;
            };
            let iterations = (0..rows)
                .map(|r| {
                    zip.iter()
                        .map(|l| l.get(r).cloned().unwrap_or_default())
                        .collect()
                })
                .collect();
            return Some((loop_vars, iterations));
        }
        if vars.len() != 1 {
            self.fail("foreach() with several loop variables needs IN ZIP_LISTS");
            return None;
        }
        Some((vars, items.into_iter().map(|i| vec![i]).collect()))
    }

    pub(crate) fn run_while(&mut self, head: &Call, body: &[Node]) -> Flow {
        let mut iterations = 0usize;
        loop {
            self.line = head.line;
            if !self.step() {
                return Flow::Stop;
            }
            match self.condition(head) {
                Some(true) => {}
                Some(false) => return Flow::Normal,
                None => return Flow::Stop,
            }
            iterations += 1;
            if iterations > MAX_WHILE {
                self.warn(format!(
                    "while() stopped after {MAX_WHILE} iterations; the plan uses the state at that point"
                ));
                return Flow::Normal;
            }
            match self.run_block(body) {
                Flow::Normal | Flow::Continue => {}
                Flow::Break => return Flow::Normal,
                other => return other,
            }
        }
    }

    pub(crate) fn run_scoped_block(&mut self, head: &Call, body: &[Node]) -> Flow {
        self.line = head.line;
        let args = try_flow!(self.expand_args(head));
        let mut variables_scope = true;
        let mut propagate = Vec::new();
        let mut i = 0;
        while i < args.len() {
            match args[i].as_str() {
                "SCOPE_FOR" => {
                    variables_scope = false;
                    i += 1;
                    while i < args.len() && matches!(args[i].as_str(), "POLICIES" | "VARIABLES") {
                        if args[i] == "VARIABLES" {
                            variables_scope = true;
                        }
                        i += 1;
                    }
                    continue;
                }
                "PROPAGATE" => {
                    propagate.extend(args[i + 1..].iter().cloned());
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        if !variables_scope {
            return self.run_block(body);
        }
        self.scopes.push(FrameKind::Block);
        let flow = self.run_block(body);
        let mut extra = Vec::new();
        if let Flow::Return(vars) = &flow {
            extra.extend(vars.iter().cloned());
        }
        for name in propagate.iter().chain(extra.iter()) {
            let value = self.var(name);
            self.set_parent(name, value);
        }
        self.scopes.pop();
        flow
    }

    pub(crate) fn define(&mut self, head: &Call, body: &Arc<[Node]>, kind: UserKind) -> Flow {
        self.line = head.line;
        let args = try_flow!(self.expand_args(head));
        let Some(name) = args.first() else {
            self.fail(format!("`{}()` called without a name", head.name));
            return Flow::Stop;
        };
        let command = UserCommand {
            name: name.to_ascii_lowercase(),
            kind,
            params: args[1..].to_vec(),
            body: body.clone(),
            file: self.file.clone(),
            line: head.line,
        };
        self.commands.insert(command.name.clone(), Rc::new(command));
        Flow::Normal
    }

    /// Runs a function or macro.
    pub(crate) fn invoke(&mut self, command: &Rc<UserCommand>, call: &Call) -> Flow {
        let args = try_flow!(self.expand_args(call));
        if args.len() < command.params.len() {
            self.fail(format!(
                "`{}()` invoked with incorrect arguments: it needs {} and got {}",
                command.name,
                command.params.len(),
                args.len()
            ));
            return Flow::Stop;
        }
        if self.depth >= MAX_DEPTH {
            self.fail(format!(
                "maximum nesting depth {MAX_DEPTH} exceeded calling `{}()`",
                command.name
            ));
            return Flow::Stop;
        }
        self.depth += 1;
        self.call_sites
            .push((self.file.clone(), call.line, command.name.clone()));
        let saved_file = std::mem::replace(&mut self.file, command.file.clone());
        let saved_line = self.line;
        let flow = match command.kind {
            UserKind::Function => self.run_function(command, &args),
            UserKind::Macro => self.run_macro(command, &args),
        };
        self.file = saved_file;
        self.line = saved_line;
        self.call_sites.pop();
        self.depth -= 1;
        flow
    }

    fn run_function(&mut self, command: &UserCommand, args: &[String]) -> Flow {
        self.scopes.push(FrameKind::Function);
        self.set_var("ARGC", args.len().to_string());
        self.set_var("ARGV", expand::join_list(args));
        self.set_var("ARGN", expand::join_list(&args[command.params.len()..]));
        for (i, arg) in args.iter().enumerate() {
            self.set_var(&format!("ARGV{i}"), arg.clone());
        }
        for (param, arg) in command.params.iter().zip(args) {
            self.set_var(param, arg.clone());
        }
        self.set_var("CMAKE_CURRENT_FUNCTION", command.name.clone());
        self.set_var(
            "CMAKE_CURRENT_FUNCTION_LIST_FILE",
            paths::to_cmake(&command.file),
        );
        let dir = command
            .file
            .parent()
            .map(paths::to_cmake)
            .unwrap_or_default();
        self.set_var("CMAKE_CURRENT_FUNCTION_LIST_DIR", dir);
        self.set_var("CMAKE_CURRENT_FUNCTION_LIST_LINE", command.line.to_string());
        let flow = self.run_block(&command.body);
        let flow = match flow {
            Flow::Return(vars) => {
                for name in vars {
                    let value = self.var(&name);
                    self.set_parent(&name, value);
                }
                Flow::Normal
            }
            Flow::Break | Flow::Continue => {
                self.warn("`break()` or `continue()` outside of a loop");
                Flow::Normal
            }
            other => other,
        };
        self.scopes.pop();
        flow
    }

    fn run_macro(&mut self, command: &UserCommand, args: &[String]) -> Flow {
        // Macro parameters are not variables: they are replaced in the text of the body.
        let mut replacements: Vec<(String, String)> = Vec::new();
        for (param, arg) in command.params.iter().zip(args) {
            replacements.push((format!("${{{param}}}"), arg.clone()));
        }
        replacements.push(("${ARGC}".into(), args.len().to_string()));
        replacements.push((
            "${ARGN}".into(),
            expand::join_list(&args[command.params.len()..]),
        ));
        replacements.push(("${ARGV}".into(), expand::join_list(args)));
        for (i, arg) in args.iter().enumerate() {
            replacements.push((format!("${{ARGV{i}}}"), arg.clone()));
        }
        let substitute = |text: &str| {
            if !text.contains("${") {
                return text.to_owned();
            }
            let mut out = text.to_owned();
            for (from, to) in &replacements {
                if out.contains(from.as_str()) {
                    out = out.replace(from.as_str(), to);
                }
            }
            out
        };
        let body: Vec<Node> = command
            .body
            .iter()
            .map(|n| n.map_args(&substitute))
            .collect();
        self.run_block(&body)
    }
}
