"""The demo estate generator: real files on disk, read back the way the loader reads them."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
import yaml

from devgraph import demo
from devgraph.demo import EstateSummary, dump_documents, generate_estate, main
from graph_api.model import parse_entity
from graph_api.model.entity import Entity, RelationType
from loaders.yaml12 import Yaml12Loader, iter_documents

NAME_RE = re.compile(r"^[a-z0-9A-Z]+([-_.][a-z0-9A-Z]+)*$")
TAG_RE = re.compile(r"^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$")
REF_RE = re.compile(r"^(?:(?P<kind>[A-Za-z]+):)?(?:(?P<namespace>[a-z0-9-]+)/)?(?P<name>[^:/]+)$")
REF_FIELDS = (
    "owner", "system", "domain", "parent", "children", "memberOf", "providesApis",
    "consumesApis", "dependsOn", "dependencyOf",
)


def read_estate(out_dir: Path) -> dict[Path, list[dict[str, Any]]]:
    """Every YAML file under ``out_dir`` and its documents, read as Backstage reads them."""
    return {
        path: [doc.data for doc in iter_documents(path.read_text(encoding="utf-8"))]
        for path in sorted(out_dir.rglob("*.yaml"))
    }


def documents(files: dict[Path, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [doc for docs in files.values() for doc in docs]


def dependency_graph(entities: list[Entity]) -> nx.DiGraph:
    graph = nx.DiGraph()
    for entity in entities:
        for relation in entity.relations:
            if relation.type is RelationType.DEPENDS_ON:
                graph.add_edge(relation.source, relation.target)
    return graph


def assert_names_and_refs_valid(docs: list[dict[str, Any]]) -> None:
    """Backstage's rules for names, tags and refs; dependsOn/dependencyOf always name a kind."""
    for doc in docs:
        metadata, spec = doc["metadata"], doc.get("spec") or {}
        assert doc["apiVersion"] == "backstage.io/v1alpha1"
        assert len(metadata["name"]) <= 63 and NAME_RE.match(metadata["name"]), metadata["name"]
        assert all(TAG_RE.match(tag) and len(tag) <= 63 for tag in metadata.get("tags", []))
        for key in REF_FIELDS:
            value = spec.get(key)
            for ref in [] if value is None else value if isinstance(value, list) else [value]:
                match = REF_RE.match(ref)
                assert match and NAME_RE.match(match["name"]), (metadata["name"], key, ref)
                if key in ("dependsOn", "dependencyOf"):
                    assert match["kind"] in ("component", "resource"), ref


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> tuple[EstateSummary, Path]:
    out_dir = tmp_path_factory.mktemp("estate")
    return generate_estate(out_dir), out_dir


@pytest.fixture(scope="module")
def files(estate: tuple[EstateSummary, Path]) -> dict[Path, list[dict[str, Any]]]:
    return read_estate(estate[1])


@pytest.fixture(scope="module")
def entities(files: dict[Path, list[dict[str, Any]]]) -> list[Entity]:
    return [parse_entity(doc) for doc in documents(files)]


def test_same_arguments_write_identical_bytes(
    estate: tuple[EstateSummary, Path], tmp_path: Path
) -> None:
    summary, first = estate
    again = generate_estate(tmp_path / "again")
    assert [p.relative_to(tmp_path / "again") for p in again.files] == [
        p.relative_to(first) for p in summary.files
    ]
    for path in summary.files:
        assert (tmp_path / "again" / path.relative_to(first)).read_bytes() == path.read_bytes()
    other_seed = generate_estate(tmp_path / "seed-8", seed=8)
    assert (tmp_path / "seed-8" / "payments" / "components.yaml").read_bytes() != (
        first / "payments" / "components.yaml"
    ).read_bytes()
    assert other_seed.counts["Component"] == summary.counts["Component"]


def test_default_demo_is_a_company_of_five_units_and_thirty_teams(
    estate: tuple[EstateSummary, Path], files: dict[Path, list[dict[str, Any]]]
) -> None:
    summary, _ = estate
    docs = documents(files)
    counts = Counter(doc["kind"] for doc in docs)
    assert summary.counts == dict(counts)
    assert counts["Component"] == 300
    assert counts["Domain"] == 5
    assert 80 <= counts["API"] <= 120 and 80 <= counts["Resource"] <= 120
    assert 50 <= counts["System"] <= 90
    groups = Counter(doc["spec"]["type"] for doc in docs if doc["kind"] == "Group")
    assert groups == {"organization": 1, "business-unit": 5, "team": 30}
    users = [doc for doc in docs if doc["kind"] == "User"]
    members = Counter(team for user in users for team in user["spec"]["memberOf"])
    assert len(members) == 30 and all(2 <= n <= 6 for n in members.values())
    units = {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == "Group"}
    for unit in (d for d in units.values() if d["spec"]["type"] == "business-unit"):
        children = unit["spec"]["children"]
        assert len(children) == 6
        assert all(units[team]["spec"]["parent"] == unit["metadata"]["name"] for team in children)
    components = [doc for doc in docs if doc["kind"] == "Component"]
    assert {c["spec"]["type"] for c in components} == {"service", "website", "library"}
    assert {c["spec"]["lifecycle"] for c in components} == {
        "production", "experimental", "deprecated"
    }
    # The names the README's example queries use.
    refs = {e.ref for e in (parse_entity(doc) for doc in docs)}
    assert {
        "component:default/auth-service", "component:default/checkout-api",
        "component:default/storefront-web", "resource:default/orders-db",
        "api:default/payments-api", "system:default/payments-core", "group:default/team-checkout",
    } <= refs


def test_every_document_is_valid_and_every_relation_resolves(
    files: dict[Path, list[dict[str, Any]]], entities: list[Entity]
) -> None:
    refs = [entity.ref for entity in entities]
    assert len(refs) == len(set(refs))
    defined = set(refs)
    dangling = [
        (r.source, r.type.value, r.target)
        for entity in entities
        for r in entity.relations
        if r.source not in defined or r.target not in defined
    ]
    assert dangling == []
    assert_names_and_refs_valid(documents(files))


def test_refs_mix_forms_namespaces_and_domains(
    files: dict[Path, list[dict[str, Any]]], entities: list[Entity]
) -> None:
    docs = documents(files)
    owners = [doc["spec"]["owner"] for doc in docs if "owner" in doc.get("spec", {})]
    assert any(o.startswith("group:default/") for o in owners)
    assert any(":" not in o and "/" not in o for o in owners)
    labs = [e for e in entities if e.namespace != "default"]
    assert len(labs) >= 2 and all(e.kind == "Component" for e in labs)
    by_ref = {e.ref: e for e in entities}
    assert any(
        r.type is RelationType.DEPENDS_ON and r.target in {e.ref for e in labs}
        for e in entities
        for r in e.relations
    )

    def domain(entity: Entity) -> str | None:
        system = entity.target(RelationType.PART_OF, "system:")
        return by_ref[system].target(RelationType.PART_OF, "domain:") if system else None

    cross = [
        r
        for e in entities
        for r in e.relations
        if r.type is RelationType.DEPENDS_ON
        and domain(by_ref[r.source]) != domain(by_ref[r.target])
    ]
    assert len(cross) > 50
    assert {e.descriptor["spec"]["type"] for e in entities if e.kind == "API"} == {
        "openapi", "grpc", "graphql", "asyncapi"
    }
    assert {e.descriptor["spec"]["type"] for e in entities if e.kind == "Resource"} >= {
        "database", "queue", "bucket"
    }


def test_the_cycle_is_real_and_the_only_one(
    estate: tuple[EstateSummary, Path], entities: list[Entity]
) -> None:
    summary, _ = estate
    graph = dependency_graph(entities)
    cycle = list(summary.cycle)
    assert len(cycle) >= 3
    for here, there in zip(cycle, cycle[1:] + cycle[:1]):
        assert graph.has_edge(here, there), (here, there)
    loops = [scc for scc in nx.strongly_connected_components(graph) if len(scc) > 1]
    assert loops == [set(cycle)]
    # and the cycle stays inside one system
    systems = {e.target(RelationType.PART_OF, "system:") for e in entities if e.ref in cycle}
    assert len(systems) == 1


def test_hubs_have_the_most_dependents(
    estate: tuple[EstateSummary, Path], entities: list[Entity]
) -> None:
    summary, _ = estate
    dependents = Counter(target for _, target in dependency_graph(entities).edges)
    hubs = {f"component:default/{name}" for name in summary.hubs}
    assert {ref for ref, _ in dependents.most_common(len(hubs))} == hubs
    others = max(n for ref, n in dependents.items() if ref not in hubs)
    assert min(dependents[h] for h in hubs) > 1.5 * others
    assert dependents[f"component:default/{summary.hubs[0]}"] > 100
    assert summary.depends_on == dependency_graph(entities).number_of_edges()


def test_all_yaml_is_a_location_of_every_other_file(
    estate: tuple[EstateSummary, Path], files: dict[Path, list[dict[str, Any]]]
) -> None:
    summary, out_dir = estate
    assert summary.location == out_dir / "all.yaml"
    (location,) = files[summary.location]
    assert location["kind"] == "Location"
    targets = location["spec"]["targets"]
    assert targets == sorted(targets) and all(t.startswith("./") for t in targets)
    resolved = [(out_dir / t).resolve() for t in targets]
    assert all(path.is_file() for path in resolved)
    assert set(resolved) == {p.resolve() for p in files} - {summary.location.resolve()}
    assert set(summary.files) == set(files)
    assert all(len(docs) <= demo.DOCS_PER_FILE for docs in files.values())


def test_written_yaml_reads_the_same_in_yaml_1_1_and_1_2(
    files: dict[Path, list[dict[str, Any]]],
) -> None:
    for path, docs in files.items():
        text = path.read_text(encoding="utf-8")
        assert list(yaml.load_all(text, Loader=yaml.CSafeLoader)) == docs, path
        assert dump_documents(docs) == text, path


def test_dump_documents_quotes_what_yaml_would_retype() -> None:
    tricky = {
        "plain": "component:default/auth-service",
        "words": ["no", "yes", "on", "Off", "null", "~", "true", "1.0", "0o17", "1e3", "0x1F"],
        "indicators": ["- a", "#tag", "a: b", "a #b", "trailing:", " lead", "@x", "*x", "&x", ""],
        "unicode": "Zoë Müller",
        "literal": "line one\n  indented\n\nlast\n",
        "not literal": "no trailing newline\nhere",
        "scalars": [True, False, 3, None],
        "empty": {"list": [], "map": {}},
        "items": [{"url": "https://x.example", "title": "X"}],
    }
    text = dump_documents([tricky, {"second": "doc"}])
    assert list(yaml.load_all(text, Loader=yaml.CSafeLoader)) == [tricky, {"second": "doc"}]
    assert list(yaml.load_all(text, Loader=Yaml12Loader)) == [tricky, {"second": "doc"}]
    assert "  plain: component:default/auth-service\n" not in text  # top level is unindented
    assert "plain: component:default/auth-service\n" in text
    assert "literal: |\n" in text


def test_scale_shape_at_5000_components(tmp_path: Path) -> None:
    n = 5000
    summary = generate_estate(tmp_path, components=n)
    counts = summary.counts
    assert counts["Component"] == n
    assert counts["Group"] - 1 - counts["Domain"] == n // 20
    assert counts["System"] == n // 50
    assert counts["API"] == n // 10 and counts["Resource"] == n // 10
    assert counts["Domain"] == 5
    assert 2.5 <= counts["User"] / (n // 20) <= 4
    assert 4.5 <= summary.depends_on / n <= 5.5
    files = read_estate(tmp_path)
    assert set(files) == set(summary.files)
    assert all(len(docs) <= demo.DOCS_PER_FILE for docs in files.values())
    assert Counter(doc["kind"] for doc in documents(files)) == counts
    assert summary.depends_on == sum(
        len(doc["spec"].get(key, []))
        for doc in documents(files)
        for key in ("dependsOn", "dependencyOf")
    )


def test_business_units_beyond_the_curated_five_are_valid(tmp_path: Path) -> None:
    summary = generate_estate(tmp_path, components=12_000)
    assert summary.counts["Domain"] == 6
    docs = documents(read_estate(tmp_path))
    assert_names_and_refs_valid(docs)
    domains = {doc["metadata"]["name"] for doc in docs if doc["kind"] == "Domain"}
    assert len(domains - {"payments", "commerce", "logistics", "identity", "data-platform"}) == 1


def test_rerun_removes_only_files_the_previous_estate_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "notes.yaml").write_text("mine: true\n", encoding="utf-8")
    with monkeypatch.context() as patched:
        patched.setattr(demo, "DOCS_PER_FILE", 5)
        chunked = generate_estate(tmp_path, components=60)
    assert (tmp_path / "payments" / "components-1.yaml").is_file()
    summary = generate_estate(tmp_path, components=60)
    assert not (tmp_path / "payments" / "components-1.yaml").exists()
    on_disk = set(tmp_path.rglob("*.yaml")) - {tmp_path / "notes.yaml"}
    assert on_disk == set(summary.files)
    assert (tmp_path / "notes.yaml").is_file()
    assert chunked.counts == summary.counts


def test_too_few_components_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least"):
        generate_estate(tmp_path, components=demo.MIN_COMPONENTS - 1)
    with pytest.raises(SystemExit):
        main([str(tmp_path), "--components", "3"])


def test_main_writes_and_prints_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main([str(tmp_path / "out"), "--components", "80", "--seed", "3"])
    printed = capsys.readouterr().out
    assert re.search(r"Component\s+80\b", printed)
    assert "hubs:  auth-service" in printed
    assert "component:default/ledger-service ->" in printed
    assert (tmp_path / "out" / "all.yaml").is_file()
