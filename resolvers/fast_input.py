"""Bulk mutation inputs as plain records, without building Strawberry input objects.

The ingestion layer validates plain dicts keyed by GraphQL field names. For a typed argument
Strawberry builds an input object per record (``convert_argument``, which walks the value and
the type together, field by field) that :func:`resolvers.records.as_record` then takes apart
again: about 0.6 ms per survey response of four answers, three times the cost of storing it.

:func:`raw_input` makes a stand-in for an input type: the same GraphQL type (its name, fields,
defaults and description come from the original definition, so the SDL does not change) whose
values Strawberry hands over through the ``from_input`` hook of its type definition. That
hook is a converter compiled once per type from graphql-core's coerced value:

- graphql-core has already validated and coerced the value, for variables and for literals
  alike (types, required fields, enum names, the DateTime scalar's ``parse_value``), so
  nothing is checked twice and nothing is checked less;
- enum values become their string values (graphql-core gives Strawberry's enum members);
- a field the client left out stays absent (its default is UNSET), an explicit null is None;
- nested input objects become dicts the same way; lists are copied.

The record is the one ``as_record`` makes of the Strawberry object, key for key (see
``tests/integration/api/test_fast_input.py``). A type this converter cannot reproduce exactly
(``Maybe`` fields, ``GlobalID``, OneOf inputs, inputs with their own ``from_input``) is refused
when :func:`raw_input` is called, at import time, rather than converted differently.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.relay import GlobalID
from strawberry.schema.config import StrawberryConfig
from strawberry.types.arguments import InputContext
from strawberry.types.base import (
    StrawberryList,
    StrawberryMaybe,
    StrawberryObjectDefinition,
    StrawberryOptional,
    get_object_definition,
    has_object_definition,
)
from strawberry.types.enum import StrawberryEnumDefinition, has_enum_definition
from strawberry.types.field import StrawberryField
from strawberry.types.lazy_type import LazyType
from strawberry.types.unset import UNSET

from schema.inputs import CustomerInput, SurveyResponseInput, TouchpointInput

Record = dict[str, Any]
Convert = Callable[[Any], Any]
FieldName = Callable[[StrawberryField], str]
# One field of an input object: its GraphQL name, how to convert a non-null value (None: keep
# it as it is), and whether an absent value becomes None (a nullable field with no default,
# as Strawberry's own conversion does).
FieldPlan = tuple[str, Convert | None, bool]


class UnsupportedInput(TypeError):
    """An input type whose plain record could differ from ``as_record``'s."""


def _enum_value(member: Enum) -> Any:
    return member.value


def _converter(
    type_: Any, field_name: FieldName, where: str, within: tuple[str, ...] = ()
) -> Convert | None:
    """How to turn graphql-core's coerced value of ``type_`` into the plain record value;
    None when it already is one (a scalar). ``within``: the input types around this one."""
    if isinstance(type_, LazyType):
        type_ = type_.resolve_type()
    if isinstance(type_, StrawberryMaybe):
        raise UnsupportedInput(f"{where}: Maybe fields are not supported")
    if isinstance(type_, StrawberryOptional):
        return _converter(type_.of_type, field_name, where, within)
    if isinstance(type_, StrawberryList):
        item = _converter(type_.of_type, field_name, where, within)
        if item is None:
            return list
        convert_item = item

        def convert_list(values: Any) -> list[Any]:
            return [v if v is None else convert_item(v) for v in values]

        return convert_list
    if isinstance(type_, StrawberryEnumDefinition) or has_enum_definition(type_):
        return _enum_value
    if has_object_definition(type_):
        return _object_converter(type_.__strawberry_definition__, field_name, where, within)
    if type_ is GlobalID:
        raise UnsupportedInput(f"{where}: GlobalID is converted by Strawberry")
    return None


def _object_converter(
    definition: StrawberryObjectDefinition,
    field_name: FieldName,
    where: str,
    within: tuple[str, ...] = (),
) -> Convert:
    if definition.name in within:
        raise UnsupportedInput(f"{where}: recursive input {definition.name} is not supported")
    if not definition.is_input:
        raise UnsupportedInput(f"{where}: {definition.name} is not an input type")
    if definition.is_one_of:
        raise UnsupportedInput(f"{where}: OneOf input {definition.name} is not supported")
    if definition.from_input is not None:
        raise UnsupportedInput(f"{where}: {definition.name} builds its own value")
    plan: list[FieldPlan] = []
    for field in definition.fields:
        field_type = field.resolve_type(type_definition=definition)
        where = f"{definition.name}.{field.python_name}"
        convert = _converter(field_type, field_name, where, (*within, definition.name))
        implicit_none = (
            field.default_value is dataclasses.MISSING
            and field.default_factory is dataclasses.MISSING
        )
        plan.append((field_name(field), convert, implicit_none))
    fields = tuple(plan)

    def convert_object(value: Mapping[str, Any]) -> Record:
        record: Record = {}
        for name, convert, implicit_none in fields:
            if name in value:
                item = value[name]
                if item is UNSET:
                    continue
                record[name] = item if convert is None or item is None else convert(item)
            elif implicit_none:
                record[name] = None
        return record

    return convert_object


class _FromInput:
    """The ``from_input`` hook of a stand-in type: converts like the original ``definition``,
    compiled for the schema's name converter on first use (one schema, one compilation)."""

    def __init__(self, definition: StrawberryObjectDefinition) -> None:
        self.definition = definition
        self.config: StrawberryConfig | None = None
        self.convert: Convert | None = None
        self.compile(StrawberryConfig())  # refuse an unsupported type now, not per request

    def compile(self, config: StrawberryConfig) -> Convert:
        convert = _object_converter(
            self.definition, config.name_converter.from_field, self.definition.name
        )
        self.config, self.convert = config, convert
        return convert

    def __call__(self, cls: type, value: Mapping[str, Any], context: InputContext) -> Any:
        convert = self.convert
        if context.config is not self.config or convert is None:
            convert = self.compile(context.config)
        return convert(value)


def raw_input(cls: type) -> type:
    """A stand-in for the input type ``cls``: the same GraphQL input type, whose values reach
    resolvers as plain records (dicts keyed by GraphQL field names) instead of instances.

    Use it as an argument's ``graphql_type`` (see :data:`CustomerRecords`). The schema must not
    also use ``cls`` itself: two definitions of one name fail the schema build.
    """
    definition = get_object_definition(cls, strict=True)
    stand_in = type(cls.__name__, (), {"__module__": cls.__module__, "__doc__": cls.__doc__})
    raw_definition = dataclasses.replace(
        definition,
        origin=stand_in,
        fields=list(definition.fields),
        from_input=_FromInput(definition),
    )
    stand_in.__strawberry_definition__ = raw_definition  # type: ignore[attr-defined]
    return stand_in


def list_of_records(cls: type) -> Any:
    """``graphql_type`` of a ``[XInput!]!`` argument whose records arrive as plain dicts."""
    return list.__class_getitem__(raw_input(cls))


# Argument annotations of the bulk mutations: `[XInput!]!` in the schema, list[dict] in Python.
CustomerRecords = Annotated[
    list[Record], strawberry.argument(graphql_type=list_of_records(CustomerInput))
]
TouchpointRecords = Annotated[
    list[Record], strawberry.argument(graphql_type=list_of_records(TouchpointInput))
]
SurveyResponseRecords = Annotated[
    list[Record], strawberry.argument(graphql_type=list_of_records(SurveyResponseInput))
]
