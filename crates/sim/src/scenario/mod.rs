//! Scenario files: a YAML description of a whole simulated cluster, good or broken, turned into
//! the [`SimConfig`](crate::world::SimConfig) the server starts from. The format is documented
//! in `docs/scenario-format.md`.
//!
//! Bad input is rejected with the file, line and column and what to fix: unknown keys and wrong
//! types come from the strict serde model, inconsistent content (a pod on a node that does not
//! exist, two storage classes with one name, ...) from [`validate`], located in the text by
//! [`locate`].

mod build;
pub mod generate;
pub mod limits;
mod locate;
mod model;
mod validate;
mod workloads;

use std::path::Path;

pub use model::*;

use crate::world::SimConfig;

/// Why a scenario cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read (missing, unreadable, larger than the scenario limit).
    #[error(transparent)]
    Read(#[from] scs_kaas_core::input::InputError),
    /// The content is malformed or inconsistent.
    #[error("{origin}:{line}:{column}: {message}")]
    Invalid {
        /// File name (or other origin) of the text.
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl ScenarioError {
    /// Line and column of an `Invalid` error.
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            ScenarioError::Invalid { line, column, .. } => Some((*line, *column)),
            ScenarioError::Read(_) => None,
        }
    }
}

/// Reads and checks a scenario file and builds what the server starts from.
pub fn load(path: &Path) -> Result<SimConfig, ScenarioError> {
    let text =
        scs_kaas_core::input::read_bounded_text(path, scs_kaas_core::input::InputKind::Scenario)?;
    parse(&text, &path.display().to_string())
}

/// Checks scenario text (`origin` names it in errors) and builds what the server starts from.
pub fn parse(text: &str, origin: &str) -> Result<SimConfig, ScenarioError> {
    let scenario = parse_model(text, origin)?;
    Ok(build::config(&scenario))
}

/// Parses and validates scenario text into the model without building objects.
pub fn parse_model(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
    if let Err(deep) = scs_kaas_core::yaml_depth::check(text, origin) {
        return Err(ScenarioError::Invalid {
            origin: origin.to_owned(),
            line: deep.line,
            column: 1,
            message: format!(
                "YAML nested deeper than {} levels; a scenario nests a few dozen at most",
                scs_kaas_core::yaml_depth::MAX_DEPTH
            ),
        });
    }
    let scenario: Scenario =
        serde_yaml_ng::from_str(text).map_err(|err| syntax_error(&err, origin))?;
    validate::check(&scenario).map_err(|problem| {
        let (line, column) = locate::locate(text, &problem.path).unwrap_or((1, 1));
        ScenarioError::Invalid {
            origin: origin.to_string(),
            line,
            column,
            message: problem.message,
        }
    })?;
    Ok(scenario)
}

fn syntax_error(err: &serde_yaml_ng::Error, origin: &str) -> ScenarioError {
    let (line, column) = err.location().map_or((1, 1), |l| (l.line(), l.column()));
    let mut message = err.to_string();
    if let Some(at) = message.find(&format!(" at line {line} column {column}")) {
        message.truncate(at);
    }
    if message.contains("unknown field") {
        message.push_str("; remove the key or fix its spelling");
    } else if message.contains("missing field") {
        message.push_str("; add it");
    } else if message.contains("unknown variant") {
        message.push_str("; use one of the listed values");
    }
    ScenarioError::Invalid {
        origin: origin.to_string(),
        line,
        column,
        message,
    }
}

#[cfg(test)]
mod tests;
