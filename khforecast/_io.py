"""Atomic writes, hashing and params files: an output is the old good file or the new complete one.

Also where user params files are found (``params/`` in the working folder or the source tree)
and read as one YAML mapping, with one-line errors naming the file.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import yaml

from khforecast.errors import ParamsError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["CSV_FLOAT_FORMAT", "atomic_write", "atomic_write_bytes", "atomic_write_csv",
           "atomic_write_text", "find_params_file", "read_yaml_mapping", "sha256_file"]

#: floats in every CSV the package writes: 10 significant digits, so files are stable across runs
CSV_FLOAT_FORMAT = "%.10g"


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it over ``path`` only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


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
    """Write ``frame`` as CSV (no index, ``\\n`` line ends, :data:`CSV_FLOAT_FORMAT`) atomically."""
    atomic_write_text(path, frame.to_csv(index=False, float_format=CSV_FLOAT_FORMAT,
                                         lineterminator="\n"))


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
    ``ParamsError`` naming the file (and the line, for bad YAML). ``what`` names the file's kind."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(f"{path}: no such {what} file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParamsError(f"{path}: cannot read the {what} file: {exc}") from None
    try:
        data = yaml.safe_load(text)
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
