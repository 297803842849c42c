"""Small I/O edge shared by every module: atomic writes, JSON/JSONL readers, provenance facts.

    from maaza.io import write_text, write_json, read_json, git_commit
    write_json("results/x/metrics.json", metrics)   # temp file + rename, mode 0644, no stray temp

Every writer goes through a temp file in the target's folder and a rename, so a killed process
never leaves half a file; the temp file is removed on any failure, and the final file gets the
usual umask-based mode (mkstemp alone would leave 0600 files that other users cannot read).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class InputError(ValueError):
    """A bad input file: the message starts with `file:line:` and says what is wrong."""


def _umask_mode(base: int) -> int:
    mask = os.umask(0)
    os.umask(mask)
    return base & ~mask


@contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temp path beside `path`; on success it replaces `path` (mode 0666 & ~umask),
    on any error it is removed and `path` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, _umask_mode(0o666))
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> None:
    """Write `text` (UTF-8, '\\n' line ends) atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="\n")


def write_json(path: str | Path, obj: Any, indent: int | None = 2) -> None:
    write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def to_jsonl(records: Iterable[Mapping[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def write_jsonl(path: str | Path, records: Iterable[Mapping[str, Any]]) -> None:
    write_text(path, to_jsonl(records))


def write_dir(target: str | Path, build: Callable[[Path], None]) -> None:
    """Build a folder in a temp folder beside `target`, then swap it in: readers see the old
    folder or the new one, never half of one; the temp folder is removed on any failure."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    tmp.chmod(_umask_mode(0o777))
    old = target.parent / f".{target.name}-old-{os.getpid()}"
    try:
        build(tmp)
        for f in tmp.rglob("*"):  # libraries that save via their own temp files leave 0600
            if f.is_file() and not f.is_symlink():
                f.chmod(_umask_mode(0o666))
        if target.exists():
            target.rename(old)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def read_json(path: str | Path) -> Any:
    """Parse a JSON file; errors name the file (and line) instead of a bare traceback."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 ({err.reason} at byte {err.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{path}:{err.lineno}:{err.colno}: invalid JSON: {err.msg}") from None


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for every non-blank line; a bad line raises InputError
    naming `file:line:column`."""
    path = Path(path)
    with open(path, "rb") as f:
        for i, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise InputError(
                    f"{path}:{i}: not UTF-8 ({err.reason} at byte {err.start})"
                ) from None
            if not line.strip():
                continue
            try:  # without the line end, so a column past the end is named as such
                yield i, json.loads(line.rstrip("\r\n"))
            except json.JSONDecodeError as err:
                raise InputError(f"{path}:{i}:{err.colno}: invalid JSON: {err.msg}") from None


def read_jsonl(path: str | Path) -> list[Any]:
    return [value for _, value in iter_jsonl(path)]


# ----------------------------------------------------------------------------- example records
# The one checked reader of example files (training data, evaluation data, EdgeJSON imports):
# every line a JSON object with these keys of these JSON types.
EXAMPLE_KEYS: dict[str, tuple[type, str]] = {
    "id": (str, "string"),
    "schema_id": (str, "string"),
    "complexity": (str, "string"),
    "style": (str, "string"),
    "prompt": (str, "string"),
    "expected_output": (dict, "JSON object"),
}
REQUIRED_EXAMPLE_KEYS = ("schema_id", "prompt", "expected_output")
_JSON_NAMES = {dict: "a JSON object", list: "an array", str: "a string", bool: "a boolean",
               int: "a number", float: "a number", type(None): "null"}  # fmt: skip


def _json_type(value: Any) -> str:
    return _JSON_NAMES.get(type(value), type(value).__name__)


def check_example(
    obj: Any,
    where: str,
    schema_ids: Iterable[str] | None = None,
    *,
    require_id: bool = True,
    tiers: Iterable[str] | None = None,
) -> dict[str, Any]:
    """One parsed line -> the record, or InputError `where: what is wrong`: a JSON object with
    `schema_id`, `prompt` (non-empty string), `expected_output` (object), `id` (string; required
    unless require_id=False) and optional `complexity` (one of `tiers`) and `style` strings;
    `schema_id` one of `schema_ids` when given. Other keys are kept as they are."""
    if not isinstance(obj, dict):
        raise InputError(f"{where}: expected a JSON object, got {_json_type(obj)}")
    required = ("id", *REQUIRED_EXAMPLE_KEYS) if require_id else REQUIRED_EXAMPLE_KEYS
    missing = [k for k in required if k not in obj]
    if missing:
        keys = ", ".join(map(repr, missing))
        raise InputError(f"{where}: missing key{'s' if len(missing) > 1 else ''} {keys}")
    for key, (kind, name) in EXAMPLE_KEYS.items():
        if key in obj and not isinstance(obj[key], kind):
            raise InputError(f"{where}: {key!r} must be a {name}, got {_json_type(obj[key])}")
    if not obj["prompt"].strip():
        raise InputError(f"{where}: 'prompt' is empty")
    if schema_ids is not None:
        known = sorted(schema_ids)
        if obj["schema_id"] not in known:
            raise InputError(
                f"{where}: unknown schema {obj['schema_id']!r} (known: {', '.join(known)})"
            )
    if tiers is not None and "complexity" in obj and obj["complexity"] not in tuple(tiers):
        raise InputError(
            f"{where}: complexity must be one of {', '.join(tiers)}, got {obj['complexity']!r}"
        )
    return obj


def read_examples(
    path: str | Path,
    schema_ids: Iterable[str] | None = None,
    *,
    require_id: bool = True,
    tiers: Iterable[str] | None = None,
) -> list[tuple[int, dict[str, Any]]]:
    """(line number, record) of every example in a JSONL file, each checked by check_example;
    ids unique. Any problem raises InputError naming `file:line` (`file:line:column` for bad
    JSON, `file:line: not UTF-8` for bad bytes): the whole file is checked before any use."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a JSONL file")
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    ids = None if schema_ids is None else set(schema_ids)
    tiers = None if tiers is None else tuple(tiers)
    out: list[tuple[int, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    for lineno, obj in iter_jsonl(path):
        where = f"{path}:{lineno}"
        record = check_example(obj, where, ids, require_id=require_id, tiers=tiers)
        if "id" in record:
            if record["id"] in seen:
                raise InputError(
                    f"{where}: duplicate id {record['id']!r} (first on line {seen[record['id']]})"
                )
            seen[record["id"]] = lineno
        out.append((lineno, record))
    if not out:
        raise InputError(f"{path}: no records")
    return out


# ----------------------------------------------------------------------------- provenance
def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# What produces a result: a change here makes a result "-dirty". Results themselves are not in
# it, since DVC deletes a stage's outputs before running it (the tree is never clean then).
CODE_PATHS = (
    "src", "notebooks/*.ipynb", "benchmarks", "params.yaml", "dvc.yaml", "pyproject.toml",
    "requirements.lock",
)  # fmt: skip


def git_commit(cwd: str | Path | None = None) -> str | None:
    """HEAD's hash, with `-dirty` when code or config (CODE_PATHS) differ from it; None outside
    git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, cwd=cwd
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS],
            capture_output=True, text=True, cwd=cwd,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
