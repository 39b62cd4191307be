"""Dictionaries and their values."""

from accord.domain.errors import (
    Conflict,
    DictionaryValueExists,
    DictionaryValueNotFound,
    InvalidParameter,
    ParameterRequired,
)
from accord.domain.rights import GlobalRight
from accord.domain.schema import Dictionary
from accord.domain.text import has_invalid_characters, name_form
from accord.domain.users import Actor
from accord.domain.values import MAX_LABEL_LENGTH
from accord.services.entries import clear_dictionary_value
from accord.store import schema as schema_store
from accord.store.database import Transaction


def create_dictionary(tx: Transaction, name: str, labels: list[str], *, actor: Actor) -> Dictionary:
    """A new dictionary with the given values, in order (administrators only)."""
    actor.rights.require_admin()
    name = _checked_label(name, "name")
    if any(name_form(d.name) == name_form(name) for d in tx.schema.dictionaries):
        raise Conflict(f"Dictionary '{name}' already exists")
    dictionary_id = schema_store.insert_dictionary(tx.connection, name)
    tx.changed("schema")
    for label in labels:
        add_dictionary_value(tx, name, label, actor=actor)
    return tx.schema.dictionary(dictionary_id)


def add_dictionary_value(tx: Transaction, dictionary_name: str, label: str, *, actor: Actor) -> int:
    """Add a label at the end of a dictionary; return its id."""
    actor.rights.require(GlobalRight.DICTIONARY_ADD)
    dictionary = tx.schema.find_dictionary(dictionary_name)
    label = _checked_label(label, "newvalue")
    if dictionary.find_value(label, by_id=False) is not None:
        raise DictionaryValueExists(label, dictionary.name)
    value_id = schema_store.insert_dictionary_value(tx.connection, dictionary.id, label)
    tx.changed("schema")
    return value_id


def remove_dictionary_value(
    tx: Transaction, dictionary_name: str, label: str, *, actor: Actor
) -> None:
    """Remove a label from a dictionary; entries that held it lose it (with history)."""
    actor.rights.require(GlobalRight.DICTIONARY_REMOVE)
    dictionary = tx.schema.find_dictionary(dictionary_name)
    if not label.strip():
        raise ParameterRequired("valuetoremove")
    value = dictionary.find_value(label, by_id=False)
    if value is None:
        raise DictionaryValueNotFound(label, dictionary.name)
    clear_dictionary_value(tx, dictionary, value.id, actor=actor)
    schema_store.delete_dictionary_value(tx.connection, value.id)
    tx.changed("schema")


def _checked_label(label: str, parameter: str) -> str:
    text = label.strip()
    if not text:
        raise ParameterRequired(parameter)
    # Multi-valued fields list labels separated by commas, so a label holds none.
    if len(text) > MAX_LABEL_LENGTH or has_invalid_characters(text) or "," in text:
        raise InvalidParameter(parameter, label)
    return text
