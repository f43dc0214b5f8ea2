"""Regenerate the Python, TypeScript and Go code from protos/ (or, with --check, prove it is
current).

Only local tools are used (grpc_tools' bundled protoc, mypy-protobuf, protoc-gen-es from
clients/typescript/node_modules; Debian's protoc, protoc-gen-go and protoc-gen-go-grpc for Go),
so this works without network access to any schema registry.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import api_reference  # docs/api/, generated from the same protos

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
PY_OUT = ROOT / "clients" / "python"
TS_OUT = ROOT / "clients" / "typescript" / "src" / "gen"
ES_PLUGIN = ROOT / "clients" / "typescript" / "node_modules" / ".bin" / "protoc-gen-es"
# Generated trees; camfleet/ also holds hand-written modules, so only v1/ is owned by codegen.
PY_GENERATED = Path("camfleet") / "v1"
# Go: the stubs' import path comes from protoc's M options, so the protos need no go_package.
GO_OUT = ROOT / "clients" / "go"
GO_MODULE = "camfleet.io/go"
GO_GENERATED = Path("camfleetv1")
GO_TOOLS = ("protoc", "protoc-gen-go", "protoc-gen-go-grpc")


def proto_files() -> list[str]:
    return sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.glob("camfleet/v1/*.proto"))


def run_protoc(py_out: Path, ts_out: Path) -> None:
    import grpc_tools

    wkt_include = Path(grpc_tools.__file__).parent / "_proto"
    bin_dir = Path(sys.executable).parent
    (py_out / PY_GENERATED).mkdir(parents=True, exist_ok=True)
    ts_out.mkdir(parents=True, exist_ok=True)
    if not ES_PLUGIN.exists():
        sys.exit(f"{ES_PLUGIN} is missing: run `npm ci` in clients/typescript first")
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{wkt_include}",
        f"--python_out={py_out}",
        f"--pyi_out={py_out}",
        f"--grpc_python_out={py_out}",
        f"--plugin=protoc-gen-mypy_grpc={bin_dir / 'protoc-gen-mypy_grpc'}",
        f"--mypy_grpc_out={py_out}",
        f"--plugin=protoc-gen-es={ES_PLUGIN}",
        f"--es_out={ts_out}",
        "--es_opt=target=ts,import_extension=js",
        *proto_files(),
    ]
    # Plugins chatter on stderr ("Writing mypy to …"); show it only when something failed.
    result = subprocess.run(cmd, cwd=PROTO_ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"protoc failed:\n{result.stdout}{result.stderr}")
    (py_out / PY_GENERATED / "__init__.py").write_text('"""Generated from protos/camfleet/v1."""\n')


def run_go_protoc(go_out: Path) -> None:
    """Go stubs into go_out/camfleetv1 with Debian's protoc and plugins (scripts/bootstrap.sh)."""
    missing = [tool for tool in GO_TOOLS if shutil.which(tool) is None]
    if missing:
        sys.exit(f"{', '.join(missing)} missing: run scripts/bootstrap.sh (Debian's Go packages)")
    (go_out / GO_GENERATED).mkdir(parents=True, exist_ok=True)
    imports = ",".join(f"M{name}={GO_MODULE}/{GO_GENERATED}" for name in proto_files())
    cmd = [
        "protoc",
        f"-I{PROTO_ROOT}",
        "-I/usr/include",  # the well-known types of libprotobuf-dev, matching Debian's protoc
        f"--go_out={go_out}",
        f"--go_opt=module={GO_MODULE},{imports}",
        f"--go-grpc_out={go_out}",
        f"--go-grpc_opt=module={GO_MODULE},{imports}",
        *proto_files(),
    ]
    result = subprocess.run(cmd, cwd=PROTO_ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"protoc (Go) failed:\n{result.stdout}{result.stderr}")


def tree_diff(expected: Path, actual: Path) -> list[str]:
    """Relative paths that differ between two trees (missing, extra or changed)."""
    problems: list[str] = []
    cmp = filecmp.dircmp(expected, actual)

    def walk(c: filecmp.dircmp[str], prefix: str) -> None:
        problems.extend(f"{prefix}{n} (missing)" for n in c.left_only)
        problems.extend(f"{prefix}{n} (not generated)" for n in c.right_only if n != "__pycache__")
        for name in c.common_files:
            if not filecmp.cmp(Path(c.left) / name, Path(c.right) / name, shallow=False):
                problems.append(f"{prefix}{name} (changed)")
        for name, sub in c.subdirs.items():
            if name != "__pycache__":
                walk(sub, f"{prefix}{name}/")

    walk(cmp, "")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if committed code is stale")
    args = parser.parse_args()
    if not args.check:
        shutil.rmtree(PY_OUT / PY_GENERATED, ignore_errors=True)
        shutil.rmtree(TS_OUT, ignore_errors=True)
        run_protoc(PY_OUT, TS_OUT)
        shutil.rmtree(GO_OUT / GO_GENERATED, ignore_errors=True)
        run_go_protoc(GO_OUT)
        api_reference.write()
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        py_tmp, ts_tmp = Path(tmp) / "py", Path(tmp) / "ts"
        run_protoc(py_tmp, ts_tmp)
        go_tmp = Path(tmp) / "go"
        run_go_protoc(go_tmp)
        problems = [
            f"clients/python/camfleet/v1/{p}"
            for p in tree_diff(py_tmp / PY_GENERATED, PY_OUT / PY_GENERATED)
        ]
        problems += [f"clients/typescript/src/gen/{p}" for p in tree_diff(ts_tmp, TS_OUT)]
        problems += [
            f"clients/go/{GO_GENERATED}/{p}"
            for p in tree_diff(go_tmp / GO_GENERATED, GO_OUT / GO_GENERATED)
        ]
    problems += api_reference.stale()
    if problems:
        print("generated code is stale; run `python scripts/generate.py`:", *problems, sep="\n  ")
        return 1
    print("generated code is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
