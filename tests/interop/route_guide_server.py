"""A RouteGuide server in Python: the reference the Rust client is checked against.

This module owns the Python side's idea of what a RouteGuide server answers: loading the feature
database, the geometry (E7 bounds, rectangles, haversine distance) and the four RPC handlers, served
by grpcio's thread-pool server. Its rules are those the Rust server promises:

* GetFeature returns the first database feature at exactly the point, or a feature with an empty
  name whose location is the point asked about.
* ListFeatures streams every feature (named or not) inside the rectangle, edges included, in
  database order; `lo` and `hi` may be any two opposite corners.
* RecordRoute counts the points, the points that are database locations, and adds up the haversine
  distances between consecutive points as floats, truncating to whole metres once at the end;
  elapsed_time is whole seconds from the start of the call to the client's end of stream.
* RouteChat answers each note with the earlier notes of the same call at the same location, oldest
  first, as soon as the note arrives.
* A latitude outside +-90 degrees or a longitude outside +-180 degrees (E7, limits allowed), a
  rectangle without `lo` or `hi`, or a note without a location is INVALID_ARGUMENT.

`serve(db_path, port=0)` starts it in-process and returns `(server, port)`; run as a script it
serves until SIGTERM or Ctrl-C, writing the bound port to `--port-file` (and logging it) once it listens.
"""

import argparse
import json
import math
import os
import signal
import sys
import threading
import time
from concurrent import futures

import grpc

import stubs

# Largest magnitudes of a valid point, in E7 units (degrees x 10^7); the limits themselves are valid.
MAX_LATITUDE_E7 = 900_000_000
MAX_LONGITUDE_E7 = 1_800_000_000
E7_PER_DEGREE = 1e7
EARTH_RADIUS_M = 6_371_000.0


# --- The feature database ---------------------------------------------------------------------


class FeatureDb:
    """The features of a database file, in file order, with a lookup by exact location.

    Each entry of `features` is a `(latitude, longitude, name)` tuple of two E7 ints and a string.
    """

    def __init__(self, features):
        self.features = list(features)
        self._first_at = {}
        for lat, lon, name in self.features:
            self._first_at.setdefault((lat, lon), name)

    @classmethod
    def from_file(cls, path):
        """Reads the JSON database: `[{"location": {"latitude", "longitude"}, "name"}, ...]`."""
        with open(path, encoding="utf-8") as file:
            entries = json.load(file)
        return cls(
            (
                int(entry.get("location", {}).get("latitude", 0)),
                int(entry.get("location", {}).get("longitude", 0)),
                str(entry.get("name", "")),
            )
            for entry in entries
        )

    def name_at(self, lat, lon):
        """The name of the first feature at exactly this location, or None when there is none."""
        return self._first_at.get((lat, lon))

    def has_location(self, lat, lon):
        """Whether some feature, named or not, lies at exactly this location."""
        return (lat, lon) in self._first_at

    def inside(self, corner_a, corner_b):
        """The features inside the rectangle with these opposite `(lat, lon)` corners, in order."""
        lat_min, lat_max = sorted((corner_a[0], corner_b[0]))
        lon_min, lon_max = sorted((corner_a[1], corner_b[1]))
        return [
            feature
            for feature in self.features
            if lat_min <= feature[0] <= lat_max and lon_min <= feature[1] <= lon_max
        ]


# --- Geometry ---------------------------------------------------------------------------------


def point_error(lat, lon):
    """Why an E7 point is not on Earth, or None when it is."""
    if not -MAX_LATITUDE_E7 <= lat <= MAX_LATITUDE_E7:
        return f"latitude {lat} is outside [-{MAX_LATITUDE_E7}, {MAX_LATITUDE_E7}] (E7 units)"
    if not -MAX_LONGITUDE_E7 <= lon <= MAX_LONGITUDE_E7:
        return f"longitude {lon} is outside [-{MAX_LONGITUDE_E7}, {MAX_LONGITUDE_E7}] (E7 units)"
    return None


def haversine_m(a, b):
    """Great-circle distance in metres (as a float) between two `(lat, lon)` E7 points."""
    lat1 = math.radians(a[0] / E7_PER_DEGREE)
    lat2 = math.radians(b[0] / E7_PER_DEGREE)
    half_dlat = (lat2 - lat1) / 2
    half_dlon = math.radians((b[1] - a[1]) / E7_PER_DEGREE) / 2
    h = math.sin(half_dlat) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(half_dlon) ** 2
    return 2 * EARTH_RADIUS_M * math.atan2(math.sqrt(h), math.sqrt(1 - h))


def route_length_m(points):
    """The float sum of the distances between consecutive `(lat, lon)` points (not truncated)."""
    total = 0.0
    for previous, current in zip(points, points[1:]):
        total += haversine_m(previous, current)
    return total


# --- The service ------------------------------------------------------------------------------


class RouteGuideServicer:
    """The four RouteGuide handlers over a `FeatureDb`.

    Registered by method name through the generated `add_RouteGuideServicer_to_server`, so it needs
    only the generated message classes (`messages`, the route_guide_pb2 module).

    It records what clients sent and what it answered, in order, so that a test can compare what
    a client printed with what actually crossed the wire, and check what a client sent without
    the client printing it:

    * `summaries`: every RouteSummary answered, as a dict (snake_case field names);
    * `routes`: the points of each of those RecordRoute calls, as `(lat, lon)` tuples (the route
      of `summaries[i]` is `routes[i]`);
    * `chats`: the notes each RouteChat call received, as `(message, (lat, lon))`, one list per
      call, filled as the notes arrive.
    """

    def __init__(self, db, messages):
        self.db = db
        self.pb = messages
        self.summaries = []
        self.routes = []
        self.chats = []
        self._record_lock = threading.Lock()

    # Helpers.

    @staticmethod
    def _check_point(point, what, context):
        error = point_error(point.latitude, point.longitude)
        if error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{what}: {error}")

    def _feature_message(self, lat, lon, name):
        return self.pb.Feature(name=name, location=self.pb.Point(latitude=lat, longitude=lon))

    # RPCs.

    def GetFeature(self, request, context):
        self._check_point(request, "point", context)
        name = self.db.name_at(request.latitude, request.longitude)
        return self._feature_message(request.latitude, request.longitude, name or "")

    def ListFeatures(self, request, context):
        for corner in ("lo", "hi"):
            if not request.HasField(corner):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"the rectangle has no `{corner}` corner")
            self._check_point(getattr(request, corner), f"rectangle corner `{corner}`", context)
        lo = (request.lo.latitude, request.lo.longitude)
        hi = (request.hi.latitude, request.hi.longitude)
        for lat, lon, name in self.db.inside(lo, hi):
            yield self._feature_message(lat, lon, name)

    def RecordRoute(self, request_iterator, context):
        started = time.monotonic()
        points = []
        feature_count = 0
        for index, point in enumerate(request_iterator):
            self._check_point(point, f"route point #{index + 1}", context)
            points.append((point.latitude, point.longitude))
            if self.db.has_location(point.latitude, point.longitude):
                feature_count += 1
        summary = {
            "point_count": len(points),
            "feature_count": feature_count,
            "distance": int(route_length_m(points)),
            "elapsed_time": int(time.monotonic() - started),
        }
        with self._record_lock:
            self.summaries.append(summary)
            self.routes.append(points)
        return self.pb.RouteSummary(**summary)

    def RouteChat(self, request_iterator, context):
        # This call's notes so far, by location: chat is scoped to one call.
        earlier = {}
        received = []
        with self._record_lock:
            self.chats.append(received)
        for index, note in enumerate(request_iterator):
            if not note.HasField("location"):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"note #{index + 1} has no location")
            self._check_point(note.location, f"location of note #{index + 1}", context)
            key = (note.location.latitude, note.location.longitude)
            with self._record_lock:
                received.append((note.message, key))
            for previous in earlier.get(key, []):
                yield previous
            stored = self.pb.RouteNote()
            stored.CopyFrom(note)
            earlier.setdefault(key, []).append(stored)


# --- Serving ----------------------------------------------------------------------------------


def serve(db_path, port=0, *, host="127.0.0.1", proto_dir=None, servicer=None, workers=8):
    """Starts a RouteGuide server in this process and returns `(server, port)`.

    Port 0 picks a free port; the port actually bound is returned. `servicer` may be a
    `RouteGuideServicer` made by the caller (to look at what it recorded); otherwise one is made over
    the database at `db_path`. Stop the server with `server.stop(grace)`.
    """
    generated = stubs.load(proto_dir)
    if servicer is None:
        servicer = RouteGuideServicer(FeatureDb.from_file(db_path), generated.messages)
    # Every streaming call holds a worker thread while it is open, so keep a few spare.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="routeguide"))
    generated.services.add_RouteGuideServicer_to_server(servicer, server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise RuntimeError(f"cannot listen on {host}:{port}")
    server.start()
    return server, bound


def write_port_file(path, port):
    """Writes `port` to `path` whole or not at all (a temporary file renamed), as the Rust server
    does with `--port-file`: a reader that sees the file sees the port."""
    partial = f"{path}.partial-{os.getpid()}"
    with open(partial, "w") as out:
        out.write(f"{port}\n")
    os.replace(partial, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Serve RouteGuide from a feature database until SIGTERM.")
    parser.add_argument("--db", required=True, help="the JSON feature database")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one")
    parser.add_argument("--proto-dir", default=None, help="directory of route_guide.proto")
    parser.add_argument("--port-file", default=None, help="once listening, write the bound port to this file")
    args = parser.parse_args(argv)

    server, port = serve(args.db, args.port, host=args.host, proto_dir=args.proto_dir)
    print(f"Python RouteGuide listening on {args.host}:{args.port} (port {port})", file=sys.stderr, flush=True)
    if args.port_file:
        write_port_file(args.port_file, port)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    server.stop(grace=2).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
