"""Fixtures of the federation tests: devgraph peers served on 127.0.0.1, and a hub's store."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from _peers import Instance, instance_settings, prepare_store
from _server import serve_app

from graph_api.app import create_app
from graph_api.store.embedded import EmbeddedStore


@pytest.fixture
def devgraph(tmp_path: Path) -> Iterator[Callable[..., Instance]]:
    """Start devgraph instances: ``devgraph(name, descriptors)`` serves a new one in a thread."""
    with contextlib.ExitStack() as stack:

        def start(name: str, descriptors: list[dict[str, Any]], **settings: Any) -> Instance:
            path = tmp_path / name
            # Its own loop in its own thread: async tests call this from inside theirs.
            with ThreadPoolExecutor(1) as pool:
                viewer, admin = pool.submit(asyncio.run, prepare_store(path, descriptors)).result()
            app = create_app(EmbeddedStore(path), instance_settings(path, **settings))
            base = stack.enter_context(serve_app(app))
            return Instance(name, base, path, viewer, admin)

        yield start


@pytest.fixture
def hub(embedded: EmbeddedStore) -> EmbeddedStore:
    """The hub's own store (open, empty): the suite's embedded store, by the name tests use."""
    return embedded
