"""Atomic writes, hashing, params files and the guards on what the package reads and writes.

An output is either the old good file or the new complete one; a failed write raises an
``OSError`` naming the output (never the temporary file). Text cells a spreadsheet would run as
a formula are neutralised in every CSV written here (:func:`spreadsheet_safe`). User params
files are found (``params/`` in the working folder or the source tree) and read as one YAML
mapping with aliases refused and a size limit (:func:`load_yaml`), with one-line errors naming
the file.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import yaml

from khforecast.errors import ParamsError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["CSV_FLOAT_FORMAT", "YAML_MAX_BYTES", "YamlLimitError", "atomic_write",
           "atomic_write_all", "atomic_write_bytes", "atomic_write_csv", "atomic_write_text",
           "csv_text", "find_params_file",
           "load_yaml", "make_parent", "read_yaml_mapping", "safe_frame", "sha256_file",
           "shown", "spreadsheet_safe"]

#: floats in every CSV the package writes: 10 significant digits, so files are stable across runs
CSV_FLOAT_FORMAT = "%.10g"
#: the largest params/scenarios YAML read (hand-written files are a few KB)
YAML_MAX_BYTES = 1 << 20


def make_parent(target: Path) -> None:
    """Create ``target``'s folder; a file in the way is an ``OSError`` naming that file."""
    parent = target.parent
    for p in (parent, *parent.parents):
        if p.exists() or p.is_symlink():
            if not p.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, "is a file, not a directory", str(p))
            break
    parent.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def _temp_beside(target: Path, mode: str, **kwargs: Any) -> Iterator[tuple[IO, str]]:
    """A temporary file in ``target``'s folder, on disk (fsync) when the block ends; removed,
    and the error located at ``target``, when the block fails."""
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a file", str(target))
    make_parent(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _located(exc, target) from exc
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh, tmp
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise _located(exc, target) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it over ``path`` only if the block succeeds.

    Raises ``OSError`` with ``filename`` the target when the folder cannot be made, the target
    is a directory, or writing fails (a full disk, no permission); the target is then unchanged.
    """
    target = Path(path)
    with _temp_beside(target, mode, **kwargs) as (fh, tmp):
        yield fh
    _replace(tmp, target)


def _replace(tmp: str, target: Path) -> None:
    """Rename ``tmp`` over ``target`` (``tmp`` removed and the error located if that fails)."""
    try:
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise _located(exc, target) from exc


def atomic_write_all(files: Mapping[str | os.PathLike[str], str], encoding: str = "utf-8"
                     ) -> None:
    """Write several text files as one output: afterwards every file is the new one or, when
    any write or rename fails, every file is as it was (the error names the failing file).

    Each text goes to a temporary file beside its target first (a full disk fails there,
    before any target changes); each existing target is kept as a hard link (a copy where the
    file system has none); then the temporary files are renamed over the targets, and if one
    rename fails the targets already replaced are put back. Only a crash of the process
    between two renames (microseconds) could leave a mix.
    """
    staged: list[tuple[Path, str]] = []
    kept: list[tuple[Path, str | None]] = []  # target, its previous version (None: was absent)
    replaced: list[Path] = []
    try:
        for path, text in files.items():
            target = Path(path)
            with _temp_beside(target, "w", encoding=encoding, newline="") as (fh, tmp):
                fh.write(text)
            staged.append((target, tmp))
        for target, _ in staged:
            kept.append((target, _keep(target)))
        for target, tmp in staged:
            _replace(tmp, target)
            replaced.append(target)
    except BaseException:
        for target, previous in reversed(kept):
            if target in replaced:
                with contextlib.suppress(OSError):
                    if previous is None:
                        os.unlink(target)
                    else:
                        os.replace(previous, target)
        raise
    finally:
        for _, tmp in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)  # left only when something failed
        for _, previous in kept:
            if previous is not None:
                with contextlib.suppress(OSError):
                    os.unlink(previous)  # a previous version put back is no longer here


def _keep(target: Path) -> str | None:
    """A second name for ``target``'s current file (``None`` when there is none), so that it
    can be put back: a hard link, or a copy where the file system has no hard links."""
    if not (target.exists() or target.is_symlink()):
        return None
    keep = target.with_name(f".{target.name}.{secrets.token_hex(4)}.previous")
    try:
        try:
            os.link(target, keep, follow_symlinks=False)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
                raise
            shutil.copy2(target, keep, follow_symlinks=False)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(keep)
        raise _located(exc, target) from exc
    return str(keep)


def _located(exc: OSError, target: Path) -> OSError:
    """The same error with the output's name (not the temporary file's) as its filename."""
    out = type(exc)(exc.errno, exc.strerror or str(exc), str(target))
    return out


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_write(path, "w", encoding=encoding, newline="") as fh:
        fh.write(text)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def atomic_write_csv(path: str | os.PathLike[str], frame: pd.DataFrame) -> None:
    """Write ``frame`` as CSV (:func:`csv_text`) atomically."""
    atomic_write_text(path, csv_text(frame))


def csv_text(frame: pd.DataFrame) -> str:
    """``frame`` as the package writes every CSV: no index, ``\\n`` line ends,
    :data:`CSV_FLOAT_FORMAT`, its text cells made :func:`spreadsheet_safe`."""
    return safe_frame(frame).to_csv(index=False, float_format=CSV_FLOAT_FORMAT,
                                    lineterminator="\n")


_FORMULA_START = ("=", "@", "+", "-", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """``text`` as a spreadsheet shows it, never run as a formula (OWASP "CSV injection").

    A cell starting with ``=``, ``@``, ``+``, ``-``, a tab or a carriage return gets a leading
    ``'``; plain numbers (``-3.5``) and a lone ``-`` or ``+`` are left as they are.

    >>> print(spreadsheet_safe('=HYPERLINK("x")'), spreadsheet_safe("-3.5"), spreadsheet_safe("ok"))
    '=HYPERLINK("x") -3.5 ok
    """
    if not text.startswith(_FORMULA_START) or text in ("-", "+"):
        return text
    if text[0] in "+-":
        try:
            float(text)
            return text
        except ValueError:
            pass
    return "'" + text


def _safe_cell(value: object) -> object:
    """A text cell :func:`spreadsheet_safe`, its carriage returns written as line breaks (the
    CSV writer quotes a cell holding ``\\n`` but not one holding a bare ``\\r``, which every
    reader takes for the end of the row)."""
    if not isinstance(value, str):
        return value
    return spreadsheet_safe(value).replace("\r\n", "\n").replace("\r", "\n")


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell made safe to open in a spreadsheet (:func:`_safe_cell`);
    a copy only when a cell changes."""
    from pandas.api.types import is_string_dtype

    out = frame
    for col in frame.columns:
        series = frame[col]
        if series.dtype != object and not is_string_dtype(series.dtype):
            continue
        risky = series.map(lambda v: isinstance(v, str) and (v.startswith(_FORMULA_START)
                                                             or "\r" in v))
        if risky.any():
            if out is frame:
                out = frame.copy()
            out[col] = series.map(_safe_cell)
    return out


class YamlLimitError(ValueError):
    """Raised by :func:`load_yaml` for YAML it refuses; the message says what and where."""


def _no_alias_loader() -> type:
    """A ``yaml.SafeLoader`` that refuses aliases (``*name``: the billion-laughs expansion) and
    reads dates as text (each reader checks its own dates and names the key)."""
    import yaml

    class Loader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise YamlLimitError(f"line {event.start_mark.line + 1}: expected plain values, "
                                     "found an alias (*name); aliases are not allowed")
            return super().compose_node(parent, index)

    Loader.yaml_implicit_resolvers = {
        k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    return Loader


def load_yaml(text: str) -> Any:
    """Parse YAML text with aliases refused, dates read as text and a size limit.

    Raises :class:`YamlLimitError` (too large, an alias) or ``yaml.YAMLError`` (not YAML).

    >>> load_yaml("run_date: 2025-13-45")
    {'run_date': '2025-13-45'}
    """
    import yaml

    if len(text) > YAML_MAX_BYTES:
        raise YamlLimitError(f"expected a params file of at most {YAML_MAX_BYTES // 1024} KB, "
                             f"found one larger than that ({len(text) // 1024} KB)")
    try:
        return yaml.load(text, Loader=_no_alias_loader())  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise YamlLimitError("expected YAML nested a few levels deep, found it nested too "
                             "deeply to read") from None


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def find_params_file(name: str) -> Path | None:
    """``params/<name>`` in the working directory or in the source tree, or ``None`` if neither."""
    for candidate in (Path.cwd() / "params" / name,
                      Path(__file__).resolve().parents[1] / "params" / name):
        if candidate.is_file():
            return candidate
    return None


def read_yaml_mapping(path: Path, what: str = "params") -> dict[str, Any]:
    """Read a params YAML file as a mapping (``{}`` when empty); every failure is a one-line
    ``ParamsError`` naming the file (and the line, for bad YAML). ``what`` names the file's kind.

    Aliases are refused and the size is limited (:func:`load_yaml`); dates are read as text,
    so each key checks its own date and names itself."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(YAML_MAX_BYTES + 1)
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ParamsError(f"{path}: no such {what} file") from None
    except IsADirectoryError:
        raise ParamsError(f"{path}: expected a {what} file, found a directory") from None
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ParamsError(f"{path} line {line}: expected UTF-8 text, found the byte "
                          f"0x{raw[exc.start]:02x}") from None
    except OSError as exc:
        raise ParamsError(f"{path}: cannot read the {what} file: "
                          f"{exc.strerror or exc}") from None
    try:
        data = load_yaml(text)
    except YamlLimitError as exc:
        raise ParamsError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ParamsError(f"{path}{where}: expected valid YAML, found {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping of keys to values, "
                          f"found a {type(data).__name__}")
    return data


def shown(value: object, width: int = 60) -> str:
    """``repr(value)`` cut to ``width`` characters, for messages."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."
