"""CSV and XLSX files of a list, with formula injection neutralised.

A spreadsheet program runs a cell that starts with ``=``, ``+``, ``-`` or ``@``
(and, in some, a tab or carriage return) as a formula, so a title typed by an
applicant could run one on a manager's machine. Such text cells are written with
a leading apostrophe, which shows the text as typed and is never evaluated.
Numbers stay numbers (a negative amount is a number, not text). In XLSX, text
cells are also typed as strings explicitly, so nothing is ever stored as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def neutralise(value: str) -> str:
    """Text that a spreadsheet would read as a formula, made plain text."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def cell_text(value: Any) -> str:
    """A value as CSV text: ISO dates and times, exact decimals, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return str(value)
    return neutralise(str(value))


def write_csv(headings: Sequence[str], rows: Iterable[Sequence[Any]], out: IO[str]) -> int:
    """Write the rows as CSV (UTF-8 with a byte-order mark, for spreadsheet programs)."""
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in headings])
    count = 0
    for row in rows:
        writer.writerow([cell_text(v) for v in row])
        count += 1
    return count


def csv_bytes(headings: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    write_csv(headings, rows, buffer)
    return buffer.getvalue().encode("utf-8")


def _xlsx_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | Decimal | date):
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.replace(tzinfo=None)  # XLSX has no time zones: UTC wall time
        return value
    return neutralise(str(value))


def write_xlsx(
    headings: Sequence[str], rows: Iterable[Sequence[Any]], out: IO[bytes] | str,
    title: str = "Export",
) -> int:
    """Write the rows as an XLSX workbook of one sheet, streamed (write-only mode)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31] or "Export")

    def cells(values: Iterable[Any]) -> list[Any]:
        result = []
        for value in values:
            cell = WriteOnlyCell(sheet, value=_xlsx_value(value))
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the text
            result.append(cell)
        return result

    sheet.append(cells(headings))
    count = 0
    for row in rows:
        sheet.append(cells(row))
        count += 1
    workbook.save(out)
    return count


def xlsx_bytes(
    headings: Sequence[str], rows: Iterable[Sequence[Any]], title: str = "Export"
) -> bytes:
    buffer = io.BytesIO()
    write_xlsx(headings, rows, buffer, title)
    return buffer.getvalue()
