"""Request limits, each decided before execution and rejected with a clear message and code.

Tokens are a parser option (Strawberry's ``MaxTokensLimiter``) and introspection a validation
rule. Depth, aliases, a static cost and a node estimate come from one walk of the operation,
once the document is valid and with the request's variables. The walk measures each fragment
once, wherever it is spread: an alias or a level hidden in a (nested or inline) fragment counts
like any other, and a document that spreads each fragment twice into the next is measured in
linear time. Strawberry's ``QueryDepthLimiter`` and ``MaxAliasesLimiter`` walk every spread
anew, which is exponential in such a document (20 doubled fragments: 4 s of validation on the
event loop, where no timeout can interrupt it), so they are not used.

The cost follows GitHub's model: a field costs 1, a page of ``first: N`` (or ``last: N``)
multiplies the cost of what is under it by N, and other lists by an assumed length. The node
estimate sums, over every paged field, the product of the sizes along its path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import (
    DocumentNode,
    ExecutionResult as GraphQLExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    TypeNameMetaFieldDef,
    get_named_type,
    get_operation_ast,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, SchemaExtension
from strawberry.types import ExecutionResult

from graph_api.settings import Limits

DEFAULT_PAGE = 20
QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
INTROSPECTION_DISABLED = "GRAPHQL_VALIDATION_FAILED"  # what Apollo Server answers, too
TIMEOUT = "TIMEOUT"

_META_FIELDS = {
    "__schema": SchemaMetaFieldDef,
    "__type": TypeMetaFieldDef,
    "__typename": TypeNameMetaFieldDef,
}


@dataclass(frozen=True, slots=True)
class QueryMeasure:
    """The static figures of an operation (or of part of one) that the limits bound."""

    depth: int = 0
    aliases: int = 0
    cost: int = 0
    nodes: int = 0

    def beside(self, other: QueryMeasure) -> QueryMeasure:
        """This and ``other`` selected side by side in one selection set."""
        return QueryMeasure(
            depth=max(self.depth, other.depth),
            aliases=self.aliases + other.aliases,
            cost=self.cost + other.cost,
            nodes=self.nodes + other.nodes,
        )


def measure_operation(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any],
    default_list_size: int,
) -> QueryMeasure | None:
    """The figures of the operation that would execute, given a valid ``document``.

    None when there is nothing to measure: no such operation, or variables that do not coerce
    (execution reports those without resolving anything).
    """
    operation = get_operation_ast(document, operation_name)
    root = schema.get_root_type(operation.operation) if operation else None
    if operation is None or root is None:
        return None
    coerced = get_variable_values(schema, operation.variable_definitions or (), dict(variables))
    if isinstance(coerced, list):
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return _Walk(schema, fragments, coerced, default_list_size).selections(
        operation.selection_set, root
    )


def _is_connection(type_: GraphQLNamedType | None) -> bool:
    return isinstance(type_, GraphQLObjectType) and {"edges", "pageInfo"} <= type_.fields.keys()


class _Walk:
    """Measures selection sets; each fragment is measured once and remembered."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: VariableValues,
        default_list_size: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.default_list_size = default_list_size
        self.measured: dict[str, QueryMeasure] = {}

    def selections(self, selection_set: SelectionSetNode, parent: GraphQLNamedType) -> QueryMeasure:
        total = QueryMeasure()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                part = self.field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                assert target is not None  # validation rejects unknown types
                part = self.selections(selection.selection_set, target)
            else:
                part = self.fragment(selection.name.value)
            total = total.beside(part)
        return total

    def fragment(self, name: str) -> QueryMeasure:
        if name not in self.measured:
            # Validation rejects cycles before the walk; were one to slip through, it adds nothing.
            self.measured[name] = QueryMeasure()
            definition = self.fragments[name]
            target = self.schema.get_type(definition.type_condition.name.value)
            assert target is not None  # validation rejects unknown types
            self.measured[name] = self.selections(definition.selection_set, target)
        return self.measured[name]

    def field(self, node: FieldNode, parent: GraphQLNamedType) -> QueryMeasure:
        alias = 0 if node.alias is None else 1
        meta = _META_FIELDS.get(node.name.value)
        if meta is not None:
            # Introspection answers from the schema, never the catalog, and graphql-core's
            # MaxIntrospectionDepthRule bounds its nesting; only its aliases multiply work.
            return QueryMeasure(depth=1, aliases=alias + self._inner(node, meta).aliases, cost=1)
        assert isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)  # validated
        definition = parent.fields[node.name.value]
        size, paged = self._size(node, definition, parent)
        inner = self._inner(node, definition)
        return QueryMeasure(
            depth=1 + inner.depth,
            aliases=alias + inner.aliases,
            cost=1 + size * inner.cost,
            nodes=(size if paged else 0) + size * inner.nodes,
        )

    def _inner(self, node: FieldNode, definition: GraphQLField) -> QueryMeasure:
        if node.selection_set is None:
            return QueryMeasure()
        return self.selections(node.selection_set, get_named_type(definition.type))

    def _size(
        self, node: FieldNode, definition: GraphQLField, parent: GraphQLNamedType
    ) -> tuple[int, bool]:
        """How many items the field may return, and whether that is a requested page."""
        if node.name.value in ("edges", "nodes") and _is_connection(parent):
            return 1, False  # the page's size was counted at the connection field
        paging = "first" in definition.args or "last" in definition.args
        if paging or _is_connection(get_named_type(definition.type)):
            arguments = get_argument_values(definition, node, self.variables)
            given = arguments.get("first", arguments.get("last"))
            return (DEFAULT_PAGE if given is None else max(given, 0)), True
        returned = definition.type
        if isinstance(returned, GraphQLNonNull):
            returned = returned.of_type
        if isinstance(returned, GraphQLList):
            return self.default_list_size, False
        return 1, False


def _too_complex(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": QUERY_TOO_COMPLEX})


class QueryComplexityLimiter(SchemaExtension):
    """Rejects an operation over the depth, alias, cost or node limits before it executes."""

    def __init__(self, limits: Limits) -> None:
        super().__init__()
        self.limits = limits

    def on_execute(self) -> Iterator[None]:
        errors = self._errors()
        if errors:
            # Strawberry executes only when no extension has set a result already.
            self.execution_context.result = GraphQLExecutionResult(data=None, errors=errors)
        yield

    def _errors(self) -> list[GraphQLError]:
        context = self.execution_context
        assert context.graphql_document is not None  # executing means parsed and valid
        measure = measure_operation(
            context.schema._schema,
            context.graphql_document,
            context.operation_name,
            context.variables or {},
            self.limits.default_list_size,
        )
        if measure is None:
            return []
        limits = self.limits
        errors = []
        if measure.depth > limits.max_depth:
            errors.append(
                _too_complex(f"query depth {measure.depth} exceeds the limit of {limits.max_depth}")
            )
        if measure.aliases > limits.max_aliases:
            errors.append(
                _too_complex(
                    f"query uses {measure.aliases} aliases, over the limit of {limits.max_aliases}"
                )
            )
        if measure.cost > limits.max_cost:
            errors.append(
                _too_complex(
                    f"query cost {measure.cost} exceeds the limit of {limits.max_cost}; ask for "
                    "smaller pages (first:) or fewer nested lists"
                )
            )
        if measure.nodes > limits.max_nodes:
            errors.append(
                _too_complex(
                    f"query may return {measure.nodes} nodes, over the limit of "
                    f"{limits.max_nodes}; ask for smaller pages (first:)"
                )
            )
        return errors


class _NoIntrospection(NoSchemaIntrospectionCustomRule):
    """graphql-core's rule, with a code on its errors."""

    def report_error(self, error: GraphQLError) -> None:
        error.extensions = {**error.extensions, "code": INTROSPECTION_DISABLED}
        super().report_error(error)


def limit_extensions(limits: Limits, *, introspection: bool) -> list[Callable[[], SchemaExtension]]:
    """Factories of the limit extensions: a fresh instance for every request."""
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: QueryComplexityLimiter(limits),
    ]
    if not introspection:
        # The same rule class on every request, so the validation cache keeps hitting.
        extensions.append(lambda: AddValidationRules([_NoIntrospection]))
    return extensions


class LimitedSchema(strawberry.Schema):
    """A schema whose executions are bounded in time and whose limit errors carry codes."""

    def __init__(self, *args: Any, limits: Limits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        # graphql-core's parser raises this as a plain syntax error; the code tells clients why.
        self._too_many_tokens = (
            f"Syntax Error: Document contains more than {limits.max_tokens} tokens."
            " Parsing aborted."
        )

    async def execute(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        timeout = self.limits.execution_timeout_s
        try:
            result = await asyncio.wait_for(super().execute(*args, **kwargs), timeout)
        except TimeoutError:
            error = GraphQLError(
                f"query exceeded the execution timeout of {timeout:g} s",
                extensions={"code": TIMEOUT},
            )
            return ExecutionResult(data=None, errors=[error])
        for error in result.errors or ():
            if error.message == self._too_many_tokens:
                error.extensions = {**error.extensions, "code": QUERY_TOO_COMPLEX}
        return result
