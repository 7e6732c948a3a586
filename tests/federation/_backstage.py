"""A real HTTP server speaking Backstage's catalog REST API as Backstage 1.45 writes it.

``GET /api/catalog/entities/by-query?limit=N[&cursor=C]`` answers ``{items, totalItems,
pageInfo: {nextCursor?, prevCursor?}}``; entities carry ``metadata.uid`` and
``metadata.etag`` (a new etag whenever the entity changes) and stitched ``relations[]``; a
wrong bearer token gets 401 with Backstage's error body. Each descriptor put comes with the
generated ``Location`` entity Backstage makes for the file it was registered from. Tests can
make the server drop the connection in the middle of a listing.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from graph_api.model import RELATION_NAMES, parse_entity

ORG = "https://github.com/acme"


class FakeBackstage:
    """The catalog's entities, and the server's behaviour switches."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.entities: dict[str, dict[str, Any]] = {}
        self._relations: dict[str, list[Any]] = {}
        self.requests: list[str] = []
        # Answer this instead of JSON (a proxy's error page, a truncated body).
        self.garbage: bytes | None = None
        # Seconds to wait before answering (a peer too slow to wait for).
        self.delay = 0.0
        # Drop the connection instead of answering the page with this number (1-based).
        self.drop_page: int | None = None
        self._lock = threading.Lock()

    def put(self, document: dict[str, Any], *, repo: str = "catalog") -> str:
        """Register ``document`` as if from ``<repo>/catalog-info.yaml``; returns its ref."""
        target = f"{ORG}/{repo}/blob/main/catalog-info.yaml"
        entity = parse_entity(document)
        annotations = {
            "backstage.io/managed-by-location": f"url:{target}",
            "backstage.io/managed-by-origin-location": f"url:{target}",
            "backstage.io/source-location": f"url:{ORG}/{repo}/tree/main/",
            "backstage.io/view-url": target,
            **(document["metadata"].get("annotations") or {}),
        }
        metadata = {"namespace": "default", **document["metadata"], "annotations": annotations}
        with self._lock:
            self._store(entity.ref, {**document, "metadata": metadata}, entity.relations)
            self._store_location(target)
        return entity.ref

    def remove(self, ref: str) -> None:
        with self._lock:
            del self.entities[ref]
            del self._relations[ref]

    def _store(self, ref: str, document: dict[str, Any], relations: list[Any]) -> None:
        previous = self.entities.get(ref)
        uid = previous["metadata"]["uid"] if previous else str(uuid.uuid5(uuid.NAMESPACE_URL, ref))
        body = json.dumps(document, sort_keys=True)
        etag = hashlib.sha1(body.encode()).hexdigest()  # an etag, not security
        metadata = {**document["metadata"], "uid": uid, "etag": etag}
        self.entities[ref] = {**document, "metadata": metadata}
        self._relations[ref] = relations

    def _stitched(self, ref: str) -> list[dict[str, str]]:
        """Every relation with ``ref`` at one end, from its side, as the stitcher writes it:
        targets that no entity defines are kept."""
        found = []
        for relations in self._relations.values():
            for relation in relations:
                forward, inverse = RELATION_NAMES[relation.type]
                if relation.source == ref:
                    found.append({"type": forward, "targetRef": relation.target})
                elif relation.target == ref:
                    found.append({"type": inverse, "targetRef": relation.source})
        return sorted(found, key=lambda r: (r["type"], r["targetRef"]))

    def _store_location(self, target: str) -> None:
        name = "generated-" + hashlib.sha1(target.encode()).hexdigest()
        document = {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Location",
            "metadata": {
                "name": name,
                "namespace": "default",
                "annotations": {
                    "backstage.io/managed-by-location": "bootstrap:bootstrap",
                    "backstage.io/managed-by-origin-location": "bootstrap:bootstrap",
                },
            },
            "spec": {"type": "url", "target": target, "presence": "required"},
        }
        self._store(f"location:default/{name}", document, [])

    def page(self, limit: int, offset: int) -> dict[str, Any]:
        with self._lock:
            ordered = [self.entities[ref] for ref in sorted(self.entities)]
            items = [
                {**entity, "relations": self._stitched(self._ref(entity))}
                for entity in ordered[offset : offset + limit]
            ]
        info: dict[str, str] = {}
        if offset + limit < len(ordered):
            info["nextCursor"] = _cursor(offset + limit)
        if offset > 0:
            info["prevCursor"] = _cursor(max(offset - limit, 0))
        return {"items": items, "totalItems": len(ordered), "pageInfo": info}

    @staticmethod
    def _ref(entity: dict[str, Any]) -> str:
        metadata = entity["metadata"]
        return f"{entity['kind']}:{metadata['namespace']}/{metadata['name']}".lower()

    @contextlib.contextmanager
    def serve(self) -> Iterator[str]:
        """Serve on a free loopback port; yields the base URL."""
        server = _Server(("127.0.0.1", 0), _handler(self))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that gave up on a slow answer closed its end, as tests intend."""


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _handler(catalog: FakeBackstage) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read ``catalog.requests`` instead."""

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            url = urlparse(self.path)
            catalog.requests.append(self.path)
            if url.path != "/api/catalog/entities/by-query":
                return self._json(404, {"error": {"name": "NotFoundError", "message": "no"}})
            if self.headers.get("Authorization") != f"Bearer {catalog.token}":
                error = {"name": "AuthenticationError", "message": "Illegal token"}
                return self._json(401, {"error": error, "request": {"method": "GET"}})
            time.sleep(catalog.delay)
            query = parse_qs(url.query)
            limit = int(query.get("limit", ["20"])[0])
            cursor = query.get("cursor", [None])[0]
            offset = json.loads(base64.urlsafe_b64decode(cursor))["offset"] if cursor else 0
            number = offset // limit + 1
            if catalog.garbage is not None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(catalog.garbage)))
                self.end_headers()
                self.wfile.write(catalog.garbage)
                return None
            if catalog.drop_page == number:
                # Half a response, then the connection goes, as when the backend is killed.
                self.wfile.write(b'HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n{"items": [')
                self.wfile.flush()
                self.close_connection = True
                return None
            return self._json(200, catalog.page(limit, offset))

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
