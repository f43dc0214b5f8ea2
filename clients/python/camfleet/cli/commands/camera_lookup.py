"""Finding cameras: a person's reference (id or name) to an id, and every camera of a filter
(paged). Shared by the camera commands and any command that names a camera."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from camfleet.cli.errors import CliError, ExitCode
from camfleet.cli.parsing import quote

if TYPE_CHECKING:  # the API's messages are imported where a camera is looked up
    from camfleet.v1 import camera_pb2

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
PAGE_SIZE = 1000


def list_all(
    s: Any, filter_text: str, limit: int, *, search: str = "", order_by: str = "name"
) -> tuple[list[camera_pb2.Camera], int]:
    """Up to `limit` cameras matching `filter_text`, and how many match in all."""
    from camfleet.v1 import camera_pb2, camera_pb2_grpc

    stub = s.stub(camera_pb2_grpc.CameraServiceStub)
    found: list[camera_pb2.Camera] = []
    token, total = "", 0
    while len(found) < limit:
        resp = s.call(
            stub.ListCameras,
            camera_pb2.ListCamerasRequest(
                filter=filter_text,
                search=search,
                order_by=order_by,
                page_size=min(PAGE_SIZE, limit - len(found)),
                page_token=token,
            ),
        )
        found.extend(resp.cameras)
        total = max(resp.total_size, len(found))
        token = resp.next_page_token
        if not token:
            break
    return found, total


def resolve(s: Any, ref: str) -> str:
    """The id of the camera `ref` names: an id as it is, else the camera with that name."""
    if _UUID.match(ref):
        return ref
    cameras, _ = list_all(s, f"name = {quote(ref)}", 2)
    exact = [c for c in cameras if c.name == ref] or cameras
    if len(exact) == 1:
        return exact[0].id
    if not exact:
        raise CliError(f"There is no camera named {ref!r}.", ExitCode.NOT_FOUND)
    raise CliError(f"Several cameras match {ref!r}; name it by id.", ExitCode.CONFLICT)
