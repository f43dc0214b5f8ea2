"""Where segment files live. A tier maps a segment's path relative to its root to a real file,
takes files in durably and removes them. Hot is the node's data directory, warm a second
directory (e.g. a mounted share); an object-storage cold tier implements the same protocol."""

from __future__ import annotations

import contextlib
import enum
import os
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol


class StorageTier(enum.IntEnum):
    """Which tier a segment's file is in.

    Numbered as camfleet.v1's StorageTier on purpose: the segment index
    (node_agent.recording.index) stores these numbers, as agents before this enum stored the
    wire's, so an index written by an earlier agent reads back as the same members. Never
    renumber a member (node_agent.recording.wire maps to the wire by name, not by number).
    """

    HOT = 1  # the node's data directory
    WARM = 2  # a second directory (e.g. a mounted share)
    COLD = 3  # object storage (node_agent.recording.cold; not a Tier: no local path)


class UnsafePath(ValueError):
    """A relative segment path that would leave its tier's root."""


def safe_relative(relative: str) -> PurePosixPath:
    """`relative` as a path that stays under a root (no `..`, not absolute); UnsafePath if not."""
    path = PurePosixPath(relative)
    if not relative or path.is_absolute() or any(p in ("..", "") for p in path.parts):
        raise UnsafePath(f"not a path inside a tier: {relative!r}")
    return path


class Tier(Protocol):
    """One storage tier of segment files."""

    @property
    def tier(self) -> StorageTier:
        """Which tier it is."""
        ...

    def path_for(self, relative: str) -> Path:
        """Where the file with this relative path is (or would be) readable now."""
        ...

    def store(self, source: Path, relative: str) -> Path:
        """Copy `source` in under `relative`, durably (synced) before returning its path; the
        source is left alone."""
        ...

    def remove(self, relative: str) -> None:
        """Delete the file (a file already gone is not an error)."""
        ...

    def files(self) -> list[str]:
        """Relative paths of every segment file in the tier."""
        ...

    def discard_incomplete(self) -> None:
        """Remove what an interrupted store() left behind."""
        ...

    def free_bytes(self) -> int:
        """Space left for new files."""
        ...


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class DirectoryTier:
    """A tier that is a local directory (hot: the data directory's recordings; warm: a share)."""

    root: Path
    tier: StorageTier = StorageTier.HOT
    # Segment files end in these; anything else in the directory is not ours.
    suffixes: tuple[str, ...] = (".ts", ".mp4")

    def path_for(self, relative: str) -> Path:
        """Where `relative` is under the root."""
        return self.root.joinpath(*safe_relative(relative).parts)

    def store(self, source: Path, relative: str) -> Path:
        """Copy to a temporary name, fsync, rename into place, fsync the directory."""
        target = self.path_for(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.partial")
        try:
            with source.open("rb") as src, tmp.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        _fsync_dir(target.parent)
        return target

    def remove(self, relative: str) -> None:
        """Unlink the file and prune its now-empty directories (never the root)."""
        path = self.path_for(relative)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        parent = path.parent
        while parent != self.root and self.root in parent.parents:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def files(self) -> list[str]:
        """Every segment file under the root (temporary copies excluded), relative, sorted."""
        if not self.root.is_dir():
            return []
        found = [
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.suffix in self.suffixes and not p.name.startswith(".") and p.is_file()
        ]
        return sorted(found)

    def discard_incomplete(self) -> None:
        """Delete temporary copies left by a store() that a crash interrupted."""
        if self.root.is_dir():
            for leftover in self.root.rglob(".*.partial"):
                with contextlib.suppress(OSError):
                    leftover.unlink()

    def free_bytes(self) -> int:
        """Bytes available to this process on the root's filesystem."""
        self.root.mkdir(parents=True, exist_ok=True)
        return shutil.disk_usage(self.root).free


def node_tiers(data_root: Path, warm_dir: Path | None) -> dict[StorageTier, Tier]:
    """The tiers of a node: hot under its data directory, warm where --warm-dir says."""
    tiers: dict[StorageTier, Tier] = {StorageTier.HOT: DirectoryTier(data_root / "recordings")}
    if warm_dir is not None:
        tiers[StorageTier.WARM] = DirectoryTier(warm_dir, StorageTier.WARM)
    return tiers
