"""The README's example queries run, as written, against the bundled demo estate."""

from __future__ import annotations

import re
from pathlib import Path

from devgraph.demo import generate_estate
from graph_api.api.context import RequestContext
from graph_api.api.schema import build_schema
from graph_api.security import Policy, Viewer
from graph_api.store.embedded import EmbeddedStore
from loaders.files import load_files

README = Path(__file__).resolve().parent.parent / "README.md"


def graphql_examples() -> list[str]:
    return re.findall(r"```graphql\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)


async def test_readme_queries_answer_on_the_demo(embedded: EmbeddedStore, tmp_path: Path) -> None:
    summary = generate_estate(tmp_path / "demo")
    (report,) = await load_files(embedded, [summary.location], fetch_remote=False)
    assert report.ok
    examples = graphql_examples()
    assert len(examples) >= 3
    schema = build_schema()
    for query in examples:
        context = RequestContext(embedded, Viewer.local_admin("readme"), Policy(embedded))
        result = await schema.execute(query, context_value=context)
        assert result.errors is None, (query, result.errors)
        assert result.data and all(v is not None for v in result.data.values()), (query, result.data)
    first = await schema.execute(
        examples[0], context_value=RequestContext(embedded, Viewer.local_admin("r"), Policy(embedded))
    )
    assert first.data is not None and first.data["components"]["totalCount"] > 0
