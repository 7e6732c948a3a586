"""devgraph graph API: model, stores, GraphQL schema and the Starlette app."""
