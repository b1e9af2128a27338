"""Reading a CSV file's bytes into raw records (encoding, delimiter, header).

Nothing is checked here but the file's shape.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from khforecast.observations.records import (
    _CONTROL_RE,
    _REQUIRED,
    INPUT_COLUMNS,
    _Loc,
    _Raw,
    _Record,
    _show,
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


def _decode(data: bytes, sink: _Sink) -> str | None:
    """Decode CSV bytes: UTF-8 (BOM tolerated), UTF-16/32 with BOM, UTF-16 without BOM."""
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
        else:
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
    bad = _CONTROL_RE.search(text)
    if bad:
        line = text[: bad.start()].count("\n") + 1
        sink.add(_Loc(line, None), "a CSV text file",
                 f"binary data (control character U+{ord(bad.group()):04X})")
        return None
    return text


def _pick_delimiter(header_line: str) -> str:
    """The delimiter that splits the header into the most known column names."""
    best, best_key = ",", (-1, -1)
    for delim in (",", ";", "\t"):
        names = next(csv.reader([header_line], delimiter=delim), [])
        known = sum(n.strip().lower() in INPUT_COLUMNS for n in names)
        key = (known, header_line.count(delim))
        if key > best_key:
            best, best_key = delim, key
    return best


def _header(names: list[object], locs: list[_Loc], sink: _Sink, require_source: bool
            ) -> dict[str, int] | None:
    """Map known column names to positions; report missing/duplicate/unknown columns."""
    known = INPUT_COLUMNS
    index: dict[str, int] = {}
    for i, (name, loc) in enumerate(zip(names, locs, strict=True)):
        key = _text(name).lower().lstrip("\ufeff")
        if key in index:
            sink.add(loc, "each column once", f"a second column '{key}'")
        elif key in known:
            index[key] = i
        else:
            sink.add(loc, "a known column (" + ", ".join(known) + ")",
                     f"the column {_show(name)}" if key else "a column without a name",
                     severity="warning", hint="it is ignored")
    required = _REQUIRED + (("source",) if require_source else ())
    missing = [c for c in required if c not in index]
    found = ", ".join(repr(_text(n)) for n in names if _text(n)) or "no column names"
    first = locs[0] if locs else _Loc(1, None)
    for col in missing:
        sink.add(_Loc(first.row, col, None, first.sheet), f"a column '{col}'",
                 f"the columns {found}")
    return None if missing else index


def _read_csv(data: bytes, sink: _Sink, require_source: bool) -> list[_Record]:
    """Raw records of a CSV/TSV file (any of the handled encodings and delimiters)."""
    text = _decode(data, sink)
    if text is None:
        return []
    if not text.strip():
        sink.add(None, "a CSV with a header row (indicator_id, year, value, ...)",
                 "an empty file")
        return []
    first_line = next(line for line in text.splitlines() if line.strip())
    delimiter = _pick_delimiter(first_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    records: list[_Record] = []
    index: dict[str, int] | None = None
    header: list[str] = []
    prev = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            sink.add(_Loc(prev + 1, None), "a well-formed CSV line", f"a CSV error ({exc})")
            return records
        line, prev = prev + 1, reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if index is None:
            header = fields
            index = _header(fields, [_Loc(line, _text(f) or None) for f in fields], sink,
                            require_source)
            if index is None:
                return []
            continue
        if len(fields) > len(header):
            sink.add(_Loc(line, None), f"{len(header)} fields, as in the header",
                     f"{len(fields)} fields",
                     hint="a value with an unquoted ',' (like 3,5) splits in two: quote it, "
                          "or separate fields with ';'" if delimiter == "," else
                     f"a value holding the separator {delimiter!r}? quote it")
            continue
        records.append({name: _Raw(fields[i] if i < len(fields) else "", _Loc(line, name))
                        for name, i in index.items()})
    if index is None:
        sink.add(None, "a CSV with a header row (indicator_id, year, value, ...)",
                 "an empty file")
    return records
