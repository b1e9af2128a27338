"""Reading a CSV file's bytes into raw records (encoding, delimiter, header).

Nothing is checked here but the file's shape.
"""
from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

from khforecast.observations.records import (
    _CONTROL_RE,
    _REQUIRED,
    INPUT_COLUMNS,
    _column_index,
    _Loc,
    _Raw,
    _Record,
    _Sink,
    _text,
)


# --------------------------------------------------------------------------------------------
# reading files into raw records
# --------------------------------------------------------------------------------------------
def _load_bytes(path: Path, sink: _Sink) -> bytes | None:
    """The file's bytes, or None with a problem when it cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        sink.add(None, "an existing file", "no such file")
    except IsADirectoryError:
        sink.add(None, "a file", "a directory")
    except OSError as exc:
        sink.add(None, "a readable file", exc.strerror or type(exc).__name__)
    except ValueError as exc:  # e.g. a NUL character in the name
        sink.add(None, "a valid file name", str(exc))
    return None


def _decode(data: bytes, sink: _Sink, *, per_row_controls: bool = False) -> str | None:
    """Decode CSV bytes: UTF-8 (BOM tolerated), UTF-16/32 with BOM, UTF-16 without BOM.

    A control character refuses the whole file (naming its line) unless ``per_row_controls``,
    when the caller reports it on the row that holds it."""
    boms = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
            (b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
    encoding, body = None, data
    for bom, enc in boms:
        if data.startswith(bom):
            encoding, body = enc, data[len(bom):]
            break
    if encoding is None and b"\x00" in data:
        odd, even = data[1::2], data[0::2]
        if len(data) % 2 == 0 and odd.count(0) > 0.3 * len(odd) and even.count(0) == 0:
            encoding = "utf-16-le"
        elif len(data) % 2 == 0 and even.count(0) > 0.3 * len(even) and odd.count(0) == 0:
            encoding = "utf-16-be"
        elif len(_BINARY_RE.findall(data[:8192])) > max(3, 0.01 * min(len(data), 8192)):
            sink.add(None, "a CSV text file", "binary data (NUL bytes)")
            return None
    try:
        text = body.decode(encoding or "utf-8")
    except UnicodeDecodeError as exc:
        if encoding is None:
            line = body[: exc.start].count(b"\n") + 1
            sink.add(_Loc(line, None), "UTF-8 text",
                     f"the byte 0x{body[exc.start]:02x}, which is not UTF-8",
                     hint="save it from Excel as 'CSV UTF-8', or re-encode a Windows-1258 file")
        else:
            sink.add(None, f"{encoding} text, as its byte-order mark says",
                     f"bytes that are not {encoding}")
        return None
    bad = None if per_row_controls else _CONTROL_RE.search(text)
    if bad:
        line = text[: bad.start()].count("\n") + 1
        sink.add(_Loc(line, None), "a CSV text file",
                 f"binary data (control character U+{ord(bad.group()):04X})")
        return None
    return text


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` with their ends (``\\r\\n``, ``\\n`` or ``\\r``, as universal
    newlines), one at a time: a file of 2 million rows is never split into a list."""
    for m in _LINE_RE.finditer(text):
        if m.group():
            yield m.group()


_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|$)")


_BINARY_RE = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f]")


def _pick_delimiter(header_line: str) -> str:
    """The delimiter that splits the header into the most known column names."""
    best, best_key = ",", (-1, -1)
    for delim in (",", ";", "\t"):
        try:
            names = next(csv.reader([header_line], delimiter=delim), [])
        except csv.Error:  # a stray line break in the header: the main reader reports it
            names = header_line.split(delim)
        known = sum(n.strip().lower() in INPUT_COLUMNS for n in names)
        key = (known, header_line.count(delim))
        if key > best_key:
            best, best_key = delim, key
    return best


def _header(names: list[object], locs: list[_Loc], sink: _Sink, require_source: bool
            ) -> dict[str, int] | None:
    """Map known column names to positions; report missing/duplicate/unknown columns."""
    index = _column_index(names, locs, sink, INPUT_COLUMNS)
    required = _REQUIRED + (("source",) if require_source else ())
    missing = [c for c in required if c not in index]
    found = ", ".join(repr(_text(n)) for n in names if _text(n)) or "no column names"
    first = locs[0] if locs else _Loc(1, None)
    for col in missing:
        sink.add(_Loc(first.row, col, None, first.sheet), f"a column '{col}'",
                 f"the columns {found}")
    return None if missing else index


def _read_csv(data: bytes, sink: _Sink, require_source: bool) -> Iterator[_Record]:
    """Raw records of a CSV/TSV file (any of the handled encodings and delimiters), one at a
    time. Every line is either yielded in a record or named in a problem: a quote that is
    never closed, or that runs over lines that look like rows of their own, is an error
    naming the lines it swallowed; a control character is an error on its row."""
    text = _decode(data, sink, per_row_controls=True)
    del data  # only the text is kept while reading
    if text is None:
        return
    if not text.strip():
        sink.add(None, "a CSV with a header row (indicator_id, year, value, ...)",
                 "an empty file")
        return
    first_line = next(line for line in _lines(text) if line.strip())
    delimiter = _pick_delimiter(first_line)
    reader = csv.reader(_lines(text), delimiter=delimiter, strict=True)
    index: dict[str, int] | None = None
    header: list[str] = []
    prev = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            first, prev = prev + 1, reader.line_num
            if "end of data" in str(exc):
                sink.add(_Loc(first, None), "a closing quote (\") for the quote opened in this "
                         "row", f"none before the end of the file: rows {first}-{prev} were "
                         "not read", hint="close the quote, or remove it")
            else:
                sink.add(_Loc(first, None), "a well-formed CSV line", f"a CSV error ({exc})",
                         hint="a quoted value must be followed by the separator; double a "
                              "quote inside a quoted value (\"\")")
            continue
        line, prev = prev + 1, reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if index is None:
            header = fields
            index = _header(fields, [_Loc(line, _text(f) or None) for f in fields], sink,
                            require_source)
            if index is None:
                return
            continue
        if prev > line and _swallows_rows(fields, delimiter, len(header)):
            sink.add(_Loc(line, None), "a quoted value that ends in its own row",
                     f"a quote that runs over rows {line}-{prev}, which look like rows of "
                     "their own", hint="close the quote where the value ends")
            continue
        if len(fields) > len(header):
            sink.add(_Loc(line, None), f"{len(header)} fields, as in the header",
                     f"{len(fields)} fields",
                     hint="a value with an unquoted ',' (like 3,5) splits in two: quote it, "
                          "or separate fields with ';'" if delimiter == "," else
                     f"a value holding the separator {delimiter!r}? quote it")
            continue
        bad = next(((i, m) for i, f in enumerate(fields) if (m := _CONTROL_RE.search(f))), None)
        if bad is not None:
            i, m = bad
            name = _text(header[i]) if i < len(header) else None
            sink.add(_Loc(line, name or None), "text without control characters",
                     f"the control character U+{ord(m.group()):04X}"
                     + (" (a NUL byte)" if m.group() == "\x00" else ""),
                     hint="binary data pasted into the file? remove it")
            continue
        yield {name: _Raw(fields[i] if i < len(fields) else "", _Loc(line, name))
               for name, i in index.items()}
    if index is None:
        sink.add(None, "a CSV with a header row (indicator_id, year, value, ...)",
                 "an empty file")


def _swallows_rows(fields: list[str], delimiter: str, width: int) -> bool:
    """True when a multi-line value holds a line with as many separators as a row has: an
    unclosed quote that swallowed the rows after it (a real note seldom looks like that)."""
    need = max(width - 2, 1)
    return any(part.count(delimiter) >= need for f in fields if "\n" in f
               for part in f.splitlines()[1:])
