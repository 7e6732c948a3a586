"""The GraphQL schema executed in-process over a real catalog (YAML files -> real store).

The catalog is described in ``conftest.py``; expectations here are written out literally so
a failure reads on its own.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from graph_api.security import Viewer

# -- helpers ------------------------------------------------------------------------------------


def refs(items: list[dict[str, Any]]) -> list[str]:
    return [item["ref"] for item in items]


def assert_clean_error(error: Any, code: str, *fragments: str) -> None:
    """A client error: its code, a message naming the problem, and no server internals."""
    assert error.extensions["code"] == code, error.formatted
    for fragment in fragments:
        assert fragment in error.message, error.message
    shown = json.dumps(error.formatted)
    for leak in ("Traceback", 'File "', ".py", "/work/", "graph_api"):
        assert leak not in shown, shown


CONNECTION = (
    "totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } nodes { ref }"
)


# -- single entities ----------------------------------------------------------------------------


async def test_entity_by_ref_defaults_to_component(catalog) -> None:
    data = await catalog.gql(
        """{
          web: entity(ref: "web") {
            __typename id ref kind namespace name title description tags resolved source location
            annotations labels spec
            ... on Component { type lifecycle }
          }
          org: entity(ref: "group:org") { __typename ref title resolved }
          missing: entity(ref: "no-such-thing") { ref }
        }"""
    )
    web = data["web"]
    assert web["__typename"] == "Component"
    assert (web["ref"], web["kind"], web["namespace"], web["name"]) == (
        "component:default/web",
        "Component",
        "default",
        "web",
    )
    assert web["title"] == "Web Storefront" and web["description"] == "Customer-facing shop"
    assert web["tags"] == ["frontend"] and web["resolved"] is True
    assert (web["type"], web["lifecycle"]) == ("website", "production")
    assert web["source"] == catalog.source
    components_file = (catalog.folder / "services" / "components.yaml").resolve()
    assert web["location"] == f"{components_file}:1"
    assert web["spec"]["dependsOn"] == ["component:checkout", "component:auth"]
    assert web["annotations"] == {} and web["labels"] == {}
    assert data["org"] == {
        "__typename": "Group",
        "ref": "group:default/org",
        "title": "ACME",
        "resolved": True,
    }
    assert data["missing"] is None


async def test_mixed_case_refs_resolve_to_canonical_refs(catalog) -> None:
    data = await catalog.gql(
        """{
          svc: entity(ref: "Component:Default/My-Svc") {
            ref name
            ... on Component { owner { ref } dependsOn { ref resolved } }
          }
          typed: component(ref: "COMPONENT:default/MY-SVC") { ref }
          bob: user(ref: "User:Default/Bob") { memberOf { ref } }
          payments: group(ref: "Payments") { parent { ref } }
        }"""
    )
    svc = data["svc"]
    assert svc["ref"] == "component:default/my-svc"
    assert svc["name"] == "My-Svc"  # the name keeps the case it was written in
    # `owner: Platform` and `dependsOn: [Component:Default/AUTH]` point at the defined entities.
    assert svc["owner"] == {"ref": "group:default/platform"}
    assert svc["dependsOn"] == [{"ref": "component:default/auth", "resolved": True}]
    assert data["typed"] == {"ref": "component:default/my-svc"}
    assert sorted(refs(data["bob"]["memberOf"])) == [
        "group:default/payments",
        "group:default/platform",
    ]
    assert data["payments"]["parent"] == {"ref": "group:default/org"}


async def test_owner_missing_from_catalog_is_an_unresolved_entity(catalog) -> None:
    data = await catalog.gql(
        """{
          gateway: component(ref: "gateway") {
            owner {
              __typename ref kind name resolved source tags
              ... on UnresolvedEntity { referencedBy { ref } }
            }
          }
          ghost: entity(ref: "group:ghosts") { __typename ref resolved }
          typedGhost: group(ref: "ghosts") { ref }
          groups { totalCount nodes { ref } }
        }"""
    )
    owner = data["gateway"]["owner"]
    assert owner.pop("kind") == "Group"
    assert owner == {
        "__typename": "UnresolvedEntity",
        "ref": "group:default/ghosts",
        "name": "ghosts",
        "resolved": False,
        "source": None,
        "tags": [],
        "referencedBy": [{"ref": "component:default/gateway"}],
    }
    assert data["ghost"] == {
        "__typename": "UnresolvedEntity",
        "ref": "group:default/ghosts",
        "resolved": False,
    }
    # Typed roots and lists hold defined entities only.
    assert data["typedGhost"] is None
    assert data["groups"]["totalCount"] == 3
    assert "group:default/ghosts" not in refs(data["groups"]["nodes"])


async def test_node_round_trips_the_entity_id(catalog) -> None:
    data = await catalog.gql(
        """{
          entity(ref: "checkout") { id ref }
          gateway: component(ref: "gateway") { owner { id ref } }
        }"""
    )
    for expected in (data["entity"], data["gateway"]["owner"]):
        again = await catalog.gql(
            "query($id: ID!) { node(id: $id) { __typename id ... on Entity { ref } } }",
            id=expected["id"],
        )
        assert again["node"]["id"] == expected["id"]
        assert again["node"]["ref"] == expected["ref"]
    assert data["entity"]["id"] != data["gateway"]["owner"]["id"]
    unknown = base64.urlsafe_b64encode(b"Entity:component:default/nope").decode()
    assert (await catalog.gql("query($id: ID!) { node(id: $id) { id } }", id=unknown)) == {
        "node": None
    }

    bad = await catalog.execute('{ node(id: "definitely not an id") { id } }')
    assert bad.data == {"node": None} and bad.errors
    assert_clean_error(bad.errors[0], "BAD_USER_INPUT", "id")


# -- entities: filters, order, pagination ----------------------------------------------------------

SHOP_PARTS = [
    "api:default/checkout-api",
    "component:default/billing",
    "component:default/checkout",
    "component:default/invoices",
    "component:default/orders",
    "component:default/web",
]
# case name -> (filter, every matching ref in ref order)
FILTER_CASES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "kind": ({"kind": ["API"]}, ["api:default/auth-api", "api:default/checkout-api"]),
    "kinds, any case": (
        {"kind": ["group", "User"]},
        [
            "group:default/org",
            "group:default/payments",
            "group:default/platform",
            "user:default/alice",
            "user:default/bob",
        ],
    ),
    "type": ({"type": ["website"]}, ["component:default/web"]),
    "types": (
        {"type": ["library", "database"]},
        ["component:default/my-svc", "resource:default/db"],
    ),
    "lifecycle": (
        {"lifecycle": ["experimental"]},
        ["component:default/billing", "component:default/gateway"],
    ),
    "namespace": ({"namespace": ["ops"]}, ["component:ops/cron"]),
    "owner, kind defaults to group": (
        {"owner": "platform"},
        [
            "api:default/auth-api",
            "component:default/auth",
            "component:default/my-svc",
            "component:ops/cron",
            "resource:default/db",
            "system:default/infra",
        ],
    ),
    "owner that is not defined": ({"owner": "group:ghosts"}, ["component:default/gateway"]),
    "system": ({"system": "shop"}, SHOP_PARTS),
    "domain: its systems and their parts": (
        {"domain": "commerce"},
        [*SHOP_PARTS, "system:default/shop"],
    ),
    "tag": ({"tag": "go"}, ["component:default/auth", "component:default/my-svc"]),
    "annotation key": (
        {"annotation": "github.com/project-slug"},
        ["component:default/auth", "component:default/checkout"],
    ),
    "annotation key=value": (
        {"annotation": "github.com/project-slug=acme/auth"},
        ["component:default/auth"],
    ),
    "text in name or description, any case": (
        {"text": "PAYMENT"},
        ["component:default/checkout", "group:default/payments"],
    ),
    "text in title": ({"text": "storefront"}, ["component:default/web"]),
    "criteria combine": (
        {"kind": ["component"], "system": "infra", "lifecycle": ["production"]},
        ["component:default/auth"],
    ),
    "nothing matches": ({"tag": "no-such-tag"}, []),
}


async def test_entities_filters(catalog) -> None:
    query = "query($f: EntityFilterInput) { entities(filter: $f, first: 100) { totalCount nodes { ref } } }"
    for case, (where, expected) in FILTER_CASES.items():
        data = await catalog.gql(query, f=where)
        assert refs(data["entities"]["nodes"]) == expected, case
        assert data["entities"]["totalCount"] == len(expected), case


async def test_entities_filter_rejects_a_bad_ref(catalog) -> None:
    result = await catalog.execute('{ entities(filter: {owner: "group:"}) { totalCount } }')
    assert result.data is None and result.errors
    assert_clean_error(result.errors[0], "BAD_USER_INPUT", "filter.owner")


async def test_order_by_name_descending(catalog) -> None:
    data = await catalog.gql(
        "{ components(orderBy: {field: NAME, direction: DESC}, first: 100) { nodes { name } } }"
    )
    assert [n["name"] for n in data["components"]["nodes"]] == [
        "web",
        "orders",
        "My-Svc",
        "invoices",
        "gateway",
        "cron",
        "checkout",
        "billing",
        "auth",
    ]
    ascending = await catalog.gql(
        "{ components(orderBy: {field: NAME}, first: 3) { nodes { name } } }"
    )
    assert [n["name"] for n in ascending["components"]["nodes"]] == ["auth", "billing", "checkout"]


async def test_pagination_walks_every_entity_once(catalog) -> None:
    query = f"query($after: String) {{ entities(first: 7, after: $after) {{ {CONNECTION} edges {{ cursor }} }} }}"
    seen: list[str] = []
    pages = []
    after = None
    while True:
        page = (await catalog.gql(query, after=after))["entities"]
        pages.append(page)
        seen.extend(refs(page["nodes"]))
        assert page["totalCount"] == 20
        assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert len(pages) < 5, "pagination does not terminate"
    assert [len(p["nodes"]) for p in pages] == [7, 7, 6]
    assert [p["pageInfo"]["hasPreviousPage"] for p in pages] == [False, True, True]
    assert [p["pageInfo"]["hasNextPage"] for p in pages] == [True, True, False]
    everything = await catalog.gql("{ entities(first: 100) { nodes { ref } } }")
    assert seen == refs(everything["entities"]["nodes"]) == sorted(seen)
    assert len(set(seen)) == 20

    default = await catalog.gql("{ entities { totalCount nodes { ref } } }")
    assert len(default["entities"]["nodes"]) == 20  # default page size 20
    empty = await catalog.gql(f"{{ entities(first: 0) {{ {CONNECTION} }} }}")
    assert empty["entities"]["nodes"] == [] and empty["entities"]["totalCount"] == 20
    assert empty["entities"]["pageInfo"]["endCursor"] is None
    past_end = await catalog.gql(
        f"query($after: String) {{ entities(first: 5, after: $after) {{ {CONNECTION} }} }}",
        after=pages[-1]["pageInfo"]["endCursor"],
    )
    assert past_end["entities"]["nodes"] == []
    assert past_end["entities"]["pageInfo"]["hasNextPage"] is False


async def test_page_size_out_of_range_is_bad_user_input(catalog) -> None:
    for first in (101, -1):
        result = await catalog.execute(
            "query($n: Int) { entities(first: $n) { totalCount } }", n=first
        )
        assert result.data is None and result.errors, first
        assert_clean_error(result.errors[0], "BAD_USER_INPUT", "first", "100")


async def test_bad_cursor_is_bad_user_input(catalog) -> None:
    for cursor in ("not-a-cursor", base64.urlsafe_b64encode(b"offset:-3").decode(), ""):
        result = await catalog.execute(
            "query($c: String) { components(after: $c) { totalCount } }", c=cursor
        )
        assert result.data is None and result.errors, cursor
        assert_clean_error(result.errors[0], "BAD_USER_INPUT", "after")


# -- typed roots ---------------------------------------------------------------------------------

ROOT_PAIRS = [
    pytest.param("component", "components", "web", "Component", 9, id="component"),
    pytest.param("api", "apis", "checkout-api", "API", 2, id="api"),
    pytest.param("system", "systems", "shop", "System", 2, id="system"),
    pytest.param("domain", "domains", "commerce", "Domain", 1, id="domain"),
    pytest.param("group", "groups", "payments", "Group", 3, id="group"),
    pytest.param("user", "users", "alice", "User", 2, id="user"),
    pytest.param("resource", "resources", "db", "Resource", 1, id="resource"),
]


@pytest.mark.parametrize(("single", "plural", "name", "typename", "count"), ROOT_PAIRS)
async def test_typed_root_pairs(
    catalog, single: str, plural: str, name: str, typename: str, count: int
) -> None:
    other_kind = "user:alice" if single != "user" else "group:payments"
    data = await catalog.gql(
        f"""query($ref: String!, $other: String!) {{
          one: {single}(ref: $ref) {{ __typename ref kind }}
          wrongKind: {single}(ref: $other) {{ ref }}
          missing: {single}(ref: "does-not-exist") {{ ref }}
          many: {plural}(first: 100) {{ totalCount nodes {{ __typename ref }} }}
        }}""",
        ref=name,
        other=other_kind,
    )
    # The bare name takes the root's kind.
    assert data["one"] == {
        "__typename": typename,
        "ref": f"{typename.lower()}:default/{name}",
        "kind": typename,
    }
    assert data["wrongKind"] is None and data["missing"] is None
    assert data["many"]["totalCount"] == count == len(data["many"]["nodes"])
    assert {n["__typename"] for n in data["many"]["nodes"]} == {typename}
    assert data["one"]["ref"] in refs(data["many"]["nodes"])


# -- relations, both directions ------------------------------------------------------------------


async def test_ownership_membership_and_group_tree(catalog) -> None:
    data = await catalog.gql(
        """{
          platform: group(ref: "platform") {
            owns { ref } members { ref } parent { ref } children { ref } type
          }
          org: group(ref: "org") { parent { ref } children { ref } owns { ref } members { ref } }
          alice: user(ref: "alice") { memberOf { ref } owns { ref } }
          auth: component(ref: "auth") { owner { __typename ref } }
        }"""
    )
    platform = data["platform"]
    assert sorted(refs(platform["owns"])) == [
        "api:default/auth-api",
        "component:default/auth",
        "component:default/my-svc",
        "component:ops/cron",
        "resource:default/db",
        "system:default/infra",
    ]
    assert sorted(refs(platform["members"])) == ["user:default/alice", "user:default/bob"]
    assert platform["parent"] == {"ref": "group:default/org"}
    assert platform["children"] == [] and platform["type"] == "team"
    org = data["org"]
    assert org["parent"] is None
    # Declared from both sides (org.children and platform.parent): still one child each.
    assert sorted(refs(org["children"])) == ["group:default/payments", "group:default/platform"]
    assert refs(org["owns"]) == ["domain:default/commerce"] and org["members"] == []
    assert refs(data["alice"]["memberOf"]) == ["group:default/platform"]
    assert data["alice"]["owns"] == []
    assert data["auth"]["owner"] == {"__typename": "Group", "ref": "group:default/platform"}


async def test_systems_domains_and_parts(catalog) -> None:
    data = await catalog.gql(
        """{
          shop: system(ref: "shop") {
            owner { ref } domain { ref } parts { ref } components { ref } apis { ref } resources { ref }
          }
          infra: system(ref: "infra") { domain { ref } resources { ref } components { ref } }
          commerce: domain(ref: "commerce") { owner { ref } systems { ref } parts { ref } subdomainOf { ref } }
          web: component(ref: "web") { system { ref } subcomponentOf { ref } subcomponents { ref } }
          cron: component(ref: "ops/cron") { system { ref } }
          db: resource(ref: "db") { system { __typename ref } }
          api: api(ref: "checkout-api") { system { ref } }
        }"""
    )
    shop = data["shop"]
    shop_components = [
        "component:default/billing",
        "component:default/checkout",
        "component:default/invoices",
        "component:default/orders",
        "component:default/web",
    ]
    assert shop["owner"] == {"ref": "group:default/payments"}
    assert shop["domain"] == {"ref": "domain:default/commerce"}
    assert sorted(refs(shop["parts"])) == ["api:default/checkout-api", *shop_components]
    assert sorted(refs(shop["components"])) == shop_components
    assert refs(shop["apis"]) == ["api:default/checkout-api"]
    assert shop["resources"] == []
    infra = data["infra"]
    assert infra["domain"] is None
    assert refs(infra["resources"]) == ["resource:default/db"]
    assert sorted(refs(infra["components"])) == [
        "component:default/auth",
        "component:default/gateway",
        "component:default/my-svc",
    ]
    commerce = data["commerce"]
    assert commerce["owner"] == {"ref": "group:default/org"}
    assert refs(commerce["systems"]) == refs(commerce["parts"]) == ["system:default/shop"]
    assert commerce["subdomainOf"] is None
    assert data["web"] == {
        "system": {"ref": "system:default/shop"},
        "subcomponentOf": None,
        "subcomponents": [],
    }
    assert data["cron"]["system"] is None
    assert data["db"]["system"] == {"__typename": "System", "ref": "system:default/infra"}
    assert data["api"]["system"] == {"ref": "system:default/shop"}


async def test_apis_provided_and_consumed(catalog) -> None:
    data = await catalog.gql(
        """{
          checkout: component(ref: "checkout") { providesApis { ref } consumesApis { ref } }
          web: component(ref: "web") { providesApis { ref } consumesApis { __typename ref } }
          authApi: api(ref: "auth-api") { providers { ref } consumers { ref } owner { ref } definition type lifecycle }
          checkoutApi: api(ref: "checkout-api") { providers { ref } consumers { ref } definition }
        }"""
    )
    assert refs(data["checkout"]["providesApis"]) == ["api:default/checkout-api"]
    assert refs(data["checkout"]["consumesApis"]) == ["api:default/auth-api"]
    assert data["web"]["providesApis"] == []
    assert data["web"]["consumesApis"] == [{"__typename": "API", "ref": "api:default/checkout-api"}]
    auth_api = data["authApi"]
    assert refs(auth_api["providers"]) == ["component:default/auth"]
    assert sorted(refs(auth_api["consumers"])) == [
        "component:default/checkout",
        "component:default/gateway",
    ]
    assert auth_api["owner"] == {"ref": "group:default/platform"}
    assert (auth_api["type"], auth_api["lifecycle"]) == ("grpc", "production")
    assert auth_api["definition"] == 'syntax = "proto3";'
    assert refs(data["checkoutApi"]["providers"]) == ["component:default/checkout"]
    assert refs(data["checkoutApi"]["consumers"]) == ["component:default/web"]
    assert data["checkoutApi"]["definition"] == "openapi: 3.0.0"


async def test_depends_on_and_dependents(catalog) -> None:
    data = await catalog.gql(
        """{
          checkout: component(ref: "checkout") { dependsOn { __typename ref } dependents { ref } }
          auth: component(ref: "auth") { dependsOn { ref } dependents { ref } }
          db: resource(ref: "db") { dependsOn { ref } dependents { ref } owner { ref } }
          cron: component(ref: "ops/cron") { dependsOn { __typename ref resolved } }
        }"""
    )
    checkout = data["checkout"]
    assert sorted((d["__typename"], d["ref"]) for d in checkout["dependsOn"]) == [
        ("Component", "component:default/auth"),
        ("Component", "component:default/orders"),
        ("Resource", "resource:default/db"),
    ]
    assert refs(checkout["dependents"]) == ["component:default/web"]
    assert refs(data["auth"]["dependsOn"]) == ["resource:default/db"]
    assert sorted(refs(data["auth"]["dependents"])) == [
        "component:default/checkout",
        "component:default/gateway",
        "component:default/my-svc",
        "component:default/orders",
        "component:default/web",
    ]
    assert data["db"]["dependsOn"] == []
    assert sorted(refs(data["db"]["dependents"])) == [
        "component:default/auth",
        "component:default/checkout",
    ]
    assert data["db"]["owner"] == {"ref": "group:default/platform"}
    assert data["cron"]["dependsOn"] == [
        {"__typename": "UnresolvedEntity", "ref": "component:default/legacy-lib", "resolved": False}
    ]


async def test_relations_list_uses_backstage_names(catalog) -> None:
    data = await catalog.gql(
        """{
          checkout: component(ref: "checkout") { relations { type targetRef target { ref } } }
          payments: group(ref: "payments") { relations { type targetRef } }
          gateway: component(ref: "gateway") { relations { type targetRef target { __typename resolved } } }
          ghost: entity(ref: "group:ghosts") { relations { type targetRef } }
        }"""
    )
    checkout = data["checkout"]["relations"]
    assert all(r["target"]["ref"] == r["targetRef"] for r in checkout)
    assert sorted((r["type"], r["targetRef"]) for r in checkout) == [
        ("consumesApi", "api:default/auth-api"),
        ("dependencyOf", "component:default/web"),
        ("dependsOn", "component:default/auth"),
        ("dependsOn", "component:default/orders"),
        ("dependsOn", "resource:default/db"),
        ("ownedBy", "group:default/payments"),
        ("partOf", "system:default/shop"),
        ("providesApi", "api:default/checkout-api"),
    ]
    # childOf Org is declared twice (payments.parent and org.children) but listed once.
    assert sorted((r["type"], r["targetRef"]) for r in data["payments"]["relations"]) == [
        ("childOf", "group:default/org"),
        ("hasMember", "user:default/bob"),
        ("ownerOf", "api:default/checkout-api"),
        ("ownerOf", "component:default/billing"),
        ("ownerOf", "component:default/checkout"),
        ("ownerOf", "component:default/invoices"),
        ("ownerOf", "component:default/orders"),
        ("ownerOf", "component:default/web"),
        ("ownerOf", "system:default/shop"),
    ]
    owned_by = [r for r in data["gateway"]["relations"] if r["type"] == "ownedBy"]
    assert owned_by == [
        {
            "type": "ownedBy",
            "targetRef": "group:default/ghosts",
            "target": {"__typename": "UnresolvedEntity", "resolved": False},
        }
    ]
    assert data["ghost"]["relations"] == [
        {"type": "ownerOf", "targetRef": "component:default/gateway"}
    ]


# -- dependency exploration ------------------------------------------------------------------------

GRAPH_CASES = [
    pytest.param(
        "component:web",
        "UPSTREAM",
        1,
        {"component:default/web": 0, "component:default/checkout": 1, "component:default/auth": 1},
        [
            ("component:default/checkout", "component:default/auth"),
            ("component:default/web", "component:default/auth"),
            ("component:default/web", "component:default/checkout"),
        ],
        id="upstream-1",
    ),
    pytest.param(
        "component:web",
        "UPSTREAM",
        2,
        {
            "component:default/web": 0,
            "component:default/checkout": 1,
            "component:default/auth": 1,
            "component:default/orders": 2,
            "resource:default/db": 2,
        },
        [
            ("component:default/auth", "resource:default/db"),
            ("component:default/checkout", "component:default/auth"),
            ("component:default/checkout", "component:default/orders"),
            ("component:default/checkout", "resource:default/db"),
            ("component:default/orders", "component:default/auth"),
            ("component:default/web", "component:default/auth"),
            ("component:default/web", "component:default/checkout"),
        ],
        id="upstream-2",
    ),
    pytest.param(
        "component:auth",
        "DOWNSTREAM",
        2,
        {
            "component:default/auth": 0,
            "component:default/checkout": 1,
            "component:default/gateway": 1,
            "component:default/my-svc": 1,
            "component:default/orders": 1,
            "component:default/web": 1,
            "component:default/invoices": 2,
        },
        [
            ("component:default/checkout", "component:default/auth"),
            ("component:default/checkout", "component:default/orders"),
            ("component:default/gateway", "component:default/auth"),
            ("component:default/invoices", "component:default/orders"),
            ("component:default/my-svc", "component:default/auth"),
            ("component:default/orders", "component:default/auth"),
            ("component:default/web", "component:default/auth"),
            ("component:default/web", "component:default/checkout"),
        ],
        id="downstream-2",
    ),
    pytest.param(
        "component:invoices",
        "DOWNSTREAM",
        5,
        {
            "component:default/invoices": 0,
            "component:default/billing": 1,
            "component:default/orders": 2,
            "component:default/checkout": 3,
            "component:default/web": 4,
        },
        [
            ("component:default/billing", "component:default/invoices"),
            ("component:default/checkout", "component:default/orders"),
            ("component:default/invoices", "component:default/orders"),
            ("component:default/orders", "component:default/billing"),
            ("component:default/web", "component:default/checkout"),
        ],
        id="downstream-through-the-cycle",
    ),
    pytest.param(
        "component:gateway",
        "BOTH",
        1,
        {"component:default/gateway": 0, "component:default/auth": 1},
        [("component:default/gateway", "component:default/auth")],
        id="both-1",
    ),
    pytest.param(
        "component:gateway",
        "BOTH",
        2,
        {
            "component:default/gateway": 0,
            "component:default/auth": 1,
            "component:default/checkout": 2,
            "component:default/my-svc": 2,
            "component:default/orders": 2,
            "component:default/web": 2,
            "resource:default/db": 2,
        },
        [
            ("component:default/auth", "resource:default/db"),
            ("component:default/checkout", "component:default/auth"),
            ("component:default/checkout", "component:default/orders"),
            ("component:default/checkout", "resource:default/db"),
            ("component:default/gateway", "component:default/auth"),
            ("component:default/my-svc", "component:default/auth"),
            ("component:default/orders", "component:default/auth"),
            ("component:default/web", "component:default/auth"),
            ("component:default/web", "component:default/checkout"),
        ],
        id="both-2",
    ),
    pytest.param(
        "component:ops/cron",
        "UPSTREAM",
        3,
        {"component:ops/cron": 0, "component:default/legacy-lib": 1},
        [("component:ops/cron", "component:default/legacy-lib")],
        id="reaches-unresolved",
    ),
]


@pytest.mark.parametrize(("root", "direction", "depth", "nodes", "edges"), GRAPH_CASES)
async def test_dependency_graph(
    catalog,
    root: str,
    direction: str,
    depth: int,
    nodes: dict[str, int],
    edges: list[tuple[str, str]],
) -> None:
    data = await catalog.gql(
        """query($ref: String!, $dir: DependencyDirection!, $depth: Int!) {
          dependencyGraph(ref: $ref, direction: $dir, maxDepth: $depth) {
            root { ref }
            nodes { depth entity { ref } }
            edges { fromRef toRef }
          }
        }""",
        ref=root,
        dir=direction,
        depth=depth,
    )
    graph = data["dependencyGraph"]
    root_ref = next(ref for ref, d in nodes.items() if d == 0)
    assert graph["root"] == {"ref": root_ref}
    got = {n["entity"]["ref"]: n["depth"] for n in graph["nodes"]}
    assert len(got) == len(graph["nodes"]), "a node is listed twice"
    assert got == nodes
    assert sorted((e["fromRef"], e["toRef"]) for e in graph["edges"]) == edges


async def test_dependency_graph_defaults_and_limits(catalog) -> None:
    # Default direction is DOWNSTREAM (who depends on it).
    data = await catalog.gql(
        '{ dependencyGraph(ref: "resource:db", maxDepth: 1) { nodes { depth entity { ref } } } }'
    )
    assert sorted((n["entity"]["ref"], n["depth"]) for n in data["dependencyGraph"]["nodes"]) == [
        ("component:default/auth", 1),
        ("component:default/checkout", 1),
        ("resource:default/db", 0),
    ]
    zero = await catalog.execute(
        '{ dependencyGraph(ref: "component:web", maxDepth: 0) { root { ref } } }'
    )
    assert zero.data is None and zero.errors
    assert_clean_error(zero.errors[0], "BAD_USER_INPUT", "maxDepth")
    unknown = await catalog.execute('{ dependencyGraph(ref: "component:nope") { root { ref } } }')
    assert unknown.data is None and unknown.errors
    assert_clean_error(unknown.errors[0], "NOT_FOUND", "component:default/nope")


async def test_blast_radius_of_the_hub(catalog) -> None:
    data = await catalog.gql(
        """{
          blastRadius(ref: "component:auth") {
            root { ref }
            total
            dependents { depth entity { ref } }
            byDepth { depth count entities { ref } }
            byOwner { ownerRef count owner { __typename ref } entities { ref } }
          }
        }"""
    )
    radius = data["blastRadius"]
    assert radius["root"] == {"ref": "component:default/auth"}
    assert radius["total"] == 7 == len(radius["dependents"])
    by_depth = {g["depth"]: (g["count"], sorted(refs(g["entities"]))) for g in radius["byDepth"]}
    assert by_depth == {
        1: (
            5,
            [
                "component:default/checkout",
                "component:default/gateway",
                "component:default/my-svc",
                "component:default/orders",
                "component:default/web",
            ],
        ),
        2: (1, ["component:default/invoices"]),
        3: (1, ["component:default/billing"]),  # billing -> invoices -> orders -> auth
    }
    assert [g["depth"] for g in radius["byDepth"]] == [1, 2, 3]
    # Largest group first; ties by owner ref.
    assert [(g["ownerRef"], g["count"]) for g in radius["byOwner"]] == [
        ("group:default/payments", 5),
        ("group:default/ghosts", 1),
        ("group:default/platform", 1),
    ]
    payments, ghosts, platform = radius["byOwner"]
    assert sorted(refs(payments["entities"])) == [
        "component:default/billing",
        "component:default/checkout",
        "component:default/invoices",
        "component:default/orders",
        "component:default/web",
    ]
    assert payments["owner"] == {"__typename": "Group", "ref": "group:default/payments"}
    assert ghosts["owner"] == {"__typename": "UnresolvedEntity", "ref": "group:default/ghosts"}
    assert refs(platform["entities"]) == ["component:default/my-svc"]

    shallow = await catalog.gql(
        '{ blastRadius(ref: "component:auth", maxDepth: 1) { total byDepth { depth } } }'
    )
    assert shallow["blastRadius"] == {"total": 5, "byDepth": [{"depth": 1}]}
    leaf = await catalog.gql(
        '{ blastRadius(ref: "component:web") { total byDepth { depth } byOwner { count } } }'
    )
    assert leaf["blastRadius"] == {"total": 0, "byDepth": [], "byOwner": []}


@pytest.mark.parametrize("root", ["component:auth", "component:orders", "component:billing"])
async def test_a_counted_blast_radius_agrees_with_the_listed_one(
    catalog, root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Counts alone are summed where the data is; with refs asked for, the dependents are
    # listed and grouped here. Both must say the same, cycles included.
    listings: list[str] = []
    reachable = catalog.store.reachable

    async def spy(root: str, *args: Any) -> Any:
        listings.append(root)
        return await reachable(root, *args)

    monkeypatch.setattr(catalog.store, "reachable", spy)
    listed = await catalog.gql(
        f'{{ blastRadius(ref: "{root}") {{ total byDepth {{ depth count refs }} '
        "byOwner { ownerRef count refs } } }"
    )
    counted = await catalog.gql(
        f'{{ blastRadius(ref: "{root}") {{ ...Counts }} }} '
        "fragment Counts on BlastRadius { total byDepth { depth count } "
        "byOwner { ... on OwnerGroup { ownerRef count owner { ref } } } }"
    )
    assert len(listings) == 1, "the counted radius lists nothing"
    want, got = listed["blastRadius"], counted["blastRadius"]
    assert got["total"] == want["total"]
    assert got["byDepth"] == [{"depth": g["depth"], "count": g["count"]} for g in want["byDepth"]]
    assert [(g["ownerRef"], g["count"]) for g in got["byOwner"]] == [
        (g["ownerRef"], g["count"]) for g in want["byOwner"]
    ]
    assert all(g["owner"] is None or g["owner"]["ref"] == g["ownerRef"] for g in got["byOwner"])


PATH_QUERY = """query($from: String!, $to: String!, $directed: Boolean!, $depth: Int!) {
  dependencyPath(from: $from, to: $to, directed: $directed, maxDepth: $depth) {
    found length entities { ref }
  }
}"""


@pytest.mark.parametrize(
    ("start", "end", "directed", "depth", "expected"),
    [
        pytest.param(
            "component:web",
            "component:billing",
            True,
            10,
            [
                "component:default/web",
                "component:default/checkout",
                "component:default/orders",
                "component:default/billing",
            ],
            id="directed",
        ),
        pytest.param(
            "component:invoices",
            "component:auth",
            True,
            10,
            ["component:default/invoices", "component:default/orders", "component:default/auth"],
            id="directed-shortest",
        ),
        pytest.param("component:web", "component:billing", True, 2, None, id="beyond-max-depth"),
        pytest.param("component:gateway", "component:web", True, 10, None, id="wrong-way"),
        pytest.param(
            "component:gateway",
            "component:web",
            False,
            10,
            ["component:default/gateway", "component:default/auth", "component:default/web"],
            id="undirected",
        ),
        pytest.param("component:ops/cron", "component:web", False, 10, None, id="disconnected"),
        pytest.param(
            "component:web", "component:web", True, 10, ["component:default/web"], id="same"
        ),
    ],
)
async def test_dependency_path(
    catalog, start: str, end: str, directed: bool, depth: int, expected: list[str] | None
) -> None:
    data = await catalog.gql(
        PATH_QUERY, **{"from": start, "to": end, "directed": directed, "depth": depth}
    )
    path = data["dependencyPath"]
    if expected is None:
        assert path == {"found": False, "length": None, "entities": []}
    else:
        assert path["found"] is True
        assert refs(path["entities"]) == expected
        assert path["length"] == len(expected) - 1


async def test_dependency_path_to_an_unknown_entity_is_not_found(catalog) -> None:
    result = await catalog.execute(
        '{ dependencyPath(from: "component:web", to: "component:nowhere") { found } }'
    )
    assert result.data is None and result.errors
    assert_clean_error(result.errors[0], "NOT_FOUND", "to", "component:default/nowhere")


async def test_dependency_cycles(catalog) -> None:
    cycle = ["component:default/billing", "component:default/invoices", "component:default/orders"]
    data = await catalog.gql(
        """{
          all: dependencyCycles { refs entities { ref resolved } }
          shop: dependencyCycles(system: "shop") { refs }
          qualified: dependencyCycles(system: "System:Default/Shop") { refs }
          infra: dependencyCycles(system: "infra") { refs }
        }"""
    )
    # Starts at the smallest ref; each depends on the next, the last on the first.
    assert data["all"] == [
        {"refs": cycle, "entities": [{"ref": r, "resolved": True} for r in cycle]}
    ]
    assert data["shop"] == data["qualified"] == [{"refs": cycle}]
    assert data["infra"] == []


async def test_unresolved_relations(catalog) -> None:
    data = await catalog.gql("{ unresolvedRelations { fromRef relation targetRef } }")
    assert data["unresolvedRelations"] == [
        {
            "fromRef": "component:default/gateway",
            "relation": "ownedBy",
            "targetRef": "group:default/ghosts",
        },
        {
            "fromRef": "component:ops/cron",
            "relation": "dependsOn",
            "targetRef": "component:default/legacy-lib",
        },
    ]


async def test_catalog_stats(catalog) -> None:
    data = await catalog.gql("{ catalogStats { kind count } }")
    assert data["catalogStats"] == [
        {"kind": "API", "count": 2},
        {"kind": "Component", "count": 9},
        {"kind": "Domain", "count": 1},
        {"kind": "Group", "count": 3},
        {"kind": "Resource", "count": 1},
        {"kind": "System", "count": 2},
        {"kind": "User", "count": 2},
    ]


# -- mutations -----------------------------------------------------------------------------------

UPSERT = """mutation($d: [JSON!]!) {
  upsertEntities(descriptors: $d) {
    added updated unchanged
    rejected { location reason ref }
    entities { __typename ref source location resolved }
  }
}"""


def component_descriptor(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name},
        "spec": {"type": "service", "lifecycle": "production", "owner": "payments", **spec},
    }


async def test_upsert_adds_valid_and_rejects_invalid_descriptors(catalog) -> None:
    valid = component_descriptor("newsvc", system="shop", dependsOn=["component:auth"])
    invalid = component_descriptor("broken")
    del invalid["spec"]["owner"]
    data = await catalog.gql(UPSERT, d=[valid, invalid])
    payload = data["upsertEntities"]
    assert payload["added"] == ["component:default/newsvc"]
    assert payload["updated"] == [] and payload["unchanged"] == 0
    assert len(payload["rejected"]) == 1
    rejected = payload["rejected"][0]
    assert rejected["location"] == "descriptors[1]"
    assert rejected["ref"] == "component:default/broken"
    assert "spec.owner" in rejected["reason"]
    assert payload["entities"] == [
        {
            "__typename": "Component",
            "ref": "component:default/newsvc",
            "source": "api",
            "location": "descriptors[0]",
            "resolved": True,
        }
    ]

    after = await catalog.gql(
        """{
          newsvc: component(ref: "newsvc") { owner { ref } system { ref } dependsOn { ref } }
          broken: entity(ref: "broken") { ref }
          auth: component(ref: "auth") { dependents { ref } }
          components { totalCount }
        }"""
    )
    assert after["newsvc"] == {
        "owner": {"ref": "group:default/payments"},
        "system": {"ref": "system:default/shop"},
        "dependsOn": [{"ref": "component:default/auth"}],
    }
    assert after["broken"] is None
    assert "component:default/newsvc" in refs(after["auth"]["dependents"])
    assert after["components"]["totalCount"] == 10

    again = (await catalog.gql(UPSERT, d=[valid]))["upsertEntities"]
    assert again == {"added": [], "updated": [], "unchanged": 1, "rejected": [], "entities": []}

    valid["metadata"]["description"] = "now described"
    changed = (await catalog.gql(UPSERT, d=[valid]))["upsertEntities"]
    assert changed["updated"] == ["component:default/newsvc"] and changed["added"] == []
    assert changed["unchanged"] == 0
    described = await catalog.gql('{ entity(ref: "newsvc") { description } }')
    assert described["entity"]["description"] == "now described"


async def test_upsert_rejects_a_ref_another_source_defines(catalog) -> None:
    takeover = component_descriptor("web", owner="platform")
    payload = (await catalog.gql(UPSERT, d=[takeover]))["upsertEntities"]
    assert payload["added"] == [] and payload["updated"] == [] and payload["entities"] == []
    (rejected,) = payload["rejected"]
    assert rejected["location"] == "descriptors[0]"
    assert rejected["ref"] == "component:default/web"
    assert f"source {catalog.source}" in rejected["reason"]
    web = await catalog.gql('{ component(ref: "web") { type source owner { ref } } }')
    assert web["component"] == {
        "type": "website",
        "source": catalog.source,
        "owner": {"ref": "group:default/payments"},
    }


async def test_upsert_defines_a_ref_that_was_only_referenced(catalog) -> None:
    ghosts = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Group",
        "metadata": {"name": "ghosts"},
        "spec": {"type": "team", "children": []},
    }
    payload = (await catalog.gql(UPSERT, d=[ghosts]))["upsertEntities"]
    assert payload["added"] == ["group:default/ghosts"] and payload["rejected"] == []
    data = await catalog.gql(
        """{
          gateway: component(ref: "gateway") { owner { __typename ref resolved } }
          ghosts: group(ref: "ghosts") { owns { ref } }
          unresolvedRelations { targetRef }
        }"""
    )
    assert data["gateway"]["owner"] == {
        "__typename": "Group",
        "ref": "group:default/ghosts",
        "resolved": True,
    }
    assert refs(data["ghosts"]["owns"]) == ["component:default/gateway"]
    assert data["unresolvedRelations"] == [{"targetRef": "component:default/legacy-lib"}]


async def test_upsert_rejects_non_descriptors(catalog) -> None:
    payload = (await catalog.gql(UPSERT, d=["just a string", {"kind": "Component"}]))[
        "upsertEntities"
    ]
    assert payload["added"] == []
    assert [r["location"] for r in payload["rejected"]] == ["descriptors[0]", "descriptors[1]"]
    assert "mapping" in payload["rejected"][0]["reason"]
    assert "metadata" in payload["rejected"][1]["reason"]


async def test_delete_entity(catalog) -> None:
    data = await catalog.gql(
        'mutation { deleteEntity(ref: "Component:Default/Auth") { ref deleted } }'
    )
    assert data["deleteEntity"] == {"ref": "component:default/auth", "deleted": True}

    after = await catalog.gql(
        """{
          auth: entity(ref: "auth") { __typename ref resolved source }
          typed: component(ref: "auth") { ref }
          web: component(ref: "web") { dependsOn { __typename ref resolved } }
          db: resource(ref: "db") { dependents { ref } }
          authApi: api(ref: "auth-api") { providers { ref } consumers { ref } }
          components { totalCount }
          unresolvedRelations { fromRef relation targetRef }
        }"""
    )
    # Still referenced by others' dependsOn: kept as an unresolved entity, never dropped.
    assert after["auth"] == {
        "__typename": "UnresolvedEntity",
        "ref": "component:default/auth",
        "resolved": False,
        "source": None,
    }
    assert after["typed"] is None
    assert sorted(
        (d["ref"], d["resolved"], d["__typename"]) for d in after["web"]["dependsOn"]
    ) == [
        ("component:default/auth", False, "UnresolvedEntity"),
        ("component:default/checkout", True, "Component"),
    ]
    # What auth itself declared (dependsOn db, providesApis auth-api) is gone with it.
    assert refs(after["db"]["dependents"]) == ["component:default/checkout"]
    assert after["authApi"]["providers"] == []
    assert sorted(refs(after["authApi"]["consumers"])) == [
        "component:default/checkout",
        "component:default/gateway",
    ]
    assert after["components"]["totalCount"] == 8
    unresolved = {
        (u["fromRef"], u["relation"], u["targetRef"]) for u in after["unresolvedRelations"]
    }
    assert {
        (f"component:default/{name}", "dependsOn", "component:default/auth")
        for name in ("web", "checkout", "orders", "gateway", "my-svc")
    } <= unresolved

    # Nobody points at web: deleting it removes it entirely.
    assert (await catalog.gql('mutation { deleteEntity(ref: "web") { deleted } }')) == {
        "deleteEntity": {"deleted": True}
    }
    assert (await catalog.gql('{ entity(ref: "web") { ref } }')) == {"entity": None}
    checkout = await catalog.gql('{ component(ref: "checkout") { dependents { ref } } }')
    assert checkout["component"]["dependents"] == []


@pytest.mark.parametrize(
    ("ref", "code", "fragment"),
    [
        pytest.param(
            "no-such-component", "NOT_FOUND", "component:default/no-such-component", id="unknown"
        ),
        pytest.param("group:ghosts", "NOT_FOUND", "group:default/ghosts", id="unresolved-only"),
        pytest.param("::", "BAD_USER_INPUT", "ref", id="bad-ref"),
    ],
)
async def test_delete_entity_errors(catalog, ref: str, code: str, fragment: str) -> None:
    result = await catalog.execute(
        "mutation($ref: String!) { deleteEntity(ref: $ref) { deleted } }", ref=ref
    )
    assert result.data is None and result.errors
    assert_clean_error(result.errors[0], code, fragment)
    stats = await catalog.gql("{ catalogStats { count } }")
    assert sum(s["count"] for s in stats["catalogStats"]) == 20


async def test_audit_log_records_changes_newest_first(catalog) -> None:
    await catalog.gql(UPSERT, d=[component_descriptor("newsvc")])
    await catalog.gql('mutation { deleteEntity(ref: "web") { deleted } }')
    data = await catalog.gql(
        """{
          auditLog(first: 10) { totalCount nodes { actor action source changes { ref before after } } }
          web: auditLog(ref: "web") { totalCount nodes { action } }
        }"""
    )
    log = data["auditLog"]
    assert log["totalCount"] == 3
    assert [(e["actor"], e["action"], e["source"]) for e in log["nodes"]] == [
        ("tester", "deleteEntity", catalog.source),
        ("tester", "upsertEntities", "api"),
        ("system", "load files", catalog.source),
    ]
    deleted, added, loaded = log["nodes"]
    (web_change,) = deleted["changes"]
    assert web_change["ref"] == "component:default/web" and web_change["after"] is None
    assert added["changes"] == [
        {"ref": "component:default/newsvc", "before": None, "after": added["changes"][0]["after"]}
    ]
    assert added["changes"][0]["after"]
    assert len(loaded["changes"]) == 20
    assert {
        "ref": "component:default/web",
        "before": None,
        "after": web_change["before"],
    } in loaded["changes"]
    assert [e["action"] for e in data["web"]["nodes"]] == ["deleteEntity", "load files"]

    viewer = Viewer(name="token:ci", role="viewer", authenticated=True)
    forbidden = await catalog.execute("{ auditLog { totalCount } }", viewer=viewer)
    assert forbidden.data is None and forbidden.errors
    assert_clean_error(forbidden.errors[0], "FORBIDDEN")
    anonymous = await catalog.execute("{ auditLog { totalCount } }", viewer=Viewer.anonymous())
    assert anonymous.data is None and anonymous.errors
    assert_clean_error(anonymous.errors[0], "UNAUTHENTICATED")


# -- errors ----------------------------------------------------------------------------------------


async def test_bad_ref_is_a_clean_client_error(catalog) -> None:
    result = await catalog.execute('{ entity(ref: "::") { ref } }')
    assert result.data == {"entity": None}
    assert result.errors is not None and len(result.errors) == 1
    error = result.errors[0]
    assert error.message == "ref: entity reference '::' has an empty kind"
    assert error.path == ["entity"]
    assert error.extensions == {"code": "BAD_USER_INPUT"}
    assert_clean_error(error, "BAD_USER_INPUT")


async def test_schema_validation_errors_are_reported(catalog) -> None:
    result = await catalog.execute("{ entity(ref: 1) { nope } }")
    assert result.data is None and result.errors
    messages = " ".join(e.message for e in result.errors)
    assert "nope" in messages
    assert "Traceback" not in messages
