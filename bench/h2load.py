#!/usr/bin/env python3
"""Server CPU per message, measured with an independent HTTP/2 client: h2load (Debian's
nghttp2-client), which speaks gRPC when given the right headers and a body of length-prefixed
messages. The server runs pinned to CPU 0 with one completion-queue thread, h2load pinned to CPU 1;
the server's CPU time comes from /proc/PID/stat. `make bench-h2load` runs it; bench/README.md
("An independent client") has its figures and what they say.

Usage: h2load.py SERVER_BINARY DB [record|list|get ...] [--runs N]
"""

import argparse
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

ROUTE_POINTS = 10_000  # points per RecordRoute call


def varint(n):
    if n < 0:
        n += 1 << 64  # int32 fields encode negatives as 10-byte varints
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def point(lat, lon):
    return b"\x08" + varint(lat) + b"\x10" + varint(lon)


def rectangle(lo, hi):
    lo, hi = point(*lo), point(*hi)
    return b"\x0a" + varint(len(lo)) + lo + b"\x12" + varint(len(hi)) + hi


def grpc_message(message):
    """One message as gRPC frames it: not compressed, then its length."""
    return b"\x00" + struct.pack(">I", len(message)) + message


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port):
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"h2load.py: the server did not listen on port {port}")


def measure(server, db, method, body, calls, connections, streams, messages_per_call):
    """Server CPU microseconds per message over `calls` calls, after a warm-up of a tenth."""
    port = free_port()
    process = subprocess.Popen(
        ["taskset", "-c", "0", server, "--addr", f"127.0.0.1:{port}", "--db", db, "--threads", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(port)
        url = f"http://127.0.0.1:{port}/routeguide.RouteGuide/{method}"
        h2load = ["taskset", "-c", "1", "h2load", "-d", body,
                  "-H", "content-type: application/grpc", "-H", "te: trailers",
                  "-c", str(connections), "-m", str(streams)]
        subprocess.run(h2load + ["-n", str(max(calls // 10, connections * streams)), url],
                       check=True, capture_output=True)
        before = cpu_seconds(process.pid)
        run = subprocess.run(h2load + ["-n", str(calls), url], check=True, capture_output=True, text=True)
        spent = cpu_seconds(process.pid) - before
    finally:
        process.kill()
        process.wait()
    done = [line for line in run.stdout.splitlines() if line.startswith("requests:")]
    if not done or f"{calls} succeeded" not in done[0]:
        sys.exit(f"h2load.py: not every {method} call succeeded: {done}")
    return spent * 1e6 / (calls * messages_per_call)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("server")
    parser.add_argument("db")
    parser.add_argument("rpcs", nargs="*", default=["record", "list", "get"])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    features = json.load(open(args.db))
    points = [(f["location"]["latitude"], f["location"]["longitude"]) for f in features]
    # The request bodies, removed when the script ends.
    workdir = tempfile.TemporaryDirectory(prefix="routeguide-h2load-")
    bodies = workdir.name
    route = os.path.join(bodies, "route.bin")
    with open(route, "wb") as out:
        out.write(b"".join(grpc_message(point(*points[i % len(points)])) for i in range(ROUTE_POINTS)))
    world = os.path.join(bodies, "world.bin")
    with open(world, "wb") as out:
        out.write(grpc_message(rectangle((-900_000_000, -1_800_000_000), (900_000_000, 1_800_000_000))))
    one = os.path.join(bodies, "point.bin")
    with open(one, "wb") as out:
        out.write(grpc_message(point(*points[0])))

    scenarios = {
        # name: (method, body, calls, connections, streams each, messages per call, unit)
        "record": ("RecordRoute", route, 200, 1, 1, ROUTE_POINTS, "us per point"),
        "list": ("ListFeatures", world, 20_000, 1, 1, len(features), "us per feature"),
        "get": ("GetFeature", one, 200_000, 4, 16, 1, "us per call (4 x 16)"),
    }
    for name in args.rpcs:
        method, body, calls, connections, streams, per_call, unit = scenarios[name]
        figures = [measure(args.server, args.db, method, body, calls, connections, streams, per_call)
                   for _ in range(args.runs)]
        print(f"{method}: server CPU {', '.join(f'{f:.2f}' for f in figures)} {unit}", flush=True)


if __name__ == "__main__":
    main()
