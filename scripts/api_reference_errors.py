"""The errors a service can return, derived from the server's code for the API reference.

A domain error (server/errors.py) becomes one status code in one place
(server/transport/status.py, `to_rpc_status`); its ErrorInfo reason is the class's default or
the `reason=` it is raised with. Which errors a service raises is read from the source: the
package of its servicer (server/cameras for CameraService), scanned for the domain errors its
modules construct. That is per service, not per RPC (a static call graph of this code is not
reliable enough to say which RPC reaches which raise); it may name an error of a sibling service
in the same package, and it leaves out what other packages raise on the service's behalf (the
stores an alert servicer is handed, the event log's compaction): the reference says so.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from server import errors
from server.transport.status import to_rpc_status

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "server"


def _domain_errors() -> dict[str, type[errors.DomainError]]:
    found: dict[str, type[errors.DomainError]] = {}
    pending = list(errors.DomainError.__subclasses__())
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending += cls.__subclasses__()
    return found


DOMAIN_ERRORS = _domain_errors()


def code_name(cls: type[errors.DomainError]) -> str:
    """The gRPC status code name a domain error class maps to (as status.py maps it)."""
    from google.rpc import code_pb2

    return str(code_pb2.Code.Name(to_rpc_status(cls("x")).code))


def default_reason(cls: type[errors.DomainError]) -> str:
    return cls("x").reason.removeprefix("ERROR_REASON_")


@dataclass(frozen=True)
class Raised:
    """One kind of domain error a service's code constructs."""

    code: str  # gRPC status code name
    error: str  # domain error class name
    reason: str  # ErrorInfo reason (without ERROR_REASON_)


def _module_path(dotted: str) -> Path | None:
    base = ROOT / Path(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def package_of(path: Path) -> Path:
    """The top-level server package a module belongs to (server/cameras for
    server/cameras/servicer.py)."""
    return SERVER / path.relative_to(SERVER).parts[0]


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


@cache
def _classes() -> list[tuple[str, frozenset[str], Path]]:
    """Every class of the server: its name, its bases' last names, its module."""
    return [
        (node.name, frozenset(ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases), path)
        for path in sorted(SERVER.rglob("*.py"))
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.ClassDef)
    ]


def servicer_modules(service: str) -> list[Path]:
    """Modules defining a class that implements `service` (a subclass of its generated
    servicer, or of such a class)."""
    classes: dict[str, Path] = {}
    changed = True
    while changed:
        changed = False
        for name, bases, path in _classes():
            if name not in classes and (f"{service}Servicer" in bases or bases & classes.keys()):
                classes[name] = path
                changed = True
    return sorted(set(classes.values()))


def _raised_in(tree: ast.Module) -> Iterator[Raised]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "for_field":
            func = func.value  # InvalidArgument.for_field(...)
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        cls = DOMAIN_ERRORS.get(name)
        if cls is None:
            continue
        reason = default_reason(cls)
        for keyword in node.keywords:
            if keyword.arg == "reason" and isinstance(keyword.value, ast.Constant):
                reason = str(keyword.value.value).removeprefix("ERROR_REASON_")
        yield Raised(code_name(cls), name, reason)


def service_errors(service: str) -> tuple[list[Path], list[Raised]]:
    """The packages behind `service` (those of its servicer classes) and the domain errors
    constructed anywhere in them (sorted, unique)."""
    packages = sorted({package_of(path) for path in servicer_modules(service)})
    modules = sorted(path for package in packages for path in package.rglob("*.py"))
    raised = {r for path in modules for r in _raised_in(_tree(path))}
    return packages, sorted(raised, key=lambda r: (r.code, r.reason, r.error))
