"""A camera's copy recorder: the stream's live HLS fragments, which nginx-rtmp has already
written to disk, joined into recording segments of about --segment-seconds.

    CAMFLEET_FRAGMENTS=DIR python -m node_agent.recording.collector --output PATTERN \\
        --segment-seconds S [--segment-seconds-from FILE] [--since T] [--playlist NAME]

(DIR is named by the stream key: it comes through the environment, which only the collector's
owner can read, not the arguments, which every local user can; `--fragments DIR` also works.)

node_agent.recording.recorder runs one per camera recording the `original` profile and reads
its stdout: a line `name,start,end` (wall-clock seconds) per closed segment, the shape of
ffmpeg's `-segment_list_type csv`. Fragments are whole MPEG-TS files cut on keyframes, so
joining them is a byte copy: nothing is demuxed or re-muxed. A segment is appended one whole
fragment at a time, so one cut short by kill -9 still plays; and since the fragments stay on
disk for a while, the next collector, started with --since where the last file ended, takes
up exactly where this one stopped. SIGTERM finishes the open segment and exits 0; an error
(a full disk) exits 1 with the reason as the last line on stderr.

The segment length changes live: with --segment-seconds-from, the number in that file (the
platform's setting, written by the agent) is read at start and whenever the file changes (one
stat per poll); the open segment closes once it reaches the new length, and the next ones have
it. Nothing restarts, so a change loses no media.

Stdlib only, so it starts in a few tens of milliseconds.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import time
from pathlib import Path
from typing import BinaryIO, TextIO

from node_agent.recording.fragments import (
    PLAYLIST,
    Fragment,
    cut_off,
    scan,
    scan_stamped,
    taken_from,
)

# The environment variable naming the fragments' directory.
FRAGMENTS_ENV = "CAMFLEET_FRAGMENTS"

# A fragment lasts about a second, and a recording need not be up to the second: once a
# second is soon enough, and each poll costs a wakeup.
POLL_S = 1.0
# A wall-clock step between fragments beyond this is a hole (the publisher stalled, or the
# camera's clock drifted from the wall's): the segment ends there and the next one starts at
# the wall time, so segment times never drift from the wall by more than this.
MAX_STEP_S = 1.0
# After SIGTERM, how long to wait for nginx to close the fragment it is writing (it does so
# at once when the publish ends, or at the next keyframe).
FINISH_WAIT_S = 2.0


def _mtime(path: Path) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return -1


def _copy(src: BinaryIO, target: BinaryIO) -> None:
    """Append `src` to `target` inside the kernel (copy_file_range), else through Python."""
    size = os.fstat(src.fileno()).st_size
    try:
        while size > 0:
            copied = os.copy_file_range(src.fileno(), target.fileno(), size)
            if copied == 0:
                break
            size -= copied
    except OSError as exc:
        # Across file systems on an old kernel, or a file system without it: copy by hand
        # from where the kernel stopped (the descriptors' offsets moved with what it did).
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP):
            raise
        while chunk := src.read(1 << 20):
            target.write(chunk)
        target.flush()  # before the next copy_file_range writes at the descriptor's offset


# The segment lengths a control file may set (as the agent's --segment-seconds).
SEGMENT_BOUNDS_S = (1.0, 3600.0)


class SegmentLength:
    """The segment length, from --segment-seconds and, when given, a file the agent rewrites
    when the platform's setting changes."""

    def __init__(self, segment_s: float, source: Path | None = None) -> None:
        self.seconds = segment_s
        self._source = source
        self._seen = -2

    def refresh(self) -> float:
        """The length now: the file's number when it changed and is usable."""
        if self._source is None:
            return self.seconds
        change = _mtime(self._source)
        if change == self._seen:
            return self.seconds
        self._seen = change
        try:
            value = float(self._source.read_text().strip())
        except (OSError, ValueError):
            return self.seconds  # none yet, or half-written: keep the length in force
        if SEGMENT_BOUNDS_S[0] <= value <= SEGMENT_BOUNDS_S[1]:
            self.seconds = value
        return self.seconds


class SegmentWriter:
    """Joins fragments into numbered segment files and announces each one it closes."""

    def __init__(self, pattern: str, segment_s: float, out: TextIO) -> None:
        self._pattern = pattern
        # Changed live (collect() refreshes it from the control file): applies from the
        # fragment after the change on.
        self.segment_s = segment_s
        self._out = out
        self._index = 0
        self._file: BinaryIO | None = None
        self._name = ""
        self._start = 0.0
        # The end of the last fragment taken, on the run's clock.
        self._clock: float | None = None

    def follows(self, fragment: Fragment) -> bool:
        """Whether `fragment` carries on from what this run took last (no hole between)."""
        return self._clock is None or abs(fragment.start - self._clock) <= MAX_STEP_S

    def add(self, fragment: Fragment) -> bool:
        """Append `fragment`; False if it is gone (nginx's cleanup got to it first)."""
        try:
            src = fragment.path.open("rb")
        except FileNotFoundError:
            return False
        with src:
            self._append(fragment, src)
        return True

    def _append(self, fragment: Fragment, src: BinaryIO) -> None:
        if self._clock is None or not self.follows(fragment):
            self.close()
            self._clock = fragment.start
        if self._file is None:
            path = Path(self._pattern % self._index)
            self._index += 1
            # Not O_APPEND: copy_file_range refuses it (EBADF).
            self._file = path.open("wb")
            self._name = path.name
            self._start = self._clock
        _copy(src, self._file)
        # Within a run the clock is the media's, so segments follow each other exactly and
        # each one's times add up to its duration.
        self._clock += fragment.duration
        # The file's mtime says where its media ends on the wall clock: if this collector dies
        # before the segment's line is printed, the recorder dates the partial file by it.
        os.utime(self._file.fileno(), (self._clock, self._clock))
        if self._clock - self._start >= self.segment_s - 1e-3:
            self.close()

    def close(self) -> None:
        """Close the open segment, if any, and print its line."""
        if self._file is None:
            return
        self._file.close()
        self._file = None
        print(f"{self._name},{self._start:.6f},{self._clock:.6f}", file=self._out, flush=True)


def collect(
    fragments: Path,
    writer: SegmentWriter,
    since: float,
    stopping: list[bool],
    idle_exit_s: float,
    *,
    length: SegmentLength | None = None,
    playlist: str = PLAYLIST,
) -> None:
    """Take fragments into `writer` until `stopping[0]` (then finish) or none came for
    `idle_exit_s` (the stream is gone); `length` sets the writer's segment length each poll.
    `playlist` other than nginx's: a ladder rung's, whose fragments are timed by its stamps."""
    last: float | None = None
    heard = time.monotonic()
    finish_by: float | None = None
    seen_change = -1
    writing: Path | None = None
    while True:
        if stopping[0] and finish_by is None:
            finish_by = time.monotonic() + FINISH_WAIT_S
        if length is not None:
            writer.segment_s = length.refresh()
        # nginx renames a new playlist into place each time it closes a fragment: while the
        # playlist stands still there is nothing new (one stat per poll). Before the first
        # playlist, the directory's own mtime says when files come and go.
        change = _mtime(fragments / playlist)
        if change < 0:
            change = _mtime(fragments)
        if change != seen_change:
            seen_change = change
            found = scan(fragments) if playlist == PLAYLIST else scan_stamped(fragments, playlist)
            writing = found.writing
            for fragment in taken_from(found.closed, since):
                if last is not None and fragment.start <= last:
                    continue
                if finish_by is not None and not writer.follows(fragment):
                    # Finishing takes only the media this run was in. After a hole, the
                    # fragments are a new publish of the same key (nginx restarted and the
                    # camera came back), which the camera's next recorder takes from its start.
                    writing = None
                    break
                if not writer.add(fragment):
                    continue
                last = fragment.start
                heard = time.monotonic()
        now = time.monotonic()
        if finish_by is not None and (writing is None or now >= finish_by):
            if writing is not None:
                _take_orphan(writer, writing, last)
            break
        if finish_by is None and now - heard > idle_exit_s:
            break
        time.sleep(POLL_S)
    writer.close()


def _take_orphan(writer: SegmentWriter, path: Path, last: float | None) -> None:
    """Finishing: take the fragment nginx was writing when it died (with the agent, or killed
    alone), which it will never close, up to its last packet: its mtime. Without it, every
    camera of the node lost up to a fragment (a second) before each such death (chaos soak)."""
    fragment = cut_off(path, time.time())
    if fragment is None:
        return  # nginx is still writing it
    if (last is None or fragment.start > last) and writer.follows(fragment):
        writer.add(fragment)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--fragments", type=Path, default=None, help=f"the stream's HLS dir [${FRAGMENTS_ENV}]"
    )
    parser.add_argument("--output", required=True, help="segment path with a %%05d counter")
    parser.add_argument("--segment-seconds", type=float, required=True)
    parser.add_argument(
        "--segment-seconds-from",
        type=Path,
        default=None,
        help="a file whose number, when present, is the segment length (re-read when changed)",
    )
    parser.add_argument("--since", type=float, default=0.0, help="wall time to start from")
    parser.add_argument("--idle-exit", type=float, default=30.0)
    parser.add_argument(
        "--playlist",
        default=PLAYLIST,
        help="the fragments' playlist: nginx's (default), or a ladder rung's (v1.m3u8)",
    )
    args = parser.parse_args(argv)
    fragments: Path | None = args.fragments
    if fragments is None and os.environ.get(FRAGMENTS_ENV):
        fragments = Path(os.environ[FRAGMENTS_ENV])
    if fragments is None:
        parser.error(f"--fragments or ${FRAGMENTS_ENV} is required")
    stopping = [False]

    def stop(_signum: int, _frame: object) -> None:
        stopping[0] = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    length = SegmentLength(args.segment_seconds, args.segment_seconds_from)
    writer = SegmentWriter(args.output, length.refresh(), sys.stdout)
    try:
        collect(
            fragments,
            writer,
            args.since,
            stopping,
            args.idle_exit,
            length=length,
            playlist=args.playlist,
        )
    except BrokenPipeError:
        return 1  # the agent is gone
    except OSError as exc:
        # The agent logs this line: the directory's name is the stream key.
        reason = str(exc).replace(str(fragments), "<fragments>")
        print(f"cannot record: {reason}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
