//! `espctl plan` (and `espctl build --local`), `espctl components` and `espctl clean-plan`: what a
//! build or a clean would do, rendered from the daemon's `generate_build_plan` and `get_clean_plan`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use espctl_protocol::methods::{GenerateBuildPlan, GetCleanPlan};
use espctl_protocol::plan::{
    BuildOverrides, BuildPlan, BuildPlanParams, CleanPlan, CleanPlanParams, CleanScope, Exactness,
    FORWARDED_ENV, Profile,
};

use super::output::{self, Color, Output};
use super::{CliError, Outcome};

/// Lines of a clean plan shown one by one before the human view groups them by directory.
const CLEAN_LIST_LIMIT: usize = 40;

#[derive(Debug, Clone, Default, Args)]
pub struct PlanArgs {
    /// Project directory [default: .]
    #[arg(value_name = "PATH")]
    pub path: Option<PathBuf>,
    /// Chip [default: the project's default_target, then the configured one]
    #[arg(long, value_name = "CHIP")]
    pub target: Option<String>,
    /// debug (default) or release
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<ProfileArg>,
    /// Plan a clean build (a full clean first)
    #[arg(long)]
    pub clean: bool,
    /// Pin the ESP-IDF version [default: .idf-version, then .espctl.toml]
    #[arg(long, value_name = "VER")]
    pub idf_version: Option<String>,
    /// Recipe parameter KEY=VALUE: cmake.<VAR>=<value>, sdkconfig.<CONFIG_X>=<value>, build_dir=<dir>, jobs=<n>
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProfileArg {
    Debug,
    Release,
}

impl From<ProfileArg> for Profile {
    fn from(p: ProfileArg) -> Profile {
        match p {
            ProfileArg::Debug => Profile::Debug,
            ProfileArg::Release => Profile::Release,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ComponentsArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Print the requirement chain that pulls NAME into the build
    #[arg(long, value_name = "NAME")]
    pub why: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct CleanPlanArgs {
    /// Project directory [default: .]
    #[arg(value_name = "PATH")]
    pub path: Option<PathBuf>,
    /// What `idf.py fullclean` would delete (the whole build directory's contents)
    #[arg(long)]
    pub full: bool,
    /// debug (default) or release
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<ProfileArg>,
    /// Build directory [default: the profile's]
    #[arg(long, value_name = "DIR")]
    pub build_dir: Option<String>,
}

/// The variables of this process's environment that builds depend on; the daemon never uses its own.
pub fn caller_env() -> BTreeMap<String, String> {
    FORWARDED_ENV
        .iter()
        .filter_map(|name| std::env::var(name).ok().map(|v| (name.to_string(), v)))
        .collect()
}

/// A project path made absolute against the current directory.
pub fn project_path(path: Option<&Path>) -> anyhow::Result<String> {
    let path = path.unwrap_or(Path::new("."));
    let abs =
        std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))?;
    Ok(abs.display().to_string())
}

/// Parses `--param KEY=VALUE` into the recipe overrides.
pub fn parse_params(params: &[String]) -> Result<BuildOverrides, CliError> {
    let mut o = BuildOverrides::default();
    for p in params {
        let Some((key, value)) = p.split_once('=') else {
            return Err(CliError::usage(format!("--param `{p}` is not KEY=VALUE")));
        };
        let key = key.trim();
        if let Some(var) = key.strip_prefix("cmake.") {
            o.cmake_cache.insert(var.to_string(), value.to_string());
        } else if let Some(sym) = key.strip_prefix("sdkconfig.") {
            o.sdkconfig.insert(sym.to_string(), value.to_string());
        } else if key == "build_dir" {
            o.build_dir = Some(value.to_string());
        } else if key == "jobs" {
            o.jobs = Some(value.parse().map_err(|_| {
                CliError::usage(format!(
                    "--param jobs={value}: jobs must be a positive number"
                ))
            })?);
        } else {
            return Err(CliError::usage(format!("unknown --param key `{key}`"))
                .with_hint("keys: cmake.<VAR>, sdkconfig.<CONFIG_X>, build_dir, jobs"));
        }
    }
    Ok(o)
}

impl PlanArgs {
    pub fn to_params(&self) -> anyhow::Result<BuildPlanParams> {
        Ok(BuildPlanParams {
            path: project_path(self.path.as_deref())?,
            target: self.target.clone(),
            profile: self.profile.map(Profile::from),
            idf_version: self.idf_version.clone(),
            clean: self.clean,
            params: parse_params(&self.params)?,
            env: caller_env(),
        })
    }
}

async fn fetch_plan(args: &PlanArgs, socket: &Path) -> anyhow::Result<BuildPlan> {
    let params = args.to_params()?;
    let client = super::connect(socket).await?;
    Ok(client.call::<GenerateBuildPlan>(&params).await?)
}

/// The exit code a plan gives: 2 when a build would stop on a configuration error.
fn plan_exit_code(plan: &BuildPlan) -> i32 {
    if plan.errors.is_empty() { 0 } else { 2 }
}

/// `espctl plan` / `espctl build --local`.
pub async fn plan(args: PlanArgs, socket: &Path, out: Output) -> Outcome {
    let plan = fetch_plan(&args, socket).await?;
    if out.json {
        output::line(&serde_json::to_string_pretty(&plan)?)?;
    } else {
        for line in render_plan(&plan, &out) {
            output::line(&line)?;
        }
    }
    Ok(plan_exit_code(&plan))
}

/// The human view of a plan.
pub fn render_plan(plan: &BuildPlan, out: &Output) -> Vec<String> {
    let label = |name: &str| out.paint(Color::Bold, &format!("{name:<10}"));
    let idf = &plan.idf_version_resolved;
    let idf_line = match (&idf.version, &idf.idf_path) {
        (Some(v), Some(p)) => format!(
            "{v} at {p} (via {})",
            idf.found_via.as_deref().unwrap_or("?")
        ),
        _ => out.paint(Color::Yellow, "no ESP-IDF install found"),
    };
    let mut lines = vec![
        format!(
            "{} {} ({})",
            label("Project"),
            plan.project_name,
            plan.recipe_id
        ),
        format!("{} {}", label("Directory"), plan.project_dir),
        format!(
            "{} {} (from {})",
            label("Target"),
            plan.target,
            plan.target_source
        ),
        format!("{} {}", label("Profile"), plan.profile.as_str()),
        format!("{} {}", label("ESP-IDF"), idf_line),
        format!("{} {}", label("Build dir"), plan.build_dir),
        format!(
            "{} {}",
            label("Plan"),
            match plan.exactness {
                Exactness::Configured => "exact (from the configured build directory)".to_string(),
                Exactness::Estimated => format!(
                    "estimated{}",
                    if plan.guessed_config.is_empty() {
                        String::new()
                    } else {
                        format!(" ({} config values guessed)", plan.guessed_config.len())
                    }
                ),
            }
        ),
        format!(
            "{} {}",
            label("Estimate"),
            match plan.estimated_duration_secs {
                Some(s) => output::duration(s.round() as u64),
                None => format!("unknown: {}", plan.estimate_note),
            }
        ),
        String::new(),
        out.paint(Color::Bold, "Steps"),
    ];
    for (i, step) in plan.command_pipeline.iter().enumerate() {
        lines.push(format!(
            "  {}. {} {}",
            i + 1,
            out.paint(Color::Cyan, &step.name),
            out.paint(Color::Dim, &format!("({})", step.reason))
        ));
        lines.push(format!("     {}", shell_words(&step.argv)));
    }
    let mut by_source: BTreeMap<String, usize> = BTreeMap::new();
    for c in &plan.components {
        *by_source
            .entry(
                serde_json::to_value(c.source)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
            )
            .or_default() += 1;
    }
    let sources: Vec<String> = by_source.iter().map(|(s, n)| format!("{n} {s}")).collect();
    lines.push(String::new());
    lines.push(format!(
        "{} {} ({})",
        out.paint(Color::Bold, "Components"),
        plan.components.len(),
        sources.join(", ")
    ));
    lines.push(format!("  {}", plan.build_order.join(" ")));
    if !plan.expected_artifacts.is_empty() {
        lines.push(String::new());
        lines.push(out.paint(Color::Bold, "Artifacts"));
        for a in &plan.expected_artifacts {
            lines.push(format!("  {a}"));
        }
    }
    for cycle in &plan.cycles {
        lines.push(format!(
            "{} requirement cycle: {}",
            out.paint(Color::Yellow, "note:"),
            cycle.join(" -> ")
        ));
    }
    for w in &plan.warnings {
        lines.push(format!(
            "{} {}",
            out.paint(Color::Yellow, "warning:"),
            diagnostic(w)
        ));
    }
    for e in &plan.errors {
        lines.push(format!(
            "{} {}",
            out.paint(Color::Red, "error:"),
            diagnostic(e)
        ));
    }
    lines
}

fn diagnostic(d: &espctl_protocol::plan::PlanDiagnostic) -> String {
    match (&d.file, d.line) {
        (Some(f), Some(l)) => format!("{f}:{l}: {}", d.message),
        (Some(f), None) => format!("{f}: {}", d.message),
        _ => d.message.clone(),
    }
}

/// Arguments joined for display, quoting the ones a shell would split.
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if a.is_empty()
                || a.chars()
                    .any(|c| c.is_whitespace() || "'\"$;&|<>()".contains(c))
            {
                format!("'{}'", a.replace('\'', r"'\''"))
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `espctl components [--why NAME]`.
pub async fn components(args: ComponentsArgs, socket: &Path, out: Output) -> Outcome {
    let plan = fetch_plan(&args.plan, socket).await?;
    if let Some(name) = &args.why {
        let Some(chain) = why_chain(&plan, name) else {
            let known = plan.components.iter().any(|c| &c.name == name);
            let message = if known {
                format!("{name} is known but not part of the build")
            } else {
                format!("{name} is not part of the build for {}", plan.target)
            };
            if out.json {
                output::json_line(
                    &serde_json::json!({"component": name, "in_build": false, "chain": []}),
                )?;
            } else {
                output::line(&message)?;
            }
            return Ok(1);
        };
        if out.json {
            output::json_line(
                &serde_json::json!({"component": name, "in_build": true, "chain": chain}),
            )?;
        } else {
            let mut text = String::new();
            for (i, (component, kind)) in chain.iter().enumerate() {
                if i == 0 {
                    text.push_str(component);
                } else {
                    text.push_str(&format!(
                        "\n{}└─ {} {component}",
                        "   ".repeat(i - 1),
                        out.paint(Color::Dim, kind.as_deref().unwrap_or("requires"))
                    ));
                }
            }
            output::line(&text)?;
        }
        return Ok(0);
    }
    if out.json {
        output::line(&serde_json::to_string_pretty(&serde_json::json!({
            "target": plan.target,
            "build_order": plan.build_order,
            "common_requirements": plan.common_requirements,
            "components": plan.components,
        }))?)?;
        return Ok(plan_exit_code(&plan));
    }
    let rows: Vec<Vec<String>> = plan
        .components
        .iter()
        .map(|c| {
            let mut reqs = c.reqs.clone();
            reqs.extend(c.priv_reqs.iter().map(|r| format!("({r})")));
            vec![
                c.name.clone(),
                serde_json::to_value(c.source)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                c.sources.len().to_string(),
                if c.shadowed.is_empty() {
                    String::new()
                } else {
                    format!("overrides {}", c.shadowed.len())
                },
                reqs.join(" "),
            ]
        })
        .collect();
    for line in output::table(
        &["NAME", "SOURCE", "FILES", "", "REQUIRES (private)"],
        &rows,
        |_, cell| cell.to_string(),
    ) {
        output::line(&line)?;
    }
    output::line(&format!(
        "{} components; every one also requires: {}",
        plan.components.len(),
        plan.common_requirements.join(" ")
    ))?;
    Ok(plan_exit_code(&plan))
}

/// The chain from a root to `name`, each step with the kind of requirement that led to it.
fn why_chain(plan: &BuildPlan, name: &str) -> Option<Vec<(String, Option<String>)>> {
    if !plan.build_order.iter().any(|n| n == name) {
        return None;
    }
    let by_name: BTreeMap<&str, &espctl_protocol::plan::PlanComponent> = plan
        .components
        .iter()
        .map(|c| (c.name.as_str(), &**c))
        .collect();
    // Walk up from `name`; each entry carries the kind of the edge into it (none for the root).
    let mut chain = Vec::new();
    let mut current = name.to_string();
    for _ in 0..=plan.components.len() {
        let c = by_name.get(current.as_str())?;
        match &c.required_by {
            Some(by) => {
                chain.push((current.clone(), Some(by.kind.clone())));
                current = by.component.clone();
            }
            None => {
                chain.push((current.clone(), None));
                break;
            }
        }
    }
    chain.reverse();
    Some(chain)
}

/// `espctl clean-plan [--full]`.
pub async fn clean_plan(args: CleanPlanArgs, socket: &Path, out: Output) -> Outcome {
    let params = CleanPlanParams {
        path: project_path(args.path.as_deref())?,
        scope: if args.full {
            CleanScope::Fullclean
        } else {
            CleanScope::Clean
        },
        profile: args.profile.map(Profile::from),
        params: BuildOverrides {
            build_dir: args.build_dir.clone(),
            ..Default::default()
        },
        env: caller_env(),
    };
    let client = super::connect(socket).await?;
    let plan = client.call::<GetCleanPlan>(&params).await?;
    if out.json {
        output::line(&serde_json::to_string_pretty(&plan)?)?;
        return Ok(0);
    }
    for line in render_clean(&plan, &out) {
        output::line(&line)?;
    }
    Ok(0)
}

/// The human view of a clean plan: every path when the list is short, else a summary by directory.
pub fn render_clean(plan: &CleanPlan, out: &Output) -> Vec<String> {
    let scope = match plan.scope {
        CleanScope::Clean => "clean",
        CleanScope::Fullclean => "fullclean",
    };
    let mut lines = Vec::new();
    if plan.would_delete.is_empty() {
        lines.push(format!("{scope}: nothing to delete"));
        return lines;
    }
    if plan.would_delete.len() <= CLEAN_LIST_LIMIT {
        lines.extend(plan.would_delete.iter().map(|p| format!("  {p}")));
    } else {
        let mut groups: BTreeMap<String, usize> = BTreeMap::new();
        for p in &plan.would_delete {
            let parts: Vec<&str> = p.trim_end_matches('/').split('/').collect();
            let key = if parts.len() > 3 {
                format!("{}/", parts[..3].join("/"))
            } else {
                p.clone()
            };
            *groups.entry(key).or_default() += 1;
        }
        for (dir, n) in &groups {
            if *n == 1 {
                lines.push(format!("  {dir}"));
            } else {
                lines.push(format!(
                    "  {dir} {}",
                    out.paint(Color::Dim, &format!("({n} entries)"))
                ));
            }
        }
        lines.push(out.paint(
            Color::Dim,
            &format!(
                "  ({} entries in all; --json lists every one)",
                plan.would_delete.len()
            ),
        ));
    }
    lines.push(format!(
        "{scope} would delete {} files, {}",
        plan.total_files,
        output::size(plan.total_bytes)
    ));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_parse_into_overrides() {
        let o = parse_params(&[
            "cmake.FOO=bar".into(),
            "sdkconfig.CONFIG_LOG_DEFAULT_LEVEL=3".into(),
            "build_dir=out".into(),
            "jobs=4".into(),
        ])
        .unwrap();
        assert_eq!(o.cmake_cache["FOO"], "bar");
        assert_eq!(o.sdkconfig["CONFIG_LOG_DEFAULT_LEVEL"], "3");
        assert_eq!(o.build_dir.as_deref(), Some("out"));
        assert_eq!(o.jobs, Some(4));
        assert_eq!(parse_params(&["nope".into()]).unwrap_err().exit_code, 2);
        assert_eq!(parse_params(&["x=1".into()]).unwrap_err().exit_code, 2);
        assert_eq!(
            parse_params(&["jobs=many".into()]).unwrap_err().exit_code,
            2
        );
    }

    #[test]
    fn shell_words_quote_what_a_shell_would_split() {
        assert_eq!(
            shell_words(&["cmake".into(), "-DX=a b".into(), "it's".into()]),
            r"cmake '-DX=a b' 'it'\''s'"
        );
    }

    #[test]
    fn large_clean_plans_are_grouped() {
        let plan = CleanPlan {
            scope: CleanScope::Clean,
            would_delete: (0..100)
                .map(|i| format!("build/esp-idf/c{}/CMakeFiles/x{i}.o", i % 2))
                .collect(),
            total_files: 100,
            total_bytes: 2048,
        };
        let lines = render_clean(&plan, &Output::plain(false));
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(lines[0].contains("build/esp-idf/c0/ (50 entries)"));
        assert!(lines.last().unwrap().contains("100 files"));
    }
}
