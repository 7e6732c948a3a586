"""devgraph: the command line and the demo estate generator."""

__all__: list[str] = []
