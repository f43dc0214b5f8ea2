"""`camfleet nodes`: list and inspect stream nodes, cordon, drain (with a live progress display
until its pull cameras have moved), label, delete; join tokens for new nodes."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

import typer
from camfleet.cli import state
from camfleet.cli.errors import CliError, ExitCode
from camfleet.cli.output import Column, enum_name, labels, size, to_dict, when
from camfleet.cli.parsing import duration_message, parse_duration, parse_pairs

if TYPE_CHECKING:  # the API's messages, grpc and rich.progress are imported where they are used
    from camfleet.v1 import node_pb2, node_pb2_grpc

app = typer.Typer(
    name="nodes",
    help="Stream nodes: list, inspect, cordon, drain, label and delete them; join tokens.",
    no_args_is_help=True,
)
join_tokens = typer.Typer(
    name="join-token",
    help="Join tokens, with which new node agents register (the secret is shown once).",
    no_args_is_help=True,
)
app.add_typer(join_tokens)


def _disk(n: node_pb2.Node) -> str:
    host = n.host
    if not host.disk_total_bytes:
        return "-"
    return f"{size(host.disk_used_bytes)} / {size(host.disk_total_bytes)}"


COLUMNS = [
    Column("NAME", lambda n: n.name),
    Column("STATE", lambda n: enum_name(n, "state")),
    Column(
        "SCHEDULING",
        lambda n: "draining" if n.draining else ("ok" if n.schedulable else "cordoned"),
    ),
    Column("CAMERAS", lambda n: f"{n.camera_count}/{n.capacity}" if n.capacity else n.camera_count),
    Column("CPU", lambda n: f"{n.host.cpu_percent:.0f}%" if n.HasField("host") else "-"),
    # What placement keeps the node's ladder transcoding within ("-": its agent did not say).
    Column("CORES", lambda n: f"{n.cpu_cores:g}" if n.cpu_cores else "-", wide=True),
    Column("ID", lambda n: n.id),
    Column("VERSION", lambda n: n.version, wide=True),
    Column("LABELS", lambda n: labels(n.labels), wide=True),
    Column("DISK", _disk, wide=True),
    Column("STREAMS", lambda n: n.stream_count, wide=True),
    Column("LAST HEARTBEAT", lambda n: when(n.last_heartbeat_time), wide=True),
    Column("REASON", lambda n: n.state_reason, wide=True),
]
DETAIL_COLUMNS = [
    *[Column(c.header, c.value) for c in COLUMNS],
    Column("DRAIN REMAINING", lambda n: n.drain_remaining if n.draining else "-"),
    Column("RTMP", lambda n: n.rtmp_url),
    Column("HTTP", lambda n: n.http_url),
    Column("CREATED", lambda n: when(n.create_time)),
]
TOKEN_COLUMNS = [
    Column("ID", lambda t: t.id),
    Column("DESCRIPTION", lambda t: t.description),
    Column("USES", lambda t: f"{t.uses}/{t.max_uses}"),
    Column("EXPIRES", lambda t: when(t.expire_time)),
    Column("REVOKED", lambda t: when(t.revoke_time)),
    Column("CREATED", lambda t: when(t.create_time), wide=True),
]
_NODE = typer.Argument(..., help="Node id or name.")
_PAIRS = typer.Argument(..., help="key=value to set, key- to remove.")


def _stub(s: Any) -> node_pb2_grpc.NodeServiceStub:
    from camfleet.v1 import node_pb2_grpc

    return s.stub(node_pb2_grpc.NodeServiceStub)  # type: ignore[no-any-return]


def _list(s: Any, filter_text: str, order_by: str, limit: int) -> tuple[list[node_pb2.Node], int]:
    from camfleet.v1 import node_pb2

    found: list[node_pb2.Node] = []
    token, total = "", 0
    while len(found) < limit:
        resp = s.call(
            _stub(s).ListNodes,
            node_pb2.ListNodesRequest(
                filter=filter_text,
                order_by=order_by,
                page_size=min(1000, limit - len(found)),
                page_token=token,
            ),
        )
        found.extend(resp.nodes)
        total, token = max(resp.total_size, len(found)), resp.next_page_token
        if not token:
            break
    return found, total


def resolve(s: Any, ref: str) -> str:
    """The id of the node `ref` names (its id, or its name)."""
    nodes, _ = _list(s, "", "name", 100_000)
    for node in nodes:
        if ref in (node.id, node.name):
            return node.id
    raise CliError(f"There is no node named {ref!r}.", ExitCode.NOT_FOUND)


@app.command("list")
def list_nodes(
    ctx: typer.Context,
    *,
    filter_: str = typer.Option(
        "",
        "--filter",
        "-f",
        help="Server filter on name, state, schedulable (e.g. 'state = READY').",
    ),
    order_by: str = typer.Option(
        "name", "--order-by", help="name, create_time, last_heartbeat_time."
    ),
    limit: int = typer.Option(500, "--limit", min=1, help="Show at most this many nodes."),
) -> None:
    """List the stream nodes."""
    s = state.session(ctx)
    nodes, total = _list(s, filter_, order_by, limit)
    out = state.printer(ctx)
    out.items(nodes, COLUMNS)
    if total > len(nodes):
        out.note(f"Showing {len(nodes)} of {total} nodes; raise --limit to see more.")


@app.command("get")
def get_node(ctx: typer.Context, node: str = _NODE) -> None:
    """Show one node in full."""
    from camfleet.v1 import node_pb2

    s = state.session(ctx)
    resp = s.call(_stub(s).GetNode, node_pb2.GetNodeRequest(id=resolve(s, node)))
    state.printer(ctx).item(resp.node, DETAIL_COLUMNS)


def _show(ctx: typer.Context, node: node_pb2.Node, text: str) -> None:
    out = state.printer(ctx)
    if out.structured:
        out.item(node, DETAIL_COLUMNS)
    else:
        out.done(text)


@app.command("cordon")
def cordon(ctx: typer.Context, node: str = _NODE) -> None:
    """Cordon a node: it keeps what it runs but gets no new pull cameras."""
    from camfleet.v1 import node_pb2

    s = state.session(ctx)
    resp = s.call(_stub(s).CordonNode, node_pb2.CordonNodeRequest(id=resolve(s, node)))
    _show(ctx, resp.node, f"Cordoned node {resp.node.name}.")


@app.command("uncordon")
def uncordon(ctx: typer.Context, node: str = _NODE) -> None:
    """Uncordon a node: it takes new pull cameras again (this also stops a drain)."""
    from camfleet.v1 import node_pb2

    s = state.session(ctx)
    resp = s.call(_stub(s).UncordonNode, node_pb2.UncordonNodeRequest(id=resolve(s, node)))
    _show(ctx, resp.node, f"Uncordoned node {resp.node.name}.")


def _follow(s: Any, node: node_pb2.Node, timeout_s: float, interval_s: float) -> node_pb2.Node:
    """Poll the node until its drain is done, showing the cameras moved so far: a live bar on a
    terminal, else a line on stderr whenever the count changes (logs, CI)."""
    from camfleet.v1 import node_pb2
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    total = node.drain_remaining
    console = Console(stderr=True)
    live = console.is_terminal
    deadline = time.monotonic() + timeout_s
    last_said = -1
    with Progress(
        TextColumn("Draining {task.fields[name]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("pull cameras moved"),
        TimeElapsedColumn(),
        console=console,
        disable=not live,
    ) as progress:
        task = progress.add_task("drain", total=max(total, 1), name=node.name)
        while True:
            total = max(total, node.drain_remaining)
            moved = total - node.drain_remaining
            progress.update(task, total=max(total, 1), completed=moved if total else 1)
            if not live and total and moved != last_said:
                console.print(
                    f"Draining {node.name}: {moved} of {total} pull camera(s) moved.",
                    markup=False,
                    highlight=False,
                )
                last_said = moved
            if not node.draining or node.drain_remaining == 0:
                return node
            if time.monotonic() > deadline:
                raise CliError(
                    f"Node {node.name} still has {node.drain_remaining} pull camera(s) to move "
                    f"after {timeout_s:.0f} s; the drain goes on on the server "
                    f"(follow it with camfleet nodes drain {node.name}).",
                    ExitCode.UNAVAILABLE,
                )
            time.sleep(interval_s)
            node = s.call(_stub(s).GetNode, node_pb2.GetNodeRequest(id=node.id)).node


@app.command("drain")
def drain(
    ctx: typer.Context,
    node: str = _NODE,
    *,
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Follow the drain until it is done."),
    timeout: str = typer.Option("10m", "--timeout", help="Give up following after this long."),
) -> None:
    """Drain a node: cordon it and move its pull cameras to other nodes, showing the progress.

    Draining a node that is draining already follows its progress."""
    import grpc
    from camfleet.v1 import node_pb2

    s = state.session(ctx)
    out = state.printer(ctx)
    node_id = resolve(s, node)
    timeout_s = parse_duration(timeout, "--timeout").total_seconds()
    try:
        current = s.call(_stub(s).DrainNode, node_pb2.DrainNodeRequest(id=node_id)).node
    except grpc.RpcError as err:
        if err.code() != grpc.StatusCode.FAILED_PRECONDITION:
            raise
        current = s.call(_stub(s).GetNode, node_pb2.GetNodeRequest(id=node_id)).node
        if not current.draining:
            raise
        out.note(f"Node {current.name} is draining already; following its progress.")
    if wait:
        current = _follow(s, current, timeout_s, interval_s=1.0)
    if not wait and current.drain_remaining:
        text = f"Draining node {current.name}: {current.drain_remaining} pull camera(s) to move."
    elif current.draining:
        text = f"Drained node {current.name}: no pull camera left on it."
    else:
        text = f"Node {current.name} is no longer draining (uncordoned meanwhile)."
    _show(ctx, current, text)


@app.command("label")
def label_node(
    ctx: typer.Context,
    node: str = _NODE,
    pairs: list[str] = _PAIRS,
) -> None:
    """Set or remove a node's labels (what cameras' node selectors match)."""
    from camfleet.v1 import node_pb2
    from google.protobuf import field_mask_pb2

    s = state.session(ctx)
    current = s.call(_stub(s).GetNode, node_pb2.GetNodeRequest(id=resolve(s, node))).node
    to_set, to_remove = parse_pairs(pairs, "label")
    merged = {k: v for k, v in current.labels.items() if k not in to_remove}
    merged.update(to_set)
    changed = node_pb2.Node(id=current.id, labels=merged)
    resp = s.call(
        _stub(s).UpdateNode,
        node_pb2.UpdateNodeRequest(
            node=changed, update_mask=field_mask_pb2.FieldMask(paths=["labels"])
        ),
    )
    _show(ctx, resp.node, f"Node {resp.node.name} now has labels {labels(resp.node.labels)}.")


@app.command("delete")
def delete_node(
    ctx: typer.Context,
    node: str = _NODE,
    *,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Forget a node; its credential stops working."""
    from camfleet.v1 import node_pb2

    s = state.session(ctx)
    node_id = resolve(s, node)
    if not yes:
        if not sys.stdin.isatty():
            raise CliError(
                "Deleting a node needs a confirmation and there is no terminal to ask; "
                "pass --yes to go ahead.",
                ExitCode.USAGE,
            )
        if not typer.confirm(f"Delete node {node}?", default=False, err=True):
            raise CliError("Nothing changed.", ExitCode.ERROR)
    s.call(_stub(s).DeleteNode, node_pb2.DeleteNodeRequest(id=node_id))
    state.printer(ctx).done(f"Deleted node {node}.", {"deleted": node_id})


@app.command("leader")
def leader(ctx: typer.Context) -> None:
    """Which control-plane replica runs the fleet's singleton jobs now."""
    from camfleet.v1 import node_pb2

    s = state.session(ctx)
    resp = s.call(_stub(s).GetLeader, node_pb2.GetLeaderRequest())
    state.printer(ctx).item(
        resp,
        [
            Column("REPLICA", lambda r: r.replica_id),
            Column("EPOCH", lambda r: r.epoch),
            Column("SINCE", lambda r: when(r.since)),
        ],
    )


@join_tokens.command("create")
def create_join_token(
    ctx: typer.Context,
    *,
    description: str = typer.Option("", "--description", "-d", help="What it is for."),
    max_uses: int = typer.Option(
        1, "--max-uses", min=1, help="How many agents may register with it."
    ),
    ttl: str = typer.Option("1h", "--ttl", help="How long it stays valid (e.g. 30m, 1h, 7d)."),
) -> None:
    """Create a join token; pass its secret to `python -m node_agent --join-token`."""
    from camfleet.v1 import node_pb2

    s = state.session(ctx)
    resp = s.call(
        _stub(s).CreateJoinToken,
        node_pb2.CreateJoinTokenRequest(
            join_token=node_pb2.JoinToken(description=description, max_uses=max_uses),
            ttl=duration_message(ttl, "--ttl"),
        ),
    )
    out = state.printer(ctx)
    if out.structured:
        out.data({"join_token": to_dict(resp.join_token), "secret": resp.secret})
        return
    out.done(resp.secret)
    out.note(
        f"Join token {resp.join_token.id} created, valid until {when(resp.join_token.expire_time)} "
        "UTC. The secret above is shown only now."
    )


@join_tokens.command("list")
def list_join_tokens(ctx: typer.Context) -> None:
    """List join tokens (their secrets are never shown again)."""
    from camfleet.v1 import node_pb2

    s = state.session(ctx)
    found: list[node_pb2.JoinToken] = []
    token = ""
    while True:
        resp = s.call(
            _stub(s).ListJoinTokens,
            node_pb2.ListJoinTokensRequest(page_size=1000, page_token=token),
        )
        found.extend(resp.join_tokens)
        token = resp.next_page_token
        if not token:
            break
    state.printer(ctx).items(found, TOKEN_COLUMNS)


@join_tokens.command("revoke")
def revoke_join_token(
    ctx: typer.Context, token_id: str = typer.Argument(..., help="Join token id.")
) -> None:
    """Revoke a join token: no more agents may register with it."""
    from camfleet.v1 import node_pb2

    s = state.session(ctx)
    resp = s.call(_stub(s).RevokeJoinToken, node_pb2.RevokeJoinTokenRequest(id=token_id))
    out = state.printer(ctx)
    if out.structured:
        out.item(resp.join_token, TOKEN_COLUMNS)
    else:
        out.done(f"Revoked join token {token_id}.")
