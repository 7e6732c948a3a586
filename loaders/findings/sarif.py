"""SARIF 2.1.0 reports from any tool (CodeQL, Semgrep, Bandit, Trivy, ...) as findings:
``devgraph load sarif FILE... [--entity REF]``.

Every run counts. Runs of one tool (and one ``automationDetails`` category, as GitHub code
scanning groups them) for one entity form one source, ``sarif:<entity>:<tool>[:<category>]``,
so a newer report of that tool updates and resolves exactly what the previous one said.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from graph_api.findings import ObservedFinding, SourceReport
from graph_api.model.findings import (
    FindingKind,
    digest,
    normalise_message,
    normalise_snippet,
    severity_from_level,
    severity_from_score,
)
from loaders.findings._report import Doc, EntityHints, root

SARIF_VERSION = "2.1.0"
CODE = FindingKind.CODE.value
LEVELS = frozenset({"none", "note", "warning", "error"})
# Result kinds that state no problem: nothing to track.
_NOT_PROBLEMS = frozenset({"pass", "notApplicable"})


@dataclass(slots=True)
class _Rule:
    id: str
    name: str | None = None
    level: str | None = None
    score: float | None = None
    help_uri: str | None = None
    description: str | None = None
    messages: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Result:
    rule: str
    rule_name: str | None
    severity: str
    message: str
    file: str | None
    line: int | None
    snippet: str | None
    suppressed: bool
    help_uri: str | None
    fingerprints: dict[str, str]
    partial: dict[str, str]


@dataclass(slots=True)
class SarifRun:
    """The runs of one tool and category in a file, read and ready to become a source."""

    tool: str
    category: str | None
    reported_at: str | None
    results: list[_Result] = field(default_factory=list)

    def source(self, entity: str) -> str:
        key = f"sarif:{entity}:{self.tool.lower()}"
        return f"{key}:{self.category}" if self.category else key


@dataclass(slots=True)
class SarifReport:
    file: str
    runs: list[SarifRun]
    hints: EntityHints

    def reports(self, entity: str) -> list[SourceReport]:
        """One source report per tool and category, every finding attached to ``entity``."""
        return [
            SourceReport(
                source=run.source(entity),
                findings=_observed(run, entity),
                reported_at=run.reported_at,
            )
            for run in self.runs
        ]


def parse_sarif(file: Path, data: Any) -> SarifReport:
    """Read a parsed SARIF log.

    Raises:
        ReportError: not SARIF 2.1.0, or a value of the wrong type, with its JSON path.
    """
    log = root(file, data)
    try:
        return _parse(file, log)
    except (AttributeError, TypeError, KeyError) as exc:
        # Typed reads name the path of almost every wrong value; this is the rest.
        raise log.fail(f"has a value of the wrong type somewhere ({exc})") from exc


def _parse(file: Path, log: Doc) -> SarifReport:
    data = log.value
    version = data.get("version")
    if version != SARIF_VERSION:
        raise log.at("version").fail(
            f"SARIF {SARIF_VERSION} is supported; this file says {version!r}"
        )
    grouped: dict[tuple[str, str | None], SarifRun] = {}
    hints = EntityHints()
    for run in log.items("runs", required=True):
        if not isinstance(run.value, dict):
            raise run.fail("must be an object")
        tool = run.obj("tool", required=True).obj("driver", required=True)
        name = tool.text("name", required=True) or ""
        category = _category(run)
        current = grouped.setdefault(
            (name.lower(), category), SarifRun(tool=name, category=category, reported_at=None)
        )
        current.reported_at = _latest(current.reported_at, _run_time(run))
        for provenance in run.items("versionControlProvenance"):
            uri = provenance.text("repositoryUri")
            if uri:
                hints.repositories.append(uri)
        current.results.extend(_results(run))
    return SarifReport(file=str(file), runs=list(grouped.values()), hints=hints)


def _category(run: Doc) -> str | None:
    # GitHub: the category is the id up to its last "/"; what follows names one analysis.
    details = run.obj("automationDetails")
    run_id = details.text("id")
    if not run_id:
        return None
    category = run_id.rsplit("/", 1)[0] if "/" in run_id else run_id
    return category.strip("/").lower() or None


def _run_time(run: Doc) -> str | None:
    found: str | None = None
    for invocation in run.items("invocations"):
        for key in ("endTimeUtc", "startTimeUtc"):
            text = invocation.text(key)
            if text:
                found = _latest(found, _utc(invocation.at(key), text))
                break
    return found


def _utc(where: Doc, text: str) -> str:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise where.fail(f"{text!r} is not an ISO 8601 time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _latest(a: str | None, b: str | None) -> str | None:
    return max((t for t in (a, b) if t), default=None)


def _rules(run: Doc) -> tuple[list[dict[int, _Rule]], dict[str, _Rule]]:
    """Rules per tool component (0 is the driver, then each extension) and by id."""
    tool = run.obj("tool")
    components = [tool.obj("driver"), *tool.items("extensions")]
    by_index: list[dict[int, _Rule]] = []
    by_id: dict[str, _Rule] = {}
    for component in components:
        indexed: dict[int, _Rule] = {}
        for position, rule in enumerate(component.items("rules")):
            if not isinstance(rule.value, dict):
                raise rule.fail("must be an object")
            parsed = _rule(rule)
            indexed[position] = parsed
            by_id.setdefault(parsed.id, parsed)
        by_index.append(indexed)
    return by_index, by_id


def _rule(rule: Doc) -> _Rule:
    config = rule.obj("defaultConfiguration")
    level = config.text("level")
    if level is not None and level not in LEVELS:
        raise config.at("level").fail(
            f"{level!r} is not a SARIF level ({', '.join(sorted(LEVELS))})"
        )
    messages = {
        key: value.get("text", "")
        for key, value in rule.obj("messageStrings").value.items()
        if isinstance(value, dict)
    }
    short = rule.obj("shortDescription").text("text")
    return _Rule(
        id=rule.text("id", required=True) or "",
        name=rule.text("name"),
        level=level,
        score=_score(rule.obj("properties")),
        help_uri=rule.text("helpUri"),
        description=short,
        messages=messages,
    )


def _score(properties: Doc) -> float | None:
    value = properties.value.get("security-severity")
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise properties.at("security-severity").fail(
            f"{value!r} is not a number from 0 to 10"
        ) from exc


def _results(run: Doc) -> list[_Result]:
    rules_by_index, rules_by_id = _rules(run)
    artifacts = [
        a.value.get("location", {}).get("uri") if isinstance(a.value, dict) else None
        for a in run.items("artifacts")
    ]
    found: list[_Result] = []
    results = run.at("results")
    if results.value is None:
        return found
    if not isinstance(results.value, list):
        raise results.fail("must be an array")
    for index, value in enumerate(results.value):
        if not isinstance(value, dict):
            raise results.at(index).fail("must be an object")
        try:
            result = _result(value, rules_by_index, rules_by_id, artifacts)
        except _Bad as bad:
            raise results.at(index).fail(str(bad)) from None
        except (AttributeError, TypeError) as exc:
            raise results.at(index).fail(f"has a value of the wrong type ({exc})") from exc
        if result is not None:
            found.append(result)
    return found


class _Bad(ValueError):
    """A wrong value inside one result; its message starts with the path below the result."""


_KINDS = {dict: "an object", list: "an array"}


def _member(value: dict[str, Any], key: str, kind: type) -> Any:
    item = value.get(key)
    if item is not None and not isinstance(item, kind):
        raise _Bad(f"{key} must be {_KINDS[kind]}")
    return item


def _result(
    value: dict[str, Any],
    rules_by_index: list[dict[int, _Rule]],
    rules_by_id: dict[str, _Rule],
    artifacts: list[str | None],
) -> _Result | None:
    kind = value.get("kind")
    if kind in _NOT_PROBLEMS or value.get("baselineState") == "absent":
        return None
    rule = _rule_of(value, rules_by_index, rules_by_id)
    rule_id = value.get("ruleId") or (rule.id if rule else None) or "-"
    if not isinstance(rule_id, str):
        raise _Bad("ruleId must be a string")
    level = value.get("level")
    if level is None:
        level = (
            rule.level
            if rule and rule.level
            else ("none" if kind not in (None, "fail") else "warning")
        )
    if level not in LEVELS:
        raise _Bad(f"level {level!r} is not a SARIF level ({', '.join(sorted(LEVELS))})")
    properties = _member(value, "properties", dict) or {}
    score = properties.get("security-severity")
    if score is not None:
        try:
            score = float(score)
        except (TypeError, ValueError):
            raise _Bad(
                f"properties.security-severity {score!r} is not a number from 0 to 10"
            ) from None
    elif rule is not None:
        score = rule.score
    severity = severity_from_score(score) if score is not None else severity_from_level(level)
    file, line, snippet = _location(value, artifacts)
    suppressions = _member(value, "suppressions", list) or []
    return _Result(
        rule=rule_id,
        rule_name=rule.name if rule else None,
        severity=severity.value,
        message=_message(value, rule),
        file=file,
        line=line,
        snippet=snippet,
        # A suppression under review, or one rejected, does not suppress yet.
        suppressed=any(
            isinstance(s, dict) and s.get("status", "accepted") == "accepted" for s in suppressions
        ),
        help_uri=rule.help_uri if rule else None,
        fingerprints=_strings(_member(value, "fingerprints", dict)),
        partial=_strings(_member(value, "partialFingerprints", dict)),
    )


def _rule_of(
    value: dict[str, Any], rules_by_index: list[dict[int, _Rule]], rules_by_id: dict[str, _Rule]
) -> _Rule | None:
    reference = _member(value, "rule", dict) or {}
    component = 0
    tool_component = reference.get("toolComponent")
    if isinstance(tool_component, dict) and isinstance(tool_component.get("index"), int):
        component = tool_component["index"] + 1
    index = reference.get("index", value.get("ruleIndex"))
    if isinstance(index, int) and 0 <= component < len(rules_by_index):
        found = rules_by_index[component].get(index)
        if found is not None:
            return found
    rule_id = value.get("ruleId") or reference.get("id")
    return rules_by_id.get(rule_id) if isinstance(rule_id, str) else None


def _message(value: dict[str, Any], rule: _Rule | None) -> str:
    message = _member(value, "message", dict) or {}
    text = message.get("text")
    if not text and rule is not None:
        text = rule.messages.get(message.get("id", ""), "") or rule.description or ""
    for number, argument in enumerate(message.get("arguments") or []):
        text = text.replace(f"{{{number}}}", str(argument))
    return str(text or "")


def _location(
    value: dict[str, Any], artifacts: list[str | None]
) -> tuple[str | None, int | None, str | None]:
    locations = _member(value, "locations", list) or []
    if not locations or not isinstance(locations[0], dict):
        return None, None, None
    physical = locations[0].get("physicalLocation")
    if not isinstance(physical, dict):
        return None, None, None
    artifact = physical.get("artifactLocation") or {}
    uri = artifact.get("uri")
    index = artifact.get("index")
    if not uri and isinstance(index, int) and 0 <= index < len(artifacts):
        uri = artifacts[index]
    region = physical.get("region") or {}
    line = region.get("startLine")
    if line is not None and (isinstance(line, bool) or not isinstance(line, int)):
        raise _Bad("locations[0].physicalLocation.region.startLine must be an integer")
    snippet = (region.get("snippet") or {}).get("text")
    return (
        _path(uri) if isinstance(uri, str) else None,
        line,
        snippet if isinstance(snippet, str) else None,
    )


def _path(uri: str) -> str:
    return uri.removeprefix("file://").removeprefix("./")


def _strings(mapping: dict[str, Any] | None) -> dict[str, str]:
    return {k: v for k, v in (mapping or {}).items() if isinstance(v, str) and v}


def _unique_keys(results: list[_Result], attribute: str) -> set[str]:
    """Fingerprint keys whose values tell every result apart: a tool that writes one
    placeholder for all (Semgrep's ``requires login``) gives no fingerprint."""
    values: dict[str, list[str]] = defaultdict(list)
    for result in results:
        for key, value in getattr(result, attribute).items():
            values[key].append(value)
    return {key for key, found in values.items() if len(set(found)) == len(found)}


def _observed(run: SarifRun, entity: str) -> list[ObservedFinding]:
    full = _unique_keys(run.results, "fingerprints")
    partial = _unique_keys(run.results, "partial")
    occurrences: dict[str, int] = defaultdict(int)
    found: list[ObservedFinding] = []
    ordered = sorted(run.results, key=lambda r: (r.file or "", r.line or 0))
    for result in ordered:
        fingerprint = _fingerprint(result, full, partial)
        if fingerprint.startswith("computed:"):
            # Identical code flagged twice in one file: tell them apart by order, as GitHub does.
            occurrences[fingerprint] += 1
            fingerprint = f"{fingerprint}:{occurrences[fingerprint]}"
        found.append(
            ObservedFinding(
                entity=entity,
                kind=CODE,
                tool=run.tool,
                rule=result.rule,
                fingerprint=fingerprint,
                severity=result.severity,
                message=result.message,
                suppressed=result.suppressed,
                rule_name=result.rule_name,
                file=result.file,
                line=result.line,
                help_uri=result.help_uri,
            )
        )
    return found


def _fingerprint(result: _Result, full: set[str], partial: set[str]) -> str:
    """The report's own fingerprints when they tell results apart; else rule, file and the
    flagged code (or message), which moving the code keeps."""
    own = sorted((k, v) for k, v in result.fingerprints.items() if k in full)
    if own:
        return "sarif:" + digest(result.rule, *(f"{k}={v}" for k, v in own))
    parts = sorted((k, v) for k, v in result.partial.items() if k in partial)
    if parts:
        return "partial:" + digest(result.rule, result.file or "", *(f"{k}={v}" for k, v in parts))
    text = (
        normalise_snippet(result.snippet) if result.snippet else normalise_message(result.message)
    )
    return "computed:" + digest(result.rule, result.file or "", text)
