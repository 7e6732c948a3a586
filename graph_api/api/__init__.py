"""The GraphQL API: types, resolvers, per-request loaders."""
