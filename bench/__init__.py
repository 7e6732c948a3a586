"""devgraph benchmarks: ``python -m bench --size N`` (see ``bench/__main__.py``)."""
