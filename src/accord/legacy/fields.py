"""Which request parameters carry field values, and for which fields (legacy-api.md §3.1).

A field is named four ways: `clients-<code>`, the bare code, the display name, or a
`crm_param_N` / `crm_param_N_value` pair. When one field is named more than once, the
most explicit form wins, in that order from last to first. A `view-clients-<code>`
display text is read only when nothing else names its field.
"""

import re

from accord.domain.errors import FieldNotFound, ParameterRequired
from accord.domain.schema import Directory, Field, Schema
from accord.domain.values import RawValue
from accord.legacy.params import Params

RESERVED = frozenset(
    {
        "apiKey",
        "userName",
        "command",
        "tableName",
        "id",
        "companyId",
        "companyName",
        "contactId",
        "contactName",
        "dictionaryName",
        "newvalue",
        "valuetoremove",
        "saleVal",
        "issueKey",
    }
)
PREFIX = "clients-"
VIEW_PREFIX = "view-"
_CRM_PARAM = re.compile(r"crm_param_(0|[1-9][0-9]{0,8})(_value)?")
"""A pair's name: N in ASCII digits without leading zeros, so no two names read as one N
(`crm_param_01` and `crm_param_1` were one pair, and one of them was dropped)."""
_CRM_PREFIX = "crm_param_"

# How explicit each way of naming a field is; the higher wins.
_BY_NAME, _BY_CODE, _BY_PAIR, _BY_PREFIX = range(4)


def crm_pairs(params: Params) -> list[tuple[str, str]]:
    """The `crm_param_N` (name, value) pairs, in numeric order of N; gaps allowed."""
    names: dict[int, str] = {}
    values: dict[int, str] = {}
    for name, value in params:
        match = _CRM_PARAM.fullmatch(name)
        if match:
            (values if match.group(2) else names)[int(match.group(1))] = value
    for n in values.keys() - names.keys():
        raise ParameterRequired(f"crm_param_{n}")
    return [(names[n], values.get(n, "")) for n in sorted(names)]


def search_pairs(params: Params) -> list[tuple[str, str]]:
    """The pairs of a search, refusing a name that looks like a pair's and is not one.

    `crm_param_2147483647`, `crm_param_+1`, `crm_param_١` or `CRM_PARAM_1` name no pair;
    a search that skipped them would widen to entries the condition excludes, up to
    every entry. Refused as a write refuses them: `Field not found: <name>`.
    """
    for name, _ in params:
        if name.casefold().startswith(_CRM_PREFIX) and not _CRM_PARAM.fullmatch(name):
            raise FieldNotFound(name)
    return crm_pairs(params)


def field_inputs(
    params: Params, schema: Schema, directory: Directory, *, reserved: frozenset[str] = RESERVED
) -> list[tuple[Field, RawValue]]:
    """The field values a write request carries; an unknown field name is an error."""
    chosen: dict[str, tuple[int, Field, RawValue]] = {}

    def offer(rank: int, field: Field, value: RawValue) -> None:
        if field.code not in chosen or chosen[field.code][0] < rank:
            chosen[field.code] = (rank, field, value)

    views: list[tuple[str, str]] = []
    for name, value in params:
        if name in reserved or _CRM_PARAM.fullmatch(name):
            continue
        if name.startswith(VIEW_PREFIX):
            if name.startswith(VIEW_PREFIX + PREFIX):  # other `view-*` names are reserved
                views.append((name[len(VIEW_PREFIX + PREFIX) :], value))
        elif name.startswith(PREFIX):
            offer(
                _BY_PREFIX, _by_code(schema, directory, name, name[len(PREFIX) :]), RawValue(value)
            )
        else:
            field = schema.field_by_code(directory, name)
            rank = _BY_CODE
            if field is None:
                field, rank = schema.find_field(directory, name), _BY_NAME
            offer(rank, field, RawValue(value))
    for name, value in crm_pairs(params):
        offer(_BY_PAIR, schema.find_field(directory, name), RawValue(value))
    for code, value in views:
        field = schema.field_by_code(directory, code)
        if field is not None and field.code not in chosen:
            chosen[field.code] = (-1, field, RawValue(value, display=True))
    return [(field, value) for _, field, value in chosen.values()]


def _by_code(schema: Schema, directory: Directory, parameter: str, code: str) -> Field:
    field = schema.field_by_code(directory, code)
    if field is None:
        raise FieldNotFound(parameter)
    return field
