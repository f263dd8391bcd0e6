"""The SQLite file and its companions hold tokens and personal data: only the owner reads them."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bot.storage import SqliteDatabase


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_new_database_is_private_in_a_private_folder(tmp_path: Path) -> None:
    path = tmp_path / "data" / "bot.sqlite3"
    saved = os.umask(0o022)  # the usual umask, which would make them 0644 and 0755
    try:
        async with SqliteDatabase(path) as db:
            async with db.transaction() as conn:
                await conn.execute("CREATE TABLE probe (x INTEGER)")
            wal = path.with_name(path.name + "-wal")
            shm = path.with_name(path.name + "-shm")
            assert wal.exists()
            assert shm.exists()
            assert _mode(path) == 0o600
            assert _mode(wal) == 0o600
            assert _mode(shm) == 0o600
            assert _mode(path.parent) == 0o700
    finally:
        os.umask(saved)


async def test_files_left_readable_by_an_older_version_are_tightened(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    async with SqliteDatabase(path):
        pass
    path.chmod(0o644)
    leftover = path.with_name(path.name + "-wal")
    leftover.touch(mode=0o644)
    leftover.chmod(0o644)
    async with SqliteDatabase(path):
        assert _mode(path) == 0o600
        assert _mode(leftover) == 0o600


@pytest.mark.parametrize("umask", [0o000, 0o022])
async def test_modes_do_not_depend_on_the_umask(tmp_path: Path, umask: int) -> None:
    path = tmp_path / f"u{umask:o}" / "bot.sqlite3"
    saved = os.umask(umask)
    try:
        async with SqliteDatabase(path) as db:
            async with db.transaction() as conn:
                await conn.execute("CREATE TABLE probe (x INTEGER)")
            assert _mode(path.with_name(path.name + "-wal")) == 0o600
            assert _mode(path) == 0o600
    finally:
        os.umask(saved)
