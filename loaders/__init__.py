"""Loaders: fill the graph from sources of truth."""
