"""Request limits decided before execution, each with a clear error and code.

Tokens are a parser option (Strawberry's ``MaxTokensLimiter``). Depth, aliases, a static cost
and a node estimate come from one walk of the operation with its fragments expanded, so an
alias or a level hidden in a fragment spread counts like any other (the bypass strawberry fixed
in 0.315.7). Strawberry's own depth and alias limiters are validation rules built anew per
request, which would defeat the validation cache; this walk runs on the cached document.
The cost follows GitHub's model: a field costs 1, a page of ``first: N`` multiplies what is
under it by N, and other lists by an assumed length.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import strawberry
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, SchemaExtension
from strawberry.types import ExecutionResult

from graph_api.settings import Limits

DEFAULT_PAGE = 20


class _Costing:
    """Static cost and node estimate of one operation."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        default_list_size: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.default_list_size = default_list_size
        self.nodes = 0
        self.aliases = 0
        self.depth = 0

    def _size(self, field: FieldNode, parent: Any, return_type: Any) -> tuple[int, bool]:
        """How many items the field may return, and whether it is a paged connection."""
        if field.name.value in ("edges", "nodes") and "pageInfo" in parent.fields:
            return 1, False  # the page's own size was counted at the connection field
        for argument in field.arguments or ():
            if argument.name.value in ("first", "last"):
                value = argument.value
                if isinstance(value, IntValueNode):
                    return max(int(value.value), 0), True
                if isinstance(value, VariableNode):
                    given = self.variables.get(value.name.value)
                    if isinstance(given, int):
                        return max(given, 0), True
                return DEFAULT_PAGE, True
        named = return_type
        while isinstance(named, GraphQLNonNull):
            named = named.of_type
        if isinstance(named, GraphQLList):
            return self.default_list_size, False
        if isinstance(named, GraphQLObjectType) and "edges" in named.fields:
            return DEFAULT_PAGE, True
        return 1, False

    def cost(
        self,
        selection_set: SelectionSetNode | None,
        parent: Any,
        multiplier: int,
        seen: frozenset[str],
        depth: int = 0,
    ) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field(selection, parent, multiplier, seen, depth + 1)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total += self.cost(selection.selection_set, target, multiplier, seen, depth)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue  # validation reports unknown and cyclic fragments
                target = self.schema.get_type(fragment.type_condition.name.value)
                total += self.cost(fragment.selection_set, target, multiplier, seen | {name}, depth)
        return total

    def _field(
        self, field: FieldNode, parent: Any, multiplier: int, seen: frozenset[str], depth: int
    ) -> int:
        self.depth = max(self.depth, depth)
        if field.alias is not None:
            self.aliases += 1
        definition = None
        if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            definition = parent.fields.get(field.name.value)
        if definition is None:
            return 1
        size, paged = self._size(field, parent, definition.type)
        if paged:
            self.nodes += multiplier * size
        named = definition.type
        while isinstance(named, GraphQLNonNull | GraphQLList):
            named = named.of_type
        return 1 + size * self.cost(field.selection_set, named, multiplier * size, seen, depth)


class QueryCostLimiter(SchemaExtension):
    """Rejects an operation over the depth, alias, cost or node limits."""

    def __init__(self, limits: Limits) -> None:
        super().__init__()
        self.limits = limits

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and not context.pre_execution_errors:
            error = self._check(document, context.variables or {}, context.operation_name)
            if error is not None:
                # Validation (or its cache) has not rejected the document; this answer wins.
                context.pre_execution_errors = [error]
        yield

    def _check(
        self, document: Any, variables: Mapping[str, Any], operation_name: str | None
    ) -> GraphQLError | None:
        schema: GraphQLSchema = self.execution_context.schema._schema
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        for operation in document.definitions:
            if not isinstance(operation, OperationDefinitionNode):
                continue
            if operation_name and (operation.name is None or operation.name.value != operation_name):
                continue
            root = schema.get_root_type(operation.operation)
            costing = _Costing(schema, fragments, variables, self.limits.default_list_size)
            cost = costing.cost(operation.selection_set, root, 1, frozenset())
            if costing.depth > self.limits.max_depth:
                return _limit_error(
                    f"query depth {costing.depth} exceeds the limit of {self.limits.max_depth}"
                )
            if costing.aliases > self.limits.max_aliases:
                return _limit_error(
                    f"query uses {costing.aliases} aliases, over the limit of "
                    f"{self.limits.max_aliases}"
                )
            if cost > self.limits.max_cost:
                return _limit_error(
                    f"query cost {cost} exceeds the limit of {self.limits.max_cost}; ask for "
                    "smaller pages (first:) or fewer nested lists"
                )
            if costing.nodes > self.limits.max_nodes:
                return _limit_error(
                    f"query may return {costing.nodes} nodes, over the limit of "
                    f"{self.limits.max_nodes}; ask for smaller pages (first:)"
                )
        return None


def _limit_error(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "QUERY_TOO_COMPLEX"})


def limit_extensions(limits: Limits, *, introspection: bool) -> list[Callable[[], SchemaExtension]]:
    """Fresh extension instances per request, in the order they should reject."""
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: QueryCostLimiter(limits),
    ]
    if not introspection:
        extensions.append(lambda: AddValidationRules([NoSchemaIntrospectionCustomRule]))
    return extensions


class LimitedSchema(strawberry.Schema):
    """A schema whose every execution is bounded in time."""

    def __init__(self, *args: Any, execution_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.execution_timeout = execution_timeout

    async def execute(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        try:
            return await asyncio.wait_for(super().execute(*args, **kwargs), self.execution_timeout)
        except TimeoutError:
            error = GraphQLError(
                f"query exceeded the execution timeout of {self.execution_timeout:g} s",
                extensions={"code": "TIMEOUT"},
            )
            return ExecutionResult(data=None, errors=[error])
