//! Findings as SARIF 2.1.0 (`--sarif FILE`), the format code-scanning dashboards (GitHub's among them) read: one
//! result per finding signature, its rule the finding kind, its location the scenario file that reproduces it
//! and, logically, the canister method it names.

use std::path::Path;

use anyhow::{Context, Result};
use icfuzz::{Finding, Severity};
use serde_sarif::sarif;

/// A finding to report.
pub struct Reported<'a> {
    /// The finding.
    pub finding: &'a Finding,
    /// The scenario file that reproduces it, if it was saved.
    pub scenario_path: Option<&'a Path>,
    /// How often the campaign hit it.
    pub count: u64,
}

/// Writes `findings` as a SARIF log to `path` (replacing an earlier one: it is a report, not a finding).
pub fn write(path: &Path, findings: &[Reported<'_>]) -> Result<()> {
    let log = log(findings);
    let json = serde_json::to_string_pretty(&log).context("serialising the SARIF log")?;
    icfuzz::save::replace(path, json.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn log(findings: &[Reported<'_>]) -> sarif::Sarif {
    let mut kinds: Vec<icfuzz::FindingKind> = findings.iter().map(|r| r.finding.kind).collect();
    kinds.sort_by_key(|k| k.id());
    kinds.dedup();
    let rules: Vec<sarif::ReportingDescriptor> = kinds.iter().map(|k| rule(*k)).collect();
    let results: Vec<sarif::Result> = findings.iter().map(result).collect();
    let driver = sarif::ToolComponent::builder().name("icfuzz").version(env!("CARGO_PKG_VERSION")).rules(rules).build();
    let run = sarif::Run::builder().tool(sarif::Tool::builder().driver(driver).build()).results(results).build();
    sarif::Sarif::builder()
        .version(sarif::Version::V2_1_0.to_string())
        .schema(sarif::SCHEMA_URL)
        .runs(vec![run])
        .build()
}

/// `ICF-001 trap in callback` → rule `ICF-001`, named `trap in callback`.
fn rule(kind: icfuzz::FindingKind) -> sarif::ReportingDescriptor {
    let (id, name) = kind.id().split_once(' ').unwrap_or((kind.id(), kind.id()));
    sarif::ReportingDescriptor::builder()
        .id(id)
        .name(name.replace(' ', "-"))
        .short_description(sarif::MultiformatMessageString::builder().text(name).build())
        .build()
}

fn result(r: &Reported<'_>) -> sarif::Result {
    let f = r.finding;
    let rule_id = f.kind.id().split_once(' ').map_or(f.kind.id(), |(id, _)| id);
    let level = match f.kind.severity() {
        Severity::High => sarif::ResultLevel::Error,
        Severity::Low => sarif::ResultLevel::Warning,
    };
    let mut location = sarif::Location::builder().build();
    if let Some(path) = r.scenario_path {
        let artifact = sarif::ArtifactLocation::builder().uri(uri(path)).build();
        location.physical_location = Some(sarif::PhysicalLocation::builder().artifact_location(artifact).build());
    }
    if let Some(canister) = &f.canister {
        let name = match &f.method {
            Some(method) => format!("{canister}.{method}"),
            None => canister.clone(),
        };
        location.logical_locations =
            Some(vec![sarif::LogicalLocation::builder().fully_qualified_name(name).kind("function").build()]);
    }
    let mut fingerprints = std::collections::BTreeMap::new();
    // The signature is what icfuzz buckets by: dashboards then merge the same bug across runs.
    fingerprints.insert("icfuzzSignature/v1".to_owned(), f.signature());
    sarif::Result::builder()
        .rule_id(rule_id)
        .level(level)
        .message(sarif::Message::builder().text(format!("{f} ({}×)", r.count)).build())
        .locations(vec![location])
        .partial_fingerprints(fingerprints)
        .build()
}

/// A relative path as a URI reference (forward slashes), which a dashboard resolves against the checkout; an
/// absolute one as a `file://` URI.
fn uri(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    if path.is_absolute() {
        format!("file://{}", if text.starts_with('/') { text } else { format!("/{text}") })
    } else {
        text
    }
}
