"""CSV cells: RFC 4180 quoting, and the guard against spreadsheet formulas."""

import pytest

from accord.services.exports import csv_bytes, guarded


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+2", "'=1+2"),
        ("+cmd", "'+cmd"),
        ("-x", "'-x"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("-12.5", "-12.5"),
        ("+7", "+7"),
        ("a=b", "a=b"),
        ("'=kept", "'=kept"),
        ("", ""),
    ],
)
def test_a_cell_a_spreadsheet_reads_as_a_formula_is_prefixed(cell: str, written: str):
    assert guarded(cell) == written


def test_rows_are_rfc_4180_lines_in_utf_8():
    rows = [["id", "Name"], ["1", 'a "b", c\nЁ'], ["2", "=x"]]
    assert csv_bytes(rows, guard=True) == 'id,Name\r\n1,"a ""b"", c\nЁ"\r\n2,\'=x\r\n'.encode()
    assert csv_bytes(rows[2:], guard=False) == b"2,=x\r\n"
