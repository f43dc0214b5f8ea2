"""Who is calling: the authenticated principal and the per-call context the interceptor sets."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

from server.errors import PermissionDenied
from server.identity.permissions import Permission, Role


@dataclass(frozen=True)
class Principal:
    """An authenticated caller and the permissions in effect for this call."""

    user_id: str
    username: str
    role: Role
    permissions: frozenset[Permission]
    auth_method: str  # "password" (JWT session), "api_token" or "node"
    session_id: str = ""  # refresh-token family of a JWT session
    api_token_id: str = ""
    node_id: str = ""  # set for a node agent's credential, which holds no user permissions

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        if self.node_id:
            return self.username
        if self.api_token_id:
            return f"{self.username} (token:{self.api_token_id})"
        return self.username

    def can(self, permission: Permission) -> bool:
        """True when this call may use `permission`."""
        return permission in self.permissions

    def require(self, permission: Permission) -> None:
        """Raise PermissionDenied unless this call may use `permission`."""
        if permission not in self.permissions:
            raise PermissionDenied(f"this needs the {permission.value} permission")


@dataclass(frozen=True)
class CallInfo:
    """Facts about the current RPC: who, from where, which method."""

    method: str
    source_address: str
    principal: Principal | None = None
    user_agent: str = ""


_current_call: contextvars.ContextVar[CallInfo] = contextvars.ContextVar("camfleet_call")


def set_current_call(call: CallInfo) -> contextvars.Token[CallInfo]:
    """Install the call context for this RPC's task (done by the interceptor)."""
    return _current_call.set(call)


def current_call() -> CallInfo:
    """The call context of the running RPC; a blank one outside of RPCs (startup, tests)."""
    return _current_call.get(CallInfo(method="", source_address=""))


def current_principal() -> Principal:
    """The authenticated caller; only valid in methods that are not PUBLIC."""
    principal = current_call().principal
    if principal is None:  # a PUBLIC method asked for a principal: a server bug, not the caller's
        raise RuntimeError("no authenticated principal in this call")
    return principal
