"""maaza.io: files and folders appear whole, with the permissions of a normal write, or not at all."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from maaza import io


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _normal(base: int) -> int:
    mask = os.umask(0)
    os.umask(mask)
    return base & ~mask


def test_write_text_has_normal_permissions_and_no_temp_left(tmp_path: Path) -> None:
    io.write_text(tmp_path / "a.txt", "x")
    assert _mode(tmp_path / "a.txt") == _normal(0o666)
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_write_dir_gives_files_saved_via_private_temp_files_normal_permissions(
    tmp_path: Path,
) -> None:
    def build(folder: Path) -> None:  # as safetensors' save_file does: a 0600 temp file renamed
        (folder / "sub").mkdir()
        for name in ("w.safetensors", "sub/config.json"):
            (folder / name).write_text("{}")
            (folder / name).chmod(0o600)

    io.write_dir(tmp_path / "adapter", build)
    assert _mode(tmp_path / "adapter") == _normal(0o777)
    for name in ("w.safetensors", "sub/config.json"):
        assert _mode(tmp_path / "adapter" / name) == _normal(0o666)


def test_write_dir_failure_keeps_the_old_folder_and_leaves_no_temp(tmp_path: Path) -> None:
    io.write_dir(tmp_path / "out", lambda f: (f / "old.txt").write_text("old"))

    def broken(folder: Path) -> None:
        (folder / "half.txt").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        io.write_dir(tmp_path / "out", broken)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["old.txt"]
