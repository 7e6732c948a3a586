"""``devgraph``: the one entry point that wires stores, loaders, the API and exports."""

from __future__ import annotations

import asyncio
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
    settings = _settings(store)
    bind_host = host or settings.host
    bind_port = port or settings.port
    err.print(f"devgraph serving GraphQL at [bold]http://{bind_host}:{bind_port}/graphql[/]")
    if settings.allow_anonymous_read:
        err.print("[yellow]anonymous read is enabled:[/] anyone who reaches this port can read the catalog")
    uvicorn.run(
        create_app(make_store(settings), settings),
        host=bind_host,
        port=bind_port,
        log_level="info",
        access_log=False,  # devgraph.access writes one JSON line per request instead
    )


def _print_reports(reports: list[LoadReport], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps([r.summary() for r in reports], indent=2))
        return
    table = Table(title="load summary")
    for column in ("source", "added", "updated", "removed", "unchanged", "rejected"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for r in reports:
        table.add_row(
            r.source,
            str(len(r.added)),
            str(len(r.updated)),
            str(len(r.removed)),
            str(r.unchanged),
            str(len(r.rejected)),
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
