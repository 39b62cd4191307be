"""`accord export`, run as a real process: CSV on standard output or into a file that
appears only once complete; a bad filter or directory is one line, status 1, no file."""

import csv
import io
from pathlib import Path

import pytest

from tests.functional.test_cli import Cli, cli, printed, told

__all__ = ["cli"]


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_an_export_without_file_goes_to_standard_output(cli: Cli):
    result = cli.run("export", "PRODUCTS", "--headers", "codes")
    printed(result)
    found = rows(result.stdout)
    assert found[0][:3] == ["id", "product_name", "product_price"]
    assert [row[0] for row in found[1:]] == ["1", "2", "3", "4"]
    assert found[1][1:3] == ["Jira Software", "10"]


def test_an_export_into_a_file_with_a_filter_leaves_no_part_file(cli: Cli, tmp_path: Path):
    target = tmp_path / "atlassian.csv"
    assert cli("export", "products", str(target), "--filter", "product_vendor eq 'Atlassian'") == []
    found = rows(target.read_text(encoding="utf-8"))
    assert found[0][0] == "id"
    assert "product_name" not in found[0]
    assert [row[0] for row in found[1:]] == ["1", "2"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".part") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("NOPE",), "error: Directory not found: NOPE"),
        (("PRODUCTS", "--filter", "product_price eq"), "error: "),
        (("PRODUCTS", "--filter", "nope eq 1"), "error: "),
        (("PRODUCTS", "--headers", "labels"), "error: headers is names or codes"),
    ],
)
def test_a_bad_directory_filter_or_option_is_one_line_and_no_file(
    cli: Cli, tmp_path: Path, args: tuple[str, ...], message: str
):
    target = tmp_path / "out.csv"
    line = told(cli.run("export", *args[:1], str(target), *args[1:]))
    assert line.startswith(message), line
    assert not target.exists()
    assert not target.with_name("out.csv.part").exists()
