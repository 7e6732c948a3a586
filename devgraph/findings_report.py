"""How ``devgraph load sarif|cyclonedx|spdx|osv`` and ``devgraph findings`` print."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from graph_api.findings import TeamFindings
from graph_api.model.findings import SEVERITIES
from loaders.findings.load import FileOutcome

_STYLE = {"CRITICAL": "bold red", "HIGH": "red", "MEDIUM": "yellow", "LOW": "cyan", "INFO": "dim"}


def print_loads(outcomes: list[FileOutcome], console: Console) -> None:
    """One row per source each file fed; errors and warnings below the table."""
    table = Table(title="findings load summary")
    for column in ("file", "source", "opened", "reopened", "updated", "resolved", "open", "status"):
        table.add_column(
            column,
            justify="left" if column in ("file", "source", "status") else "right",
            overflow="fold",
        )
    for outcome in outcomes:
        if not outcome.ok:
            table.add_row(outcome.file, "", "", "", "", "", "", Text("failed", "red"))
        for report in outcome.reports:
            table.add_row(
                outcome.file,
                report.source,
                str(report.opened),
                str(report.reopened),
                str(report.updated),
                str(report.resolved),
                "" if report.unchanged else str(report.open),
                "unchanged" if report.unchanged else "ok",
            )
    console.print(table)
    for outcome in outcomes:
        if outcome.error:
            console.print(Text.assemble(("error ", "red"), outcome.error), soft_wrap=True)
        for warning in outcome.warnings:
            console.print(Text.assemble(("warning ", "yellow"), warning), soft_wrap=True)


def findings_json(teams: list[TeamFindings]) -> list[dict[str, Any]]:
    """``devgraph findings --json``: teams, their open counts, components and findings."""
    return [
        {
            "team": group.team,
            "open": group.counts,
            "components": [
                {
                    "ref": ref,
                    "findings": [
                        {
                            "severity": f.severity,
                            "kind": f.kind,
                            "tool": f.tool,
                            "rule": f.rule,
                            "message": f.message,
                            "file": f.file,
                            "line": f.line,
                            "package": f.package,
                            "first_seen": f.first_seen,
                            "last_seen": f.last_seen,
                        }
                        for f in findings
                    ],
                }
                for ref, findings in group.by_entity.items()
            ],
        }
        for group in teams
    ]


def findings_table(teams: list[TeamFindings]) -> Table:
    """Teams worst first; in each, components worst first; in each, findings worst first."""
    table = Table(title="open findings", show_lines=False)
    for column in ("team", "component", "severity", "kind", "tool", "rule", "where", "message"):
        table.add_column(column, overflow="fold")
    for group in teams:
        counts = group.counts
        summary = " ".join(f"{s.value[0]}{counts[s.value]}" for s in SEVERITIES if counts[s.value])
        team = f"{group.team or '(no owner)'}\n{summary}"
        for ref, findings in group.by_entity.items():
            for f in findings:
                where = f.package or (f"{f.file}:{f.line}" if f.line else f.file or "")
                table.add_row(
                    team,
                    ref,
                    Text(f.severity, _STYLE.get(f.severity, "")),
                    f.kind,
                    f.tool,
                    f.rule,
                    where,
                    f.message,
                )
                team = ref = ""
    return table
