"""`camfleet users`: user accounts (admin), and `passwd` for one's own password."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer
from camfleet.cli import state
from camfleet.cli.errors import CliError, ExitCode
from camfleet.cli.output import Column, enum_name, when
from camfleet.cli.parsing import quote

if TYPE_CHECKING:  # the API's messages and grpc are imported where a command runs
    from camfleet.v1 import user_pb2, user_pb2_grpc

app = typer.Typer(
    name="users",
    help="User accounts: list, create, change roles, disable, delete; set passwords.",
    no_args_is_help=True,
)

COLUMNS = [
    Column("USERNAME", lambda u: u.username),
    Column("NAME", lambda u: u.display_name),
    Column("ROLE", lambda u: enum_name(u, "role")),
    Column("DISABLED", lambda u: u.disabled),
    Column("LAST LOGIN", lambda u: when(u.last_login_time)),
    Column("ID", lambda u: u.id, wide=True),
    Column("CREATED", lambda u: when(u.create_time), wide=True),
]
DETAIL_COLUMNS = [Column(c.header, c.value) for c in COLUMNS]
_USER = typer.Argument(..., help="User id or username.")
_ROLE_HELP = "Role: admin, operator, viewer or api."


def _role(text: str) -> Any:
    from camfleet.v1 import common_pb2

    roles = {
        v.name.removeprefix("ROLE_").lower(): v.number
        for v in common_pb2.Role.DESCRIPTOR.values
        if v.number
    }
    number = roles.get(text.lower())
    if number is None:
        raise CliError(f"--role {text!r} is not a role; {_ROLE_HELP.lower()}", ExitCode.USAGE)
    return number


def _stub(s: Any) -> user_pb2_grpc.UserServiceStub:
    from camfleet.v1 import user_pb2_grpc

    return s.stub(user_pb2_grpc.UserServiceStub)  # type: ignore[no-any-return]


def _list(s: Any, filter_text: str, limit: int) -> tuple[list[user_pb2.User], int]:
    from camfleet.v1 import user_pb2

    found: list[user_pb2.User] = []
    token, total = "", 0
    while len(found) < limit:
        resp = s.call(
            _stub(s).ListUsers,
            user_pb2.ListUsersRequest(
                filter=filter_text,
                order_by="username",
                page_size=min(1000, limit - len(found)),
                page_token=token,
            ),
        )
        found.extend(resp.users)
        total, token = max(resp.total_size, len(found)), resp.next_page_token
        if not token:
            break
    return found, total


def resolve(s: Any, ref: str) -> str:
    """The id of the user `ref` names (id or username)."""
    users, _ = _list(s, f"username = {quote(ref)}", 10)
    for user in users:
        if ref.lower() in (user.username.lower(), user.id):
            return user.id
    if len(ref) == 36 and ref.count("-") == 4:
        return ref
    raise CliError(f"There is no user named {ref!r}.", ExitCode.NOT_FOUND)


def _new_password(from_stdin: bool, prompt: str = "New password") -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise CliError(
            "No terminal to ask for the password; pipe it with --password-stdin.", ExitCode.USAGE
        )
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=True))


_PASSWORD_STDIN = typer.Option(
    False, "--password-stdin", help="Read the password from standard input, not a prompt."
)


@app.command("list")
def list_users(
    ctx: typer.Context,
    *,
    filter_: str = typer.Option(
        "", "--filter", "-f", help="Server filter on username, display_name, role, disabled."
    ),
    limit: int = typer.Option(500, "--limit", min=1, help="Show at most this many users."),
) -> None:
    """List user accounts."""
    s = state.session(ctx)
    users, total = _list(s, filter_, limit)
    out = state.printer(ctx)
    out.items(users, COLUMNS)
    if total > len(users):
        out.note(f"Showing {len(users)} of {total} users; raise --limit to see more.")


@app.command("get")
def get_user(ctx: typer.Context, user: str = _USER) -> None:
    """Show one user account."""
    from camfleet.v1 import user_pb2

    s = state.session(ctx)
    resp = s.call(_stub(s).GetUser, user_pb2.GetUserRequest(id=resolve(s, user)))
    state.printer(ctx).item(resp.user, DETAIL_COLUMNS)


@app.command("create")
def create_user(
    ctx: typer.Context,
    username: str = typer.Argument(..., help="3-64 of letters, digits, '.', '_', '-', '@'."),
    *,
    role: str = typer.Option("viewer", "--role", "-r", help=_ROLE_HELP),
    display_name: str = typer.Option("", "--display-name", help="Name shown in the UI."),
    password_stdin: bool = _PASSWORD_STDIN,
) -> None:
    """Create a user account (asks for its password; the server's password rules apply)."""
    from camfleet.v1 import user_pb2

    s = state.session(ctx)
    password = _new_password(password_stdin)
    resp = s.call(
        _stub(s).CreateUser,
        user_pb2.CreateUserRequest(
            user=user_pb2.User(username=username, display_name=display_name, role=_role(role)),
            password=password,
        ),
    )
    out = state.printer(ctx)
    if out.structured:
        out.item(resp.user, DETAIL_COLUMNS)
    else:
        out.done(f"Created user {resp.user.username} ({enum_name(resp.user, 'role').lower()}).")


@app.command("update")
def update_user(
    ctx: typer.Context,
    user: str = _USER,
    *,
    role: str | None = typer.Option(None, "--role", "-r", help=_ROLE_HELP),
    display_name: str | None = typer.Option(None, "--display-name", help="Name shown in the UI."),
    disabled: bool | None = typer.Option(
        None, "--disable/--enable", help="Disable the account (its sessions end), or enable it."
    ),
) -> None:
    """Change a user's role, display name, or whether it is disabled."""
    from camfleet.v1 import user_pb2
    from google.protobuf import field_mask_pb2

    s = state.session(ctx)
    changed = user_pb2.User(id=resolve(s, user))
    paths: list[str] = []
    if role is not None:
        changed.role = _role(role)
        paths.append("role")
    if display_name is not None:
        changed.display_name = display_name
        paths.append("display_name")
    if disabled is not None:
        changed.disabled = disabled
        paths.append("disabled")
    if not paths:
        raise CliError(
            "Nothing to change: pass --role, --display-name or --disable/--enable.", ExitCode.USAGE
        )
    resp = s.call(
        _stub(s).UpdateUser,
        user_pb2.UpdateUserRequest(user=changed, update_mask=field_mask_pb2.FieldMask(paths=paths)),
    )
    out = state.printer(ctx)
    if out.structured:
        out.item(resp.user, DETAIL_COLUMNS)
    else:
        out.done(f"Updated user {resp.user.username}: {', '.join(paths)}.")


@app.command("delete")
def delete_user(
    ctx: typer.Context,
    user: str = _USER,
    *,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a user account."""
    from camfleet.v1 import user_pb2

    s = state.session(ctx)
    user_id = resolve(s, user)
    if not yes:
        if not sys.stdin.isatty():
            raise CliError(
                "Deleting a user needs a confirmation and there is no terminal to ask; "
                "pass --yes to go ahead.",
                ExitCode.USAGE,
            )
        if not typer.confirm(f"Delete user {user}?", default=False, err=True):
            raise CliError("Nothing changed.", ExitCode.ERROR)
    s.call(_stub(s).DeleteUser, user_pb2.DeleteUserRequest(id=user_id))
    state.printer(ctx).done(f"Deleted user {user}.", {"deleted": user_id})


@app.command("passwd")
def change_password(
    ctx: typer.Context,
    user: str | None = typer.Argument(
        None, help="Whose password (admins only); default: your own.", show_default=False
    ),
    *,
    password_stdin: bool = typer.Option(
        False,
        "--password-stdin",
        help="Read the passwords from standard input (current first, for your own; then new).",
    ),
) -> None:
    """Change a password; every session of that user ends (log in again after your own)."""
    from camfleet.v1 import user_pb2

    s = state.session(ctx)
    request = user_pb2.ChangePasswordRequest()
    if user:
        request.user_id = resolve(s, user)
    elif password_stdin:
        request.current_password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        request.current_password = str(typer.prompt("Current password", hide_input=True))
    else:
        raise CliError(
            "No terminal to ask for the passwords; pipe them with --password-stdin.",
            ExitCode.USAGE,
        )
    request.new_password = _new_password(password_stdin)
    s.call(_stub(s).ChangePassword, request)
    state.printer(ctx).done(
        f"Changed the password of {user or 'your account'}; its sessions have ended.",
        {"changed": user or "self"},
    )
