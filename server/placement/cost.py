"""What a camera costs a node in CPU cores, from its live ladder (server/common/ladder.py), by a
table measured here with bench/bench_ladder.py (bench/README.md, "bench_ladder.py"; 720p25 input,
x264 veryfast, per camera kept in real time):

    nginx-rtmp's own ingest and HLS          0.008 cores
    the `source` rung (a copy)               0.007 cores
    source + 360p (the default ladder)       0.164 cores  (so a 360p rung ~0.16; the issue
                                                           measured 0.18 at 720p30)
    720p + 360p both encoded                 0.637 cores  (so a 720p rung ~0.48)

An encoded rung of another height is priced through those two points: 0.16 x (height/360)^1.6
gives 0.16 at 360p and 0.48 at 720p (x264's cost grows a little slower than the pixel count).
Placement reserves the cost of every rung whether or not anyone watches (a ladder runs while it
is fetched): a node must hold its cameras' ladders when the whole grid is opened at once.

The source's own size is not known when placing (a 1080p camera's 360p rung also decodes 1080p),
so these are the 720p figures; CPU_HEADROOM leaves room for that and for the agent itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from server.common.ladder import SOURCE, rung_height

# Per camera, whatever its ladder: nginx-rtmp's ingest and its HLS fragments.
INGEST_CORES = 0.008
# The `source` rung: the stream copied into the ladder's ffmpeg (no decode, no encode).
COPY_CORES = 0.007
# An encoded 360p rung, and the exponent that prices other heights from it (fits 720p's 0.48).
RUNG_360P_CORES = 0.16
_HEIGHT_EXPONENT = 1.6
# The share of a node's cores placement may fill; the rest is the agent, its recorders'
# collectors, WebRTC viewers and sources larger than the table's 720p.
CPU_HEADROOM = 0.9


def rung_cores(rung: str) -> float:
    """Cores one rung of a ladder costs (a rung that is not one costs nothing: the agent skips
    it)."""
    if rung == SOURCE:
        return COPY_CORES
    height = rung_height(rung)
    if not height:
        return 0.0
    return RUNG_360P_CORES * float((height / 360) ** _HEIGHT_EXPONENT)


def ladder_cores(rungs: Sequence[str]) -> float:
    """Cores a camera with live ladder `rungs` costs its node (ingest included)."""
    return INGEST_CORES + sum(rung_cores(r) for r in rungs)


def usable_cores(cpu_cores: float) -> float:
    """Of a node's `cpu_cores`, what placement may fill with cameras (0: no core limit)."""
    return cpu_cores * CPU_HEADROOM if cpu_cores > 0 else 0.0
