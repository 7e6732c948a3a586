"""``devgraph``: the one entry point that wires stores, loaders, the API and exports."""

from __future__ import annotations

import os

# Arrow's default allocator (mimalloc) keeps what a big read freed; a 1M-line FOCUS load
# peaked 45 MiB higher with it. Arrow reads this once, when it loads: before any import of it.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

import asyncio
import gc
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from graph_api.ingest import LoadReport
from graph_api.model import normalize_ref
from graph_api.export import ExportFormat, dependency_digraph, render
from graph_api.security import Policy, Viewer
from graph_api.security.tokens import create_token, token_status
from graph_api.settings import Settings
from graph_api.store import GraphStore, StoreError
from graph_api.store.factory import make_store
from loaders.files import load_files

T = TypeVar("T")

app = typer.Typer(help="devgraph: the graph of your software estate.", no_args_is_help=True)
load_app = typer.Typer(help="Load sources into the catalog.", no_args_is_help=True)
export_app = typer.Typer(help="Export the catalog for other tools.", no_args_is_help=True)
app.add_typer(load_app, name="load")
token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
app.add_typer(export_app, name="export")
app.add_typer(token_app, name="token")

err = Console(stderr=True)
StoreOption = Annotated[
    Path | None,
    typer.Option("--store", help="Embedded store folder [env: DEVGRAPH_STORE; default .devgraph]"),
]


def _settings(store: Path | None) -> Settings:
    settings = Settings()
    if store is not None:
        settings.store = store
    return settings


def _operator() -> str:
    """Who runs the CLI, for the audit trail."""
    return f"cli:{getpass.getuser()}"


def _with_store(store_path: Path | None, work: Callable[[GraphStore], Awaitable[T]]) -> T:
    async def run() -> T:
        store = make_store(_settings(store_path))
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except StoreError as exc:
        err.print(f"[red]store error:[/] {exc}")
        raise typer.Exit(2) from exc


@app.command()
def serve(
    store: StoreOption = None,
    host: Annotated[str | None, typer.Option(help="Bind address [default 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default 8000]")] = None,
) -> None:
    """Serve the GraphQL API (GraphiQL in the browser) over the store."""
    import uvicorn  # noqa: PLC0415 - only the server needs it

    from graph_api.app import create_app  # noqa: PLC0415
    from graph_api.middleware import configure_logging  # noqa: PLC0415

    configure_logging("INFO")
    # A request makes tens of thousands of short-lived objects while the store's read cache
    # holds many long-lived ones: with the default thresholds, full collections every few
    # requests doubled the p50 of listing 1,000 components (146 -> 75 ms).
    gc.set_threshold(50_000, 20, 20)
    settings = _settings(store)
    bind_host = host or settings.host
    bind_port = port or settings.port
    err.print(f"devgraph serving GraphQL at [bold]http://{bind_host}:{bind_port}/graphql[/]")
    if settings.allow_anonymous_read:
        err.print("[yellow]anonymous read is enabled:[/] anyone who reaches this port can read the catalog")
    from federation import sync_forever  # noqa: PLC0415

    graph = make_store(settings)
    uvicorn.run(
        create_app(graph, settings, routes=_loader_routes(graph), background=[sync_forever]),
        host=bind_host,
        port=bind_port,
        log_level="info",
        access_log=False,  # devgraph.access writes one JSON line per request instead
    )


def _loader_routes(graph: GraphStore) -> list[Any]:
    """Loaders' webhooks, each only when its secret is configured."""
    from loaders.git.settings import GitSettings  # noqa: PLC0415 - keep CLI start-up light
    from loaders.git.source import GitLoadOptions  # noqa: PLC0415
    from loaders.git.webhook import PATH, git_webhook_route  # noqa: PLC0415

    git = GitSettings()
    if git.webhook_secret is None:
        return []
    err.print(f"git push webhook (GitHub, GitLab) at [bold]{PATH}[/]")
    options = GitLoadOptions(cache=git.cache, globs=tuple(git.globs), actor="webhook")
    return [git_webhook_route(graph, git.webhook_secret.get_secret_value(), options)]


def _status(report: LoadReport) -> str:
    if report.skipped:
        return f"skipped: {report.skipped}"
    return "ok" if report.ok else "failed"


def _print_reports(reports: list[LoadReport], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps([r.summary() for r in reports], indent=2))
        return
    table = Table(title="load summary")
    for column in ("source", "added", "updated", "removed", "unchanged", "rejected", "status"):
        table.add_column(column, justify="right" if column not in ("source", "status") else "left")
    for r in reports:
        table.add_row(
            r.source,
            str(len(r.added)),
            str(len(r.updated)),
            str(len(r.removed)),
            str(r.unchanged),
            str(len(r.rejected)),
            _status(r),
        )
    err.print(table)
    for r in reports:
        for rejection in r.rejected:
            line = f"{rejection.location}: {rejection.reason}"
            err.print(Text.assemble(("rejected ", "red"), line), soft_wrap=True)
        for warning in r.warnings:
            err.print(Text.assemble(("warning ", "yellow"), warning), soft_wrap=True)


@load_app.command("files")
def load_files_command(
    paths: Annotated[list[Path], typer.Argument(help="YAML files or folders; each is a source.")],
    store: StoreOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable summary.")] = False,
    fetch_remote: Annotated[
        bool, typer.Option(help="Fetch URL $text/$json/$yaml placeholders.")
    ] = True,
) -> None:
    """Load Backstage descriptor files; exit 1 when any document was rejected."""

    async def work(graph: GraphStore) -> list[LoadReport]:
        with Progress(
            TextColumn("reading descriptors"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=as_json or not err.is_terminal,
        ) as progress:
            task = progress.add_task("read", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            return await load_files(
                graph, paths, fetch_remote=fetch_remote, progress=advance, actor=_operator()
            )

    reports = _with_store(store, work)
    _print_reports(reports, as_json)
    if any(not r.ok for r in reports):
        raise typer.Exit(1)


@load_app.command("git")
def load_git_command(
    repositories: Annotated[
        list[str] | None,
        typer.Argument(
            help="Working copies, bare repositories, clone URLs, or files listing them "
            "(one per line, # comments); each repository is a source."
        ),
    ] = None,
    store: StoreOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable summary.")] = False,
    cache: Annotated[
        Path | None,
        typer.Option(
            help="Where clone URLs are cloned [env: DEVGRAPH_GIT_CACHE; default .devgraph/git-cache]"
        ),
    ] = None,
    descriptor_glob: Annotated[
        list[str] | None,
        typer.Option(
            help="Descriptor files, gitignore-style "
            "[default **/catalog-info.yaml, **/catalog-info.yml]"
        ),
    ] = None,
    fetch_remote: Annotated[
        bool, typer.Option(help="Fetch URL placeholders that no repository of the run holds.")
    ] = True,
    github_org: Annotated[
        str | None, typer.Option(help="Also every repository of this GitHub organisation.")
    ] = None,
    github_api: Annotated[str, typer.Option(help="GitHub API base URL.")] = "https://api.github.com",
    gitlab_group: Annotated[
        str | None, typer.Option(help="Also every project of this GitLab group (id or path).")
    ] = None,
    gitlab_api: Annotated[str, typer.Option(help="GitLab base URL.")] = "https://gitlab.com",
) -> None:
    """Load git repositories (catalog, ownership, packages, docs, activity); exit 1 when any
    repository failed or any document was rejected."""
    from loaders.git.discovery import (  # noqa: PLC0415 - keep CLI start-up light
        DiscoveryError,
        github_repositories,
        gitlab_repositories,
    )
    from loaders.git.settings import GitSettings  # noqa: PLC0415
    from loaders.git.source import GitLoadOptions, expand, load_git  # noqa: PLC0415

    git = GitSettings()
    options = GitLoadOptions(
        cache=cache or git.cache,
        globs=tuple(descriptor_glob or git.globs),
        fetch_remote=fetch_remote,
        actor=_operator(),
    )

    async def discover() -> list[str]:
        found: list[str] = []
        if github_org:
            token = git.github_token.get_secret_value() if git.github_token else None
            repos = await github_repositories(github_org, api=github_api, token=token)
            found += [r.clone_url for r in repos]
        if gitlab_group:
            token = git.gitlab_token.get_secret_value() if git.gitlab_token else None
            repos = await gitlab_repositories(gitlab_group, api=gitlab_api, token=token)
            found += [r.clone_url for r in repos]
        return found

    try:
        names = expand(repositories or []) + asyncio.run(discover())
    except (DiscoveryError, OSError) as exc:
        err.print(f"[red]cannot list repositories:[/] {exc}")
        raise typer.Exit(2) from exc
    if not names:
        err.print("[red]no repositories:[/] name some, or use --github-org / --gitlab-group")
        raise typer.Exit(2)

    async def work(graph: GraphStore) -> list[LoadReport]:
        with Progress(
            TextColumn("loading repositories"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=as_json or not err.is_terminal,
        ) as progress:
            task = progress.add_task("repositories", total=len(names))

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            return await load_git(graph, names, options, progress=advance)

    reports = _with_store(store, work)
    _print_reports(reports, as_json)
    if any(not r.ok for r in reports):
        raise typer.Exit(1)


@app.command()
def query(
    document: Annotated[str, typer.Argument(help="A GraphQL query or mutation.")],
    variables: Annotated[str | None, typer.Option(help="Variables as a JSON object.")] = None,
    store: StoreOption = None,
) -> None:
    """Run GraphQL in-process against the store and print the JSON result."""
    try:
        values: dict[str, Any] = json.loads(variables) if variables else {}
    except json.JSONDecodeError as exc:
        err.print(f"[red]--variables is not JSON:[/] {exc}")
        raise typer.Exit(2) from exc
    settings = _settings(store)
    from graph_api.api.context import RequestContext  # noqa: PLC0415 - keep CLI start-up light
    from graph_api.api.schema import build_schema  # noqa: PLC0415

    schema = build_schema(settings)

    async def work(graph: GraphStore) -> dict[str, Any]:
        viewer = Viewer.local_admin(_operator())
        context = RequestContext(store=graph, viewer=viewer, policy=Policy.from_settings(graph, settings))
        result = await schema.execute(document, variable_values=values, context_value=context)
        out: dict[str, Any] = {"data": result.data}
        if result.errors:
            out["errors"] = [e.formatted for e in result.errors]
        return out

    result = _with_store(store, work)
    typer.echo(json.dumps(result, indent=2))
    if "errors" in result:
        raise typer.Exit(1)


@export_app.command("graph")
def export_graph(
    fmt: Annotated[ExportFormat, typer.Option("--format", help="Output format.")] = ExportFormat.GRAPHML,
    system: Annotated[str | None, typer.Option(help="Only this system's entities.")] = None,
    team: Annotated[str | None, typer.Option(help="Only entities this group owns.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File; default stdout.")] = None,
    store: StoreOption = None,
) -> None:
    """Write the dependency graph as GraphML, DOT or JSON."""
    system_ref = normalize_ref(system, default_kind="System") if system else None
    team_ref = normalize_ref(team, default_kind="Group") if team else None

    async def work(graph: GraphStore) -> str:
        digraph = await dependency_digraph(graph, system=system_ref, team=team_ref)
        err.print(f"{digraph.number_of_nodes()} nodes, {digraph.number_of_edges()} edges")
        return render(digraph, fmt)

    text = _with_store(store, work)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="What the token is for, e.g. ci-backstage-sync.")],
    role: Annotated[str, typer.Option(help="viewer, editor, admin, or a cost/findings role.")],
    team: Annotated[str | None, typer.Option(help="Owning group ref; editors change only its entities.")] = None,
    expires: Annotated[
        datetime | None, typer.Option(help="Expiry (ISO date or time, UTC if no zone).")
    ] = None,
    store: StoreOption = None,
) -> None:
    """Create a token and print its secret once; only its hash is stored."""
    settings = _settings(store)
    policy_roles = Policy.from_settings(make_store(settings), settings).valid_roles()
    if role not in policy_roles:
        err.print(f"[red]--role must be one of:[/] {', '.join(sorted(policy_roles))}")
        raise typer.Exit(2)
    if role == "editor" and team is None:
        err.print("[red]an editor token needs --team[/]")
        raise typer.Exit(2)
    team_ref = normalize_ref(team, default_kind="Group") if team else None
    expires_at = expires.replace(tzinfo=expires.tzinfo or UTC) if expires else None
    if expires_at is not None and expires_at <= datetime.now(UTC):
        err.print("[red]--expires is in the past[/]")
        raise typer.Exit(2)

    async def work(graph: GraphStore) -> str:
        token, secret = await create_token(
            graph, name=name, team=team_ref, role=role, expires_at=expires_at
        )
        err.print(f"token {token.id} ({name}, {role}) created; the secret is shown only now:")
        return secret

    typer.echo(_with_store(store, work))


@token_app.command("list")
def token_list(
    store: StoreOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List tokens (never their secrets)."""

    async def work(graph: GraphStore) -> list[dict[str, Any]]:
        return [
            {
                "id": t.id,
                "name": t.name,
                "team": t.team,
                "role": t.role,
                "created_at": t.created_at,
                "expires_at": t.expires_at,
                "status": token_status(t),
            }
            for t in await graph.list_tokens()
        ]

    rows = _with_store(store, work)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="API tokens")
    for column in ("id", "name", "team", "role", "created_at", "expires_at", "status"):
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row[c] or "") for c in row))
    Console().print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The token id from `devgraph token list`.")],
    store: StoreOption = None,
) -> None:
    """Revoke a token at once."""

    async def work(graph: GraphStore) -> bool:
        return await graph.revoke_token(token_id, datetime.now(UTC).isoformat())

    if not _with_store(store, work):
        err.print(f"[red]no active token {token_id}[/]")
        raise typer.Exit(1)
    err.print(f"token {token_id} revoked")



# -- cloud: resources and cost ----------------------------------------------------------------
cost_app = typer.Typer(help="Cloud cost per team, system, component.", no_args_is_help=True)
app.add_typer(cost_app, name="cost")
TagKeyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--tag-key",
        help="Tag or label key naming a component, tried before the defaults (repeatable).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable summary.")]


def _with_catalog(
    store: Path | None, tag_keys: list[str] | None, work: Callable[[GraphStore, Any, Settings], Awaitable[T]]
) -> T:
    """Run ``work(graph, catalog, settings)`` with the catalog attribution reads."""
    from loaders.cloud import Catalog  # noqa: PLC0415 - keep CLI start-up light

    settings = _settings(store)

    async def run(graph: GraphStore) -> T:
        catalog = await Catalog.load(graph, settings.cost, tag_keys or [])
        return await work(graph, catalog, settings)

    return _with_store(store, run)


def _finish_cost_loads(reports: list[Any], as_json: bool) -> None:
    from devgraph.cost_report import print_cost_loads  # noqa: PLC0415

    if as_json:
        typer.echo(json.dumps([r.summary() for r in reports], indent=2))
    else:
        print_cost_loads(reports, err)
    if any(not r.ok for r in reports):
        raise typer.Exit(1)


@load_app.command("terraform")
def load_terraform_command(
    states: Annotated[list[Path], typer.Argument(help="State files (v4) or `terraform show -json` output.")],
    store: StoreOption = None,
    tag_key: TagKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Load Terraform state as Resource entities; each file is a source."""
    from loaders.cloud import load_terraform  # noqa: PLC0415

    reports = _with_catalog(
        store, tag_key, lambda g, c, s: load_terraform(g, states, c, actor=_operator())
    )
    _print_reports(reports, as_json)
    if any(not r.ok for r in reports):
        raise typer.Exit(1)


@load_app.command("kubernetes")
def load_kubernetes_command(
    paths: Annotated[list[Path], typer.Argument(help="Manifests, `kubectl get -o json` output, or folders of them.")],
    store: StoreOption = None,
    cluster: Annotated[str | None, typer.Option(help="Cluster the objects run in.")] = None,
    tag_key: TagKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Load Kubernetes objects as Resource entities; each PATH is a source."""
    from loaders.cloud import load_kubernetes  # noqa: PLC0415

    reports = _with_catalog(
        store,
        tag_key,
        lambda g, c, s: load_kubernetes(g, paths, c, cluster=cluster, actor=_operator()),
    )
    _print_reports(reports, as_json)
    if any(not r.ok for r in reports):
        raise typer.Exit(1)


@load_app.command("focus")
def load_focus_command(
    files: Annotated[list[Path], typer.Argument(help="FOCUS exports: CSV, CSV.gz or Parquet.")],
    store: StoreOption = None,
    tag_key: TagKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Load FOCUS cost exports; each file is a source, replaced on re-load. Exit 1 on errors."""
    from loaders.cloud import load_focus  # noqa: PLC0415

    reports = _with_catalog(
        store, tag_key, lambda g, c, s: load_focus(g, files, c, s.cost.shared, actor=_operator())
    )
    _finish_cost_loads(reports, as_json)


@load_app.command("opencost")
def load_opencost_command(
    target: Annotated[str, typer.Argument(help="An allocation API response file, or its URL.")],
    store: StoreOption = None,
    currency: Annotated[str, typer.Option(help="Currency OpenCost reports in.")] = "USD",
    tag_key: TagKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Load OpenCost allocations; a file, or a URL and the window it covers, is a source."""
    from loaders.cloud import load_opencost  # noqa: PLC0415

    report = _with_catalog(
        store,
        tag_key,
        lambda g, c, s: load_opencost(
            g, target, c, s.cost.shared, currency=currency, actor=_operator()
        ),
    )
    _finish_cost_loads([report], as_json)


COST_GROUPS = {
    "team": "TEAM",
    "system": "SYSTEM",
    "domain": "DOMAIN",
    "component": "COMPONENT",
    "category": "SERVICE_CATEGORY",
    "provider": "PROVIDER",
    "account": "ACCOUNT",
}


@cost_app.command("report")
def cost_report_command(
    by: Annotated[str, typer.Option("--by", help=f"One of: {', '.join(COST_GROUPS)}.")] = "team",
    from_: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD).")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last day, included.")] = None,
    metric: Annotated[str, typer.Option(help="effective, billed or list.")] = "effective",
    as_json: JsonOption = False,
    svg: Annotated[Path | None, typer.Option(help="Also write a monthly trend chart here.")] = None,
    store: StoreOption = None,
) -> None:
    """Cost grouped by team, system, ...: rows by amount, the unallocated line, the total."""
    from graph_api.cost import CostGroupBy, CostWindow, cost_report, monthly_by_group  # noqa: PLC0415
    from graph_api.model.cost import CostMetric  # noqa: PLC0415
    from devgraph.cost_report import NO_KEY, report_json, report_table, trend_svg  # noqa: PLC0415

    try:
        group_by = CostGroupBy(COST_GROUPS[by])
        chosen = CostMetric(metric)
        start = datetime.strptime(from_, "%Y-%m-%d").date() if from_ else None
        end = datetime.strptime(to, "%Y-%m-%d").date() if to else None
    except (KeyError, ValueError) as exc:
        err.print(f"[red]bad option:[/] {exc}; --by is one of {', '.join(COST_GROUPS)}")
        raise typer.Exit(2) from exc

    async def work(graph: GraphStore) -> tuple[Any, Any]:
        span = await graph.cost_span()
        window = CostWindow.of(start, end, span[1] if span else None)
        report = await cost_report(graph, group_by, window, chosen)
        series = await monthly_by_group(graph, group_by, window, chosen) if svg else None
        return report, series

    try:
        report, series = _with_store(store, work)
    except ValueError as exc:
        err.print(f"[red]bad window:[/] {exc}")
        raise typer.Exit(2) from exc
    if svg is not None:
        title = f"Monthly {chosen.value} cost by {by}, top spenders"
        svg.write_text(trend_svg(series, title=title, no_key=NO_KEY.get(group_by.value, "(none)")))
        err.print(f"wrote {svg}")
    if as_json:
        typer.echo(json.dumps(report_json(report), indent=2))
    else:
        Console().print(report_table(report))


EntityOption = Annotated[
    str | None,
    typer.Option(
        "--entity",
        help="The entity the reports are about (kind defaults to Component) [default: found "
        "from the report's repository or subject name]",
    ),
]


def _finish_findings_loads(outcomes: list[Any], as_json: bool) -> None:
    from devgraph.findings_report import print_loads  # noqa: PLC0415 - keep CLI start-up light

    if as_json:
        typer.echo(json.dumps([o.summary() for o in outcomes], indent=2))
    else:
        print_loads(outcomes, err)
    if any(not o.ok for o in outcomes):
        raise typer.Exit(1)


@load_app.command("sarif")
def load_sarif_command(
    files: Annotated[list[Path], typer.Argument(help="SARIF 2.1.0 files (CodeQL, Semgrep, ...).")],
    entity: EntityOption = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Load code-scanning results as findings; exit 1 when any file was not loaded."""
    from loaders.findings.load import load_sarif  # noqa: PLC0415

    outcomes = _with_store(
        store, lambda graph: load_sarif(graph, files, entity=entity, actor=_operator())
    )
    _finish_findings_loads(outcomes, as_json)


def _load_sbom_command(
    expected: str, files: list[Path], entity: str | None, store: Path | None, as_json: bool
) -> None:
    from loaders.findings.load import load_sbom  # noqa: PLC0415

    policy = _settings(store).licenses
    outcomes = _with_store(
        store,
        lambda graph: load_sbom(
            graph, files, expected=expected, policy=policy, entity=entity, actor=_operator()
        ),
    )
    _finish_findings_loads(outcomes, as_json)


@load_app.command("cyclonedx")
def load_cyclonedx_command(
    files: Annotated[list[Path], typer.Argument(help="CycloneDX 1.4-1.7 JSON SBOMs.")],
    entity: EntityOption = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Load SBOMs: packages, licenses (checked against the license policy), dependencies and
    the vulnerabilities they list; exit 1 when any file was not loaded."""
    _load_sbom_command("cyclonedx", files, entity, store, as_json)


@load_app.command("spdx")
def load_spdx_command(
    files: Annotated[list[Path], typer.Argument(help="SPDX 2.3 JSON documents.")],
    entity: EntityOption = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Load SPDX SBOMs: packages, licenses (checked against the license policy) and
    dependencies; exit 1 when any file was not loaded."""
    _load_sbom_command("spdx", files, entity, store, as_json)


@load_app.command("osv")
def load_osv_command(
    paths: Annotated[
        list[Path],
        typer.Argument(help="OSV records (files, folders of them) or osv-scanner JSON output."),
    ],
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Match advisories against the catalog's package versions; every entity using an
    affected version gets a finding. Exit 1 when any path was not loaded."""
    from loaders.findings.load import load_osv  # noqa: PLC0415

    outcomes = _with_store(store, lambda graph: load_osv(graph, paths, actor=_operator()))
    _finish_findings_loads(outcomes, as_json)


@app.command("findings")
def findings_command(
    team: Annotated[
        str | None, typer.Option(help="Only entities this group, or a group below it, owns.")
    ] = None,
    severity: Annotated[
        str | None,
        typer.Option(help="Only this severity or worse: CRITICAL, HIGH, MEDIUM, LOW or INFO."),
    ] = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Open findings per team and component, worst first."""
    from devgraph.findings_report import findings_json, findings_table  # noqa: PLC0415
    from graph_api.findings import open_findings_by_team  # noqa: PLC0415
    from graph_api.model.findings import Severity  # noqa: PLC0415

    try:
        worst = Severity(severity.upper()) if severity else None
    except ValueError as exc:
        err.print(f"[red]--severity must be one of:[/] {', '.join(s.value for s in Severity)}")
        raise typer.Exit(2) from exc
    team_ref = normalize_ref(team, default_kind="Group") if team else None
    teams = _with_store(
        store, lambda graph: open_findings_by_team(graph, team=team_ref, worst=worst)
    )
    if as_json:
        typer.echo(json.dumps(findings_json(teams), indent=2))
    elif not teams:
        err.print("no open findings")
    else:
        Console(width=max(160, Console().width)).print(findings_table(teams))


# -- federation: other IDPs merged into one view ------------------------------------------------
peers_app = typer.Typer(help="Other IDPs this hub federates.", no_args_is_help=True)
app.add_typer(peers_app, name="peers")
federate_app = typer.Typer(help="Sync federated peers.", no_args_is_help=True)
app.add_typer(federate_app, name="federate")


@peers_app.command("add")
def peers_add_command(
    name: Annotated[str, typer.Argument(help="Peer name; its entities' source is peer:NAME.")],
    kind: Annotated[str, typer.Option(help="devgraph, backstage or file.")],
    url: Annotated[str, typer.Option(help="devgraph or Backstage base URL, or export path.")],
    unit: Annotated[
        str | None, typer.Option(help="Business unit of its entities [default: NAME].")
    ] = None,
    token_env: Annotated[
        str | None,
        typer.Option(help="Environment variable holding its token (the token is never stored)."),
    ] = None,
    interval: Annotated[int, typer.Option(help="Seconds between syncs under serve.")] = 300,
    precedence: Annotated[
        int, typer.Option(help="Higher wins when the same entity is in several units.")
    ] = 0,
    store: StoreOption = None,
) -> None:
    """Add a peer, or change an existing peer's config."""
    from federation import add_peer  # noqa: PLC0415 - keep CLI start-up light

    async def work(graph: GraphStore) -> Any:
        return await add_peer(
            graph,
            name,
            kind=kind,
            url=url,
            unit=unit,
            token_env=token_env,
            interval=interval,
            precedence=precedence,
        )

    try:
        peer = _with_store(store, work)
    except ValueError as exc:
        err.print(f"[red]bad option:[/] {exc}")
        raise typer.Exit(2) from exc
    err.print(
        f"peer {peer.name} ({peer.kind}, unit {peer.unit}) at {peer.url}; "
        f"sync it with: devgraph federate sync {peer.name}"
    )


@peers_app.command("list")
def peers_list_command(store: StoreOption = None, as_json: JsonOption = False) -> None:
    """List peers and how their last sync went."""
    from dataclasses import asdict  # noqa: PLC0415

    rows = [asdict(p) for p in _with_store(store, lambda graph: graph.get_peers())]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="peers")
    columns = ("name", "kind", "unit", "url", "status", "entity_count", "last_synced_at", "error")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row[c]) if row[c] is not None else "" for c in columns))
    Console().print(table)


@peers_app.command("remove")
def peers_remove_command(
    name: Annotated[str, typer.Argument(help="The peer to forget; its entities leave the hub.")],
    store: StoreOption = None,
) -> None:
    """Remove a peer and every entity the hub took from it."""
    from federation import UnknownPeer, remove_peer  # noqa: PLC0415

    try:
        report = _with_store(store, lambda graph: remove_peer(graph, name, actor=_operator()))
    except UnknownPeer as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    err.print(f"peer {name} removed with its {len(report.removed)} entities")


@federate_app.command("sync")
def federate_sync_command(
    names: Annotated[
        list[str] | None, typer.Argument(help="Peers to sync [default: every peer].")
    ] = None,
    accept_shrink: Annotated[
        bool, typer.Option(help="Write even when a peer returns under half its last count.")
    ] = False,
    full: Annotated[
        bool, typer.Option(help="Read devgraph peers whole, not only what changed.")
    ] = False,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Sync peers now; exit 1 when any is STALE, HELD or ERROR."""
    from federation import UnknownPeer, sync_peers  # noqa: PLC0415

    async def work(graph: GraphStore) -> list[Any]:
        return await sync_peers(
            graph, names or (), accept_shrink=accept_shrink, full=full, actor=_operator()
        )

    try:
        reports = _with_store(store, work)
    except UnknownPeer as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps([r.summary() for r in reports], indent=2))
    else:
        _print_syncs(reports)
    if any(not r.ok for r in reports):
        raise typer.Exit(1)


def _print_syncs(reports: list[Any]) -> None:
    table = Table(title="federation sync")
    columns = ("peer", "status", "added", "updated", "removed", "restitched", "entities")
    for column in columns:
        table.add_column(column, justify="left" if column in ("peer", "status") else "right")
    for r in reports:
        table.add_row(
            r.peer,
            r.status,
            *(str(len(x)) for x in (r.added, r.updated, r.removed, r.restitched)),
            str(r.entity_count),
        )
    err.print(table)
    for r in reports:
        if r.error:
            err.print(Text.assemble((f"{r.peer}: ", "red"), r.error), soft_wrap=True)
        for rejection in r.rejected:
            line = f"{rejection.location}: {rejection.reason}"
            err.print(Text.assemble(("rejected ", "red"), line), soft_wrap=True)
        for line in [*r.ambiguous, *r.conflicts]:
            err.print(Text.assemble(("warning ", "yellow"), line), soft_wrap=True)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
