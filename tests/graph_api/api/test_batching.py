"""Store round trips per request do not grow with the size of the list asked for.

Each relation field goes through a request-scoped DataLoader, so resolving ``owner`` for 100
components costs the same one store call as for 10. Counted on the real embedded store.
"""

from __future__ import annotations

from pathlib import Path

from graph_api.api.context import RequestContext
from graph_api.api.schema import build_schema
from graph_api.security import Policy, Viewer
from graph_api.store.embedded import EmbeddedStore
from loaders.files import load_files

TEAMS = 5
# dependsOn is a list of the Entity interface, which has no owner: ask each kind for it.
QUERY = """{
  components(first: 100) {
    totalCount
    edges {
      node {
        ref
        owner { ref }
        dependsOn { ref ... on Component { owner { ref } } ... on Resource { owner { ref } } }
      }
    }
  }
}"""


def estate_yaml(n: int) -> str:
    """``n`` components, each owned by a team and depending on the next component and on its
    own resource (owned by another team), so the nested ``owner`` needs refs not seen yet."""
    docs = [
        f"""apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-{t}
spec:
  type: team
  children: []
"""
        for t in range(TEAMS)
    ]
    for i in range(n):
        docs.append(
            f"""apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: svc-{i:03d}
spec:
  type: service
  lifecycle: production
  owner: team-{i % TEAMS}
  dependsOn: [component:svc-{(i + 1) % n:03d}, resource:db-{i:03d}]
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: db-{i:03d}
spec:
  type: database
  owner: team-{(i + 1) % TEAMS}
"""
        )
    return "---\n".join(docs)


async def calls_for(tmp_path: Path, n: int) -> int:
    """Load an estate of ``n`` components, run QUERY once, return the store calls it made."""
    catalog = tmp_path / f"estate-{n}.yaml"
    catalog.write_text(estate_yaml(n), encoding="utf-8")
    store = EmbeddedStore(tmp_path / f"store-{n}")
    await store.open()
    try:
        (report,) = await load_files(store, [catalog], fetch_remote=False)
        assert report.rejected == [] and len(report.added) == TEAMS + 2 * n
        context = RequestContext(
            store=store, viewer=Viewer.local_admin("tester"), policy=Policy(store)
        )
        before = store.calls
        result = await build_schema().execute(QUERY, context_value=context)
        calls = store.calls - before
    finally:
        await store.close()

    assert result.errors is None, result.errors
    assert result.data is not None
    connection = result.data["components"]
    assert connection["totalCount"] == n
    nodes = [edge["node"] for edge in connection["edges"]]
    assert [node["ref"] for node in nodes] == [f"component:default/svc-{i:03d}" for i in range(n)]
    for i, node in enumerate(nodes):
        assert node["owner"] == {"ref": f"group:default/team-{i % TEAMS}"}
        deps = {dep["ref"]: dep["owner"]["ref"] for dep in node["dependsOn"]}
        assert deps == {
            f"component:default/svc-{(i + 1) % n:03d}": f"group:default/team-{(i + 1) % TEAMS}",
            f"resource:default/db-{i:03d}": f"group:default/team-{(i + 1) % TEAMS}",
        }
    return calls


async def test_store_calls_do_not_grow_with_list_size(tmp_path: Path) -> None:
    small = await calls_for(tmp_path, 10)
    large = await calls_for(tmp_path, 100)
    # count + page; per relation level one call for the related refs and one for the entities
    # not loaded yet (owners, dependsOn, the dependencies' owners).
    assert 3 <= small <= 10, small
    # A DataLoader batches the loads queued in one event-loop tick; on a busy machine a level's
    # loads can straddle two ticks, so allow one extra batch, never one per component.
    assert large <= small + 1, f"10 components took {small} store calls, 100 took {large}"
