"""Python stubs for the RouteGuide proto, generated at run time.

This module owns turning `route_guide.proto` into importable Python modules. Nothing generated is
kept in the repository: `load()` runs `python -m grpc_tools.protoc` into a temporary directory,
imports the two modules it writes (`route_guide_pb2` for the messages, `route_guide_pb2_grpc` for
the stub, the servicer registration helper and the method names), and deletes the directory again.
The modules stay loaded for the rest of the process, so later calls return them at once.
"""

import importlib
import os
import shutil
import subprocess
import sys
import tempfile
from typing import NamedTuple

PROTO_FILE = "route_guide.proto"

# The repository's proto directory, for callers that do not name one.
DEFAULT_PROTO_DIR = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto")
)


class StubError(Exception):
    """The stubs could not be generated or imported; the message says why, on one line."""


class Stubs(NamedTuple):
    """The generated modules: `messages` (route_guide_pb2) and `services` (route_guide_pb2_grpc)."""

    messages: object
    services: object


_loaded = None


def load(proto_dir=None):
    """Generates and imports the stubs for `proto_dir/route_guide.proto` (once per process).

    Returns a `Stubs`. A later call returns the modules of the first one, whatever its argument.
    Raises `StubError` when the proto is missing or protoc rejects it.
    """
    global _loaded
    if _loaded is not None:
        return _loaded

    proto_dir = os.path.abspath(proto_dir or DEFAULT_PROTO_DIR)
    if not os.path.isfile(os.path.join(proto_dir, PROTO_FILE)):
        raise StubError(f"no {PROTO_FILE} in {proto_dir}")

    out_dir = tempfile.mkdtemp(prefix="routeguide-stubs-")
    try:
        command = [
            sys.executable, "-m", "grpc_tools.protoc",
            f"--proto_path={proto_dir}",
            f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            PROTO_FILE,
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            detail = " ".join((result.stderr or result.stdout).split()) or f"exit {result.returncode}"
            raise StubError(f"grpc_tools.protoc failed on {PROTO_FILE}: {detail}")

        sys.path.insert(0, out_dir)
        try:
            # The service module imports the message module by name, so import that one first.
            messages = importlib.import_module("route_guide_pb2")
            services = importlib.import_module("route_guide_pb2_grpc")
        finally:
            sys.path.remove(out_dir)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)

    _loaded = Stubs(messages, services)
    return _loaded
