import pytest

from accord.domain.errors import DictionaryNotFound, DirectoryNotFound, FieldNotFound
from accord.domain.schema import Directory, Schema
from tests.unit.fakes import COMPANIES, FIELDS, SCHEMA


@pytest.mark.parametrize("name", ["CLIENTS", "clients", "Companies", "COMPANIES", " companies "])
def test_directories_by_code_display_name_or_alias(name: str) -> None:
    assert SCHEMA.find_directory(name) == COMPANIES


def test_a_code_wins_over_another_directorys_display_name() -> None:
    # Directories made before codes and names were kept apart: "Deals" is the name of
    # TASKS and the code of another. The code always reaches its own directory.
    tasks = Directory(7, "TASKS", "Deals", "name")
    deals = Directory(8, "DEALS", "Opportunities", "name")
    schema = Schema(1, (tasks, deals), (), ())
    assert schema.find_directory("DEALS") == schema.find_directory("deals") == deals
    assert schema.find_directory("Opportunities") == deals
    assert schema.find_directory("TASKS") == tasks


def test_unknown_directory() -> None:
    with pytest.raises(DirectoryNotFound, match="Directory not found: Planets"):
        SCHEMA.find_directory("Planets")


@pytest.mark.parametrize(
    "name", ["org_name", "ORG_NAME", "Company name", "company  NAME", "Сompany name"]
)
def test_fields_by_code_or_display_name(name: str) -> None:
    assert SCHEMA.find_field(COMPANIES, name) == FIELDS["org_name"]


def test_unknown_field_names_what_was_asked() -> None:
    with pytest.raises(FieldNotFound, match="Field not found: Colour"):
        SCHEMA.find_field(COMPANIES, "Colour")


def test_dictionaries_and_labels() -> None:
    industry = SCHEMA.find_dictionary("industry")
    assert industry.find_value("RETAIL") is not None
    assert industry.find_value("10") is not None
    assert industry.find_value("10", by_id=False) is None
    assert SCHEMA.label(20) == "Development"
    with pytest.raises(DictionaryNotFound):
        SCHEMA.find_dictionary("Colors")


def test_fields_come_in_display_order_and_link_targets_are_known() -> None:
    positions = [f.position for f in SCHEMA.fields_of(COMPANIES)]
    assert positions == sorted(positions)
    assert {f.code for f in SCHEMA.link_fields_to(COMPANIES)} == {
        "contact_company",
        "clients_field_p",
    }
