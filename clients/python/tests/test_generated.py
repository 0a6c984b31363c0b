"""The committed generated code matches a fresh run of generate.sh."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PACKAGE_ROOT = HERE.parent
COMMITTED = PACKAGE_ROOT / "storeplatform_client" / "_proto"
GENERATE = PACKAGE_ROOT / "generate.sh"


def _files(root: Path):
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    protoc = shutil.which("protoc")
    if protoc is None:
        pytest.skip("protoc is not installed (apt-get install protobuf-compiler)")
    version = subprocess.run([protoc, "--version"], capture_output=True, text=True).stdout.split()
    if len(version) < 2 or not version[1].startswith("3.21."):
        pytest.skip(f"protoc {' '.join(version[1:])} is not 3.21.x, which generated the committed code")

    fresh = tmp_path / "_proto"
    env = {k: v for k, v in os.environ.items() if k != "STOREPLATFORM_ANY_PROTOC"}
    run = subprocess.run(["bash", str(GENERATE), str(fresh)], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr

    assert _files(fresh) == _files(COMMITTED), (
        "generated files differ in name: run clients/python/generate.sh and commit the result")
    stale = [name for name in _files(fresh)
             if not filecmp.cmp(fresh / name, COMMITTED / name, shallow=False)]
    assert not stale, (
        f"stale generated code {stale}: run clients/python/generate.sh and commit the result")


def test_generated_modules_import_inside_the_package() -> None:
    from storeplatform_client import Store, store_pb2

    assert Store.__module__ == "storeplatform_client._proto.storeplatform.v1.store_pb2"
    assert store_pb2.DESCRIPTOR.name == "storeplatform/v1/store.proto"
    # Nothing leaks into the top-level namespace.
    import importlib.util

    assert importlib.util.find_spec("storeplatform") is None
