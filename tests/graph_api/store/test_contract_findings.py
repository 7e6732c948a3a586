"""Findings and dependency health: the same behaviour from every store, and the findings
lifecycle (``graph_api.findings``) on top of it."""

from __future__ import annotations

import pytest

from graph_api.findings import ObservedFinding, SourceReport, apply_report
from graph_api.model.contracts import graph_model
from graph_api.model.findings import finding_id
from graph_api.store import (
    ChangeSet,
    FindingChanges,
    FindingFilter,
    FindingRecord,
    GraphStore,
    LicenseStatement,
    PackageDeclaration,
    PackageDependency,
    SourceFacts,
    StoreError,
    VulnerabilityRecord,
)
from graph_api.store._findings import (
    COUNT_FIELDS,
    DECLARATION_FIELDS,
    DEPENDENCY_FIELDS,
    FINDING_ROW_FIELDS,
    VULNERABILITY_FIELDS,
)

A, B = "component:default/a", "component:default/b"
SOURCE = "sarif:component:default/a:bandit"


def finding(ident: str, entity: str = A, severity: str = "HIGH", **values: object) -> FindingRecord:
    fields: dict[str, object] = {
        "id": ident,
        "source": SOURCE,
        "entity": entity,
        "kind": "CODE",
        "tool": "bandit",
        "rule": f"R-{ident}",
        "fingerprint": f"fp-{ident}",
        "severity": severity,
        "status": "OPEN",
        "message": f"problem {ident}",
        "first_seen": "2024-01-01T00:00:00.000+00:00",
        "last_seen": "2024-01-01T00:00:00.000+00:00",
        "file": "app.py",
        "line": 3,
    }
    fields.update(values)
    return FindingRecord(**fields)  # type: ignore[arg-type]


def changes(created: list[FindingRecord], updated: list[FindingRecord] | None = None) -> ChangeSet:
    return ChangeSet(
        source=SOURCE,
        facts=SourceFacts(findings=FindingChanges(created=created, updated=updated or [])),
        state={"hash": "h1"},
    )


async def test_findings_are_stored_read_back_and_counted(store: GraphStore) -> None:
    stored = [
        finding("1", severity="LOW"),
        finding("2", severity="CRITICAL", line=None, file=None),
        finding("3", entity=B, severity="MEDIUM", status="SUPPRESSED"),
    ]
    await store.apply(changes(stored))
    assert sorted(await store.source_findings(SOURCE), key=lambda f: f.id) == stored
    of = await store.findings_of([A, B, "component:default/none"])
    assert [f.id for f in of[A]] == ["2", "1"]  # worst first
    assert [f.id for f in of[B]] == ["3"] and of["component:default/none"] == []
    counts = await store.open_finding_counts([A, B])
    # Suppressed findings are not open: B has no open finding and so no count row.
    assert counts == {A: {"CRITICAL": 1, "HIGH": 0, "MEDIUM": 0, "LOW": 1, "INFO": 0}}


async def test_updates_recount_and_a_failed_change_writes_nothing(store: GraphStore) -> None:
    await store.apply(changes([finding("1"), finding("2", severity="LOW")]))
    resolved = finding("1", status="RESOLVED", resolved_at="2024-02-01T00:00:00.000+00:00")
    await store.apply(changes([], [resolved]))
    assert (await store.open_finding_counts([A]))[A]["HIGH"] == 0
    assert (await store.findings_of([A]))[A][0] == resolved
    # The same id created twice fails the whole change: neither finding nor state is written.
    failing = changes([finding("9"), finding("9")])
    failing.state = {"hash": "h2"}
    with pytest.raises(StoreError):
        await store.apply(failing)
    assert {f.id for f in await store.source_findings(SOURCE)} == {"1", "2"}
    assert (await store.source_states([SOURCE]))[SOURCE] == {"hash": "h1"}


async def test_find_findings_filters_orders_and_pages(store: GraphStore) -> None:
    await store.apply(
        changes(
            [
                finding("1", severity="LOW"),
                finding("2", severity="CRITICAL"),
                finding("3", entity=B, severity="HIGH", kind="LICENSE", tool="license-policy"),
                finding("4", entity=B, severity="HIGH", status="RESOLVED"),
            ]
        )
    )
    page, total = await store.find_findings(FindingFilter(), 0, 2)
    assert total == 4 and [f.id for f in page] == ["2", "3"]
    page, total = await store.find_findings(FindingFilter(), 2, 10)
    assert [f.id for f in page] == ["4", "1"]
    scoped, total = await store.find_findings(FindingFilter(entities=[B], statuses=["OPEN"]), 0, 9)
    assert total == 1 and scoped[0].id == "3"
    kinds, _ = await store.find_findings(FindingFilter(kinds=["CODE"], tools=["bandit"]), 0, 9)
    assert {f.id for f in kinds} == {"1", "2", "4"}
    high, _ = await store.find_findings(FindingFilter(severities=["HIGH", "CRITICAL"]), 0, 9)
    assert [f.id for f in high] == ["2", "3", "4"]
    assert await store.find_findings(FindingFilter(entities=[]), 0, 9) == ([], 0)


async def test_package_facts_are_replaced_per_source(store: GraphStore) -> None:
    jinja, markup = "pkg:pypi/jinja2@2.10", "pkg:pypi/markupsafe@1.0"
    mit = LicenseStatement(raw="MIT License", expression="MIT")
    facts = SourceFacts(
        declarations=[PackageDeclaration(jinja, [mit], ["SHA-256:ab"])],
        vulnerabilities=[
            VulnerabilityRecord("GHSA-1", jinja, ["CVE-1"], "escape", "HIGH", 7.5, ["2.10.1"])
        ],
        package_dependencies=[PackageDependency(jinja, markup)],
    )
    await store.apply(ChangeSet(source="sbom:one", facts=facts))
    await store.apply(
        ChangeSet(
            source="osv:two",
            facts=SourceFacts(
                vulnerabilities=[VulnerabilityRecord("GHSA-1", jinja, severity="LOW")]
            ),
        )
    )
    (declared,) = (await store.package_declarations([jinja]))[jinja]
    assert declared == PackageDeclaration(jinja, [mit], ["SHA-256:ab"], "sbom:one")
    vulns = (await store.package_vulnerabilities([jinja]))[jinja]
    assert [(v.source, v.severity, v.score, v.fixed) for v in vulns] == [
        ("osv:two", "LOW", None, []),
        ("sbom:one", "HIGH", 7.5, ["2.10.1"]),
    ]
    assert (await store.package_dependencies([jinja]))[jinja] == [
        PackageDependency(jinja, markup, "sbom:one")
    ]
    # A new statement of one source replaces that source's facts only.
    await store.apply(ChangeSet(source="sbom:one", facts=SourceFacts(vulnerabilities=[])))
    assert [v.source for v in (await store.package_vulnerabilities([jinja]))[jinja]] == ["osv:two"]
    assert (await store.package_declarations([jinja]))[jinja] == [declared]


def observed(rule: str, fingerprint: str, **values: object) -> ObservedFinding:
    fields: dict[str, object] = {
        "entity": A,
        "kind": "CODE",
        "tool": "bandit",
        "rule": rule,
        "fingerprint": fingerprint,
        "severity": "HIGH",
        "message": f"{rule} here",
    }
    fields.update(values)
    return ObservedFinding(**fields)  # type: ignore[arg-type]


async def test_lifecycle_updates_resolves_reopens_and_skips_the_same_report(
    store: GraphStore,
) -> None:
    first = SourceReport(
        SOURCE,
        [observed("B1", "x"), observed("B2", "y"), observed("B3", "z", suppressed=True)],
        reported_at="2024-01-01T00:00:00.000+00:00",
    )
    report = await apply_report(store, first)
    assert (report.opened, report.open, report.suppressed) == (2, 2, 1)
    writes = store.writes  # type: ignore[attr-defined]
    again = await apply_report(store, first)
    assert again.unchanged and store.writes == writes  # type: ignore[attr-defined]

    # A newer scan: B1 still there (message changed), B2 fixed, B4 new.
    second = SourceReport(
        SOURCE,
        [
            observed("B1", "x", message="moved"),
            observed("B3", "z", suppressed=True),
            observed("B4", "w", severity="LOW"),
        ],
        reported_at="2024-02-01T00:00:00.000+00:00",
    )
    report = await apply_report(store, second)
    assert (report.opened, report.updated, report.resolved) == (1, 2, 1)
    stored = {f.rule: f for f in await store.source_findings(SOURCE)}
    assert stored["B1"].first_seen.startswith("2024-01-01")
    assert stored["B1"].last_seen.startswith("2024-02-01") and stored["B1"].message == "moved"
    assert stored["B2"].status == "RESOLVED" and stored["B2"].resolved_at.startswith("2024-02-01")
    assert stored["B2"].first_seen.startswith("2024-01-01")
    assert stored["B3"].status == "SUPPRESSED"
    assert (await store.open_finding_counts([A]))[A] == {
        "CRITICAL": 0,
        "HIGH": 1,
        "MEDIUM": 0,
        "LOW": 1,
        "INFO": 0,
    }
    # B2 comes back: the same finding reopens, first seen kept.
    third = SourceReport(
        SOURCE, [*second.findings, observed("B2", "y")], reported_at="2024-03-01T00:00:00.000+00:00"
    )
    report = await apply_report(store, third)
    assert report.reopened == 1
    back = {f.rule: f for f in await store.source_findings(SOURCE)}["B2"]
    assert back.status == "OPEN" and back.resolved_at is None
    assert back.first_seen.startswith("2024-01-01")
    assert back.id == finding_id(SOURCE, A, "y")
    audit, _ = await store.audit_events(actor=None, ref=A, offset=0, limit=10)
    assert [e.action for e in audit] == ["load", "load", "load"]


def test_graph_model_documents_every_findings_property() -> None:
    nodes = graph_model()["nodes"]
    for label, fields in {
        "Finding": FINDING_ROW_FIELDS,
        "FindingCount": COUNT_FIELDS,
        "PackageDeclaration": DECLARATION_FIELDS,
        "Vulnerability": VULNERABILITY_FIELDS,
        "PackageDependency": DEPENDENCY_FIELDS,
    }.items():
        assert set(nodes[label]["properties"]) == set(fields), label
