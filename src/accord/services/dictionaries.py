"""Dictionaries and their values."""

from sqlalchemy.exc import IntegrityError

from accord.domain.errors import (
    Conflict,
    DictionaryNotFound,
    DictionaryValueExists,
    DictionaryValueNotFound,
    InvalidParameter,
    ParameterRequired,
)
from accord.domain.rights import GlobalRight
from accord.domain.schema import Dictionary, DictionaryValue
from accord.domain.text import fold, has_invalid_characters, name_form
from accord.domain.users import Actor
from accord.domain.values import MAX_LABEL_LENGTH
from accord.services.entries import clear_dictionary_value
from accord.store import schema as schema_store
from accord.store.database import CacheKind, Transaction


def create_dictionary(tx: Transaction, name: str, labels: list[str], *, actor: Actor) -> Dictionary:
    """A new dictionary with the given values, in order (administrators only)."""
    actor.rights.require_admin()
    name = _checked_label(name, "name")
    if len(name_form(name)) > MAX_LABEL_LENGTH:  # stored folded too, and "ß" folds to "ss"
        raise InvalidParameter("name", name)
    if any(name_form(d.name) == name_form(name) for d in tx.schema.dictionaries):
        raise Conflict(f"Dictionary '{name}' already exists")
    try:
        dictionary_id = schema_store.insert_dictionary(tx.connection, name)
    except IntegrityError as error:  # another transaction created it since the check
        raise Conflict(f"Dictionary '{name}' already exists") from error
    schema_store.insert_dictionary_values(tx.connection, dictionary_id, _distinct(name, labels))
    tx.changed(CacheKind.SCHEMA)
    return tx.schema.dictionary(dictionary_id)


def _distinct(dictionary_name: str, labels: list[str]) -> list[str]:
    """The labels checked, refused if one is there twice (case-insensitively)."""
    checked = [_checked_label(label, "values") for label in labels]
    seen: set[str] = set()
    for label in checked:
        if fold(label) in seen:
            raise DictionaryValueExists(label, dictionary_name)
        seen.add(fold(label))
    return checked


def get_dictionary(tx: Transaction, dictionary_id: int) -> Dictionary:
    """The dictionary with this id; DictionaryNotFound if there is none."""
    found = next((d for d in tx.schema.dictionaries if d.id == dictionary_id), None)
    if found is None:
        raise DictionaryNotFound(str(dictionary_id))
    return found


def add_dictionary_value(tx: Transaction, dictionary_name: str, label: str, *, actor: Actor) -> int:
    """Add a label at the end of a dictionary; return its id."""
    actor.rights.require(GlobalRight.DICTIONARY_ADD)
    return _add(tx, _named(tx, dictionary_name), label, "newvalue")


def _named(tx: Transaction, dictionary_name: str) -> Dictionary:
    """The dictionary a name names (a blank one is a missing `dictionaryName`: the
    by-name functions serve the legacy API, whose parameter it is)."""
    if not dictionary_name.strip():
        raise ParameterRequired("dictionaryName")
    return tx.schema.find_dictionary(dictionary_name)


def add_value(tx: Transaction, dictionary_id: int, label: str, *, actor: Actor) -> DictionaryValue:
    """Add a label at the end of the dictionary with this id; return the new value."""
    actor.rights.require(GlobalRight.DICTIONARY_ADD)
    value_id = _add(tx, get_dictionary(tx, dictionary_id), label, "label")
    return next(v for v in get_dictionary(tx, dictionary_id).values if v.id == value_id)


def _add(tx: Transaction, dictionary: Dictionary, label: str, parameter: str) -> int:
    label = _checked_label(label, parameter)
    if dictionary.find_value(label, by_id=False) is not None:
        raise DictionaryValueExists(label, dictionary.name)
    try:
        value_id = schema_store.insert_dictionary_value(tx.connection, dictionary.id, label)
    except IntegrityError as error:  # another transaction added it since the check
        raise DictionaryValueExists(label, dictionary.name) from error
    tx.changed(CacheKind.SCHEMA)
    return value_id


def remove_dictionary_value(
    tx: Transaction, dictionary_name: str, label: str, *, actor: Actor
) -> None:
    """Remove a label from a dictionary; entries that held it lose it (with history)."""
    actor.rights.require(GlobalRight.DICTIONARY_REMOVE)
    dictionary = _named(tx, dictionary_name)
    if not label.strip():
        raise ParameterRequired("valuetoremove")
    value = dictionary.find_value(label, by_id=False)
    if value is None:
        raise DictionaryValueNotFound(label, dictionary.name)
    _remove(tx, dictionary, value, actor)


def remove_value(tx: Transaction, dictionary_id: int, value_id: int, *, actor: Actor) -> None:
    """Remove a value, by id, from the dictionary with this id; entries that held it lose
    it (with history)."""
    actor.rights.require(GlobalRight.DICTIONARY_REMOVE)
    dictionary = get_dictionary(tx, dictionary_id)
    value = next((v for v in dictionary.values if v.id == value_id), None)
    if value is None:
        raise DictionaryValueNotFound(str(value_id), dictionary.name)
    _remove(tx, dictionary, value, actor)


def _remove(tx: Transaction, dictionary: Dictionary, value: DictionaryValue, actor: Actor) -> None:
    clear_dictionary_value(tx, dictionary, value.id, actor=actor)
    schema_store.delete_dictionary_value(tx.connection, value.id)
    tx.changed(CacheKind.SCHEMA)


def _checked_label(label: str, parameter: str) -> str:
    text = label.strip()
    if not text:
        raise ParameterRequired(parameter)
    # Multi-valued fields list labels separated by commas, so a label holds none.
    if len(text) > MAX_LABEL_LENGTH or has_invalid_characters(text) or "," in text:
        raise InvalidParameter(parameter, label)
    return text
