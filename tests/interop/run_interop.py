"""Interop checks between the Rust RouteGuide binaries and grpcio for Python.

This module owns the interop suite and its report. It runs two halves and the load generator:

a. Python client vs Rust server: starts `<target-dir>/route_guide_server` on an ephemeral port and
   calls each of the four RPCs through grpcio's Python stub, in both of Python's calling styles
   (blocking calls, and `.future()` calls), checking every answer against the server's contract
   and the feature database.
b. Rust client vs Python server: serves RouteGuide in this process (route_guide_server.py), runs
   `<target-dir>/route_guide_client --json --pace 0` (the tutorial's tour in `--style sync` and
   `--style future`, plus its subcommands), reads each line it prints with Python's proto3 JSON
   parser (`google.protobuf.json_format.Parse`) into the message it should hold, and compares
   those messages with what the Python server holds, received and answered.
c. The load generator vs Python server: runs `<target-dir>/route_guide_bench load` with each RPC
   against a Python server in this process and checks its JSON report (calls, statuses, messages,
   latencies recorded) against what the Python server received.

Stubs are generated from the proto at run time (see stubs.py). Every check prints `PASS name` or
`FAIL name: reason`; an exception inside a check fails that check only. The last line is
`N passed, M failed`, and the exit code is 0 only when nothing failed (2 when the suite could not
start at all, e.g. the Rust binaries are missing). Every process started here is stopped, also
when checks fail or the run is interrupted.

`--python-server-only` is a self-test of the suite itself: it runs half (a) against the in-process
Python server instead of the Rust binary, and skips half (b), so it needs no Rust build.
"""

import argparse
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent import futures

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

import grpc  # noqa: E402  (after the path set-up, like the two local modules)
from google.protobuf import json_format  # noqa: E402

import stubs  # noqa: E402
from route_guide_server import (  # noqa: E402
    MAX_LATITUDE_E7,
    MAX_LONGITUDE_E7,
    FeatureDb,
    RouteGuideServicer,
    route_length_m,
    serve,
)

SERVER_BINARY = "route_guide_server"
CLIENT_BINARY = "route_guide_client"
BENCH_BINARY = "route_guide_bench"

# Deadline of every RPC the suite makes, in seconds, and of every client process it runs.
RPC_TIMEOUT = 10
CLIENT_TIMEOUT = 90
SERVER_START_TIMEOUT = 60
SERVER_STOP_TIMEOUT = 15

# The tutorial's fixed inputs.
KNOWN_POINT = (409146138, -746188906)
KNOWN_NAME = "Berkshire Valley Management Area Trail, Jefferson, NJ, USA"
TUTORIAL_LO = (400000000, -750000000)
TUTORIAL_HI = (420000000, -730000000)
TUTORIAL_NOTES = [
    ("First message", (0, 0)),
    ("Second message", (0, 1)),
    ("Third message", (1, 0)),
    ("Fourth message", (0, 0)),
    ("Fifth message", (1, 0)),
]
TUTORIAL_REPLIES = ["First message", "Third message"]
TOUR_ROUTE_LENGTH = 10

# A route off the database whose length is a fixed reference value.
REFERENCE_ROUTE = [(1000, 1000), (2000, 2000), (3000, 3000), (4000, 4000)]
REFERENCE_DISTANCE = 47


# --- Checks and the report --------------------------------------------------------------------


class CheckFailed(Exception):
    """A check found something other than what it expected; the message says what."""


def expect(condition, message):
    if not condition:
        raise CheckFailed(message)


def expect_equal(actual, expected, what):
    if actual != expected:
        raise CheckFailed(f"{what}: expected {expected!r}, got {actual!r}")


def expect_same_sequence(actual, expected, what):
    """Compares two lists, reporting the first difference rather than both lists whole."""
    for index, (got, wanted) in enumerate(zip(actual, expected)):
        if got != wanted:
            raise CheckFailed(f"{what}: item #{index + 1} should be {wanted!r}, got {got!r}")
    if len(actual) != len(expected):
        raise CheckFailed(f"{what}: expected {len(expected)} items, got {len(actual)}")


def expect_status(call, code, what):
    """Runs `call` and expects it to fail with the gRPC status `code`."""
    try:
        call()
    except grpc.RpcError as error:
        got = error.code() if hasattr(error, "code") else None
        expect(got == code, f"{what}: expected status {code.name}, got {getattr(got, 'name', got)}")
        return
    raise CheckFailed(f"{what}: expected status {code.name}, but the call succeeded")


def expect_distance(actual, points, what):
    """Checks a route length in whole metres against the float sum over `points`, truncated once.

    Where that sum lies within a micrometre of a whole number, another implementation's last-bit
    rounding may truncate to either side of it, so both are accepted there.
    """
    exact = route_length_m(points)
    allowed = {int(exact)}
    nearest = round(exact)
    if abs(exact - nearest) < 1e-6:
        allowed |= {nearest - 1, nearest}
    expect(actual in allowed, f"{what}: expected {int(exact)} (sum {exact:.6f} m truncated), got {actual!r}")


def describe(error):
    """One line saying why a check failed."""
    if isinstance(error, CheckFailed):
        text = str(error)
    elif isinstance(error, grpc.RpcError) and hasattr(error, "code"):
        text = f"RPC failed with {error.code().name}: {error.details()}"
    else:
        text = f"{type(error).__name__}: {error}"
    text = " ".join(text.split())
    return text if len(text) <= 400 else text[:397] + "..."


class Report:
    """Runs named checks, prints one line for each, and counts them."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, function, *args):
        """Runs `function(*args)`; returns True when it raised nothing."""
        try:
            function(*args)
        except Exception as error:  # noqa: BLE001 - any failure of a check is that check's failure
            self.fail(name, describe(error))
            return False
        self.passed += 1
        print(f"PASS {name}", flush=True)
        return True

    def fail(self, name, reason):
        self.failed += 1
        print(f"FAIL {name}: {reason}", flush=True)

    def closing_line(self):
        return f"{self.passed} passed, {self.failed} failed"


# --- The two Python calling styles -------------------------------------------------------------


class BlockingStyle:
    """Each call blocks until its answer: `stub.Method(request, timeout=...)`."""

    name = "blocking"

    def unary(self, method, request):
        return method(request, timeout=RPC_TIMEOUT)

    def client_streaming(self, method, requests):
        return method(requests, timeout=RPC_TIMEOUT)

    def server_streaming(self, method, request, on_reply=None):
        return _drain(method(request, timeout=RPC_TIMEOUT), on_reply)

    def bidi_streaming(self, method, requests, on_reply=None):
        return _drain(method(requests, timeout=RPC_TIMEOUT), on_reply)


class FutureStyle:
    """Each call starts at once and its answer is collected later.

    grpcio offers `.future()` for the methods with one response (GetFeature, RecordRoute). The
    methods that answer with a stream have no `.future()`; for them this style starts the call and
    collects its stream on another thread as a `concurrent.futures.Future`, whose result is awaited.
    """

    name = "future"

    def __init__(self, executor):
        self._executor = executor

    def unary(self, method, request):
        return method.future(request, timeout=RPC_TIMEOUT).result()

    def client_streaming(self, method, requests):
        return method.future(requests, timeout=RPC_TIMEOUT).result()

    def server_streaming(self, method, request, on_reply=None):
        return self._collect(method(request, timeout=RPC_TIMEOUT), on_reply)

    def bidi_streaming(self, method, requests, on_reply=None):
        return self._collect(method(requests, timeout=RPC_TIMEOUT), on_reply)

    def _collect(self, call, on_reply):
        pending = self._executor.submit(_drain, call, on_reply)
        try:
            return pending.result(timeout=RPC_TIMEOUT + 5)
        except futures.TimeoutError:
            call.cancel()
            raise CheckFailed("the response stream did not end before its deadline") from None


def _drain(responses, on_reply=None):
    """Every response of a stream, as a list, handing each to `on_reply` as it arrives."""
    collected = []
    for response in responses:
        if on_reply is not None:
            on_reply(response)
        collected.append(response)
    return collected


# --- Half (a): a Python client against a server ------------------------------------------------


def point_tuple(point):
    return (point.latitude, point.longitude)


class ClientSideChecks:
    """The checks a Python client makes of a RouteGuide server, in one calling style."""

    def __init__(self, stub, pb, db, style):
        self.stub = stub
        self.pb = pb
        self.db = db
        self.style = style

    # Message builders.

    def point(self, lat, lon):
        return self.pb.Point(latitude=lat, longitude=lon)

    def rectangle(self, lo, hi):
        return self.pb.Rectangle(lo=self.point(*lo), hi=self.point(*hi))

    def note(self, message, location):
        return self.pb.RouteNote(location=self.point(*location), message=message)

    def features_as_tuples(self, features):
        return [(f.location.latitude, f.location.longitude, f.name) for f in features]

    def record(self, points, pause_before_end=0.0):
        def route():
            for lat, lon in points:
                yield self.point(lat, lon)
            if pause_before_end:
                time.sleep(pause_before_end)

        return self.style.client_streaming(self.stub.RecordRoute, route())

    # The checks, as (name, method) pairs.

    def all_checks(self):
        return [
            ("GetFeature known point", self.get_feature_known),
            ("GetFeature unknown point keeps the location", self.get_feature_unknown),
            ("GetFeature at the coordinate limits is valid", self.get_feature_limits),
            ("ListFeatures tutorial rectangle gives the whole DB in file order", self.list_tutorial),
            ("ListFeatures swapped corners give the same features", self.list_swapped),
            ("ListFeatures includes features on the edges", self.list_edges),
            ("RecordRoute 47-metre reference route", self.record_reference),
            ("RecordRoute empty stream gives zeros", self.record_empty),
            ("RecordRoute over DB points counts features", self.record_db_points),
            ("RecordRoute elapsed_time counts whole seconds", self.record_elapsed),
            ("RouteChat tutorial notes give First then Third", self.chat_tutorial),
            ("RouteChat replies while the request stream is open", self.chat_reply_before_close),
            ("INVALID_ARGUMENT for a latitude out of range", self.invalid_latitude),
            ("INVALID_ARGUMENT for a longitude out of range", self.invalid_longitude),
            ("INVALID_ARGUMENT for a rectangle missing hi", self.invalid_rectangle),
            ("INVALID_ARGUMENT for a route point out of range", self.invalid_route_point),
            ("INVALID_ARGUMENT for a note without location", self.invalid_note),
        ]

    def get_feature_known(self):
        feature = self.style.unary(self.stub.GetFeature, self.point(*KNOWN_POINT))
        expect_equal(feature.name, KNOWN_NAME, "name")
        expect(feature.HasField("location"), "the feature has no location")
        expect_equal(point_tuple(feature.location), KNOWN_POINT, "location")

    def get_feature_unknown(self):
        for where in [(0, 0), (123456789, -123456789)]:
            expect(not self.db.has_location(*where), f"test set-up: {where} is in the database")
            feature = self.style.unary(self.stub.GetFeature, self.point(*where))
            expect_equal(feature.name, "", f"name at {where}")
            expect(feature.HasField("location"), f"the feature at {where} has no location set")
            expect_equal(point_tuple(feature.location), where, "location")

    def get_feature_limits(self):
        for where in [(MAX_LATITUDE_E7, MAX_LONGITUDE_E7), (-MAX_LATITUDE_E7, -MAX_LONGITUDE_E7)]:
            feature = self.style.unary(self.stub.GetFeature, self.point(*where))
            expect_equal((feature.name, point_tuple(feature.location)), ("", where), f"feature at {where}")

    def list_tutorial(self):
        features = self.style.server_streaming(
            self.stub.ListFeatures, self.rectangle(TUTORIAL_LO, TUTORIAL_HI)
        )
        expect_equal(len(self.db.features), 100, "test set-up: features in the database")
        expect_same_sequence(self.features_as_tuples(features), self.db.features, "ListFeatures")

    def list_swapped(self):
        (lo_lat, lo_lon), (hi_lat, hi_lon) = TUTORIAL_LO, TUTORIAL_HI
        for lo, hi in [
            ((hi_lat, hi_lon), (lo_lat, lo_lon)),
            ((lo_lat, hi_lon), (hi_lat, lo_lon)),
            ((hi_lat, lo_lon), (lo_lat, hi_lon)),
        ]:
            features = self.style.server_streaming(self.stub.ListFeatures, self.rectangle(lo, hi))
            expect_same_sequence(self.features_as_tuples(features), self.db.features, f"lo={lo} hi={hi}")

    def list_edges(self):
        # A rectangle whose corners are two features, and one shrunk to a single feature's point.
        a, b = self.db.features[0][:2], self.db.features[1][:2]
        for lo, hi in [(a, b), (a, a)]:
            expected = self.db.inside(lo, hi)
            expect(self.db.features[0] in expected, "test set-up: the corner feature is not inside")
            features = self.style.server_streaming(self.stub.ListFeatures, self.rectangle(lo, hi))
            expect_same_sequence(self.features_as_tuples(features), expected, f"lo={lo} hi={hi}")

    def record_reference(self):
        summary = self.record(REFERENCE_ROUTE)
        expect_equal(
            (summary.point_count, summary.feature_count, summary.distance),
            (len(REFERENCE_ROUTE), 0, REFERENCE_DISTANCE),
            "(point_count, feature_count, distance)",
        )
        expect(0 <= summary.elapsed_time <= 2, f"elapsed_time {summary.elapsed_time} for an instant route")

    def record_empty(self):
        summary = self.record([])
        expect_equal(
            (summary.point_count, summary.feature_count, summary.distance, summary.elapsed_time),
            (0, 0, 0, 0),
            "(point_count, feature_count, distance, elapsed_time)",
        )

    def record_db_points(self):
        # Named and unnamed features, two points off the database, and one feature visited twice.
        unnamed = next(f for f in self.db.features if not f[2])[:2]
        named = [f[:2] for f in self.db.features if f[2]][:4]
        off_db = [(400000000, -745000000), (0, 0)]
        route = [named[0], named[1], unnamed, off_db[0], named[2], named[0], off_db[1], named[3]]
        expected_features = sum(1 for p in route if self.db.has_location(*p))
        expect_equal(expected_features, 6, "test set-up: database points on the route")
        summary = self.record(route)
        expect_equal(summary.point_count, len(route), "point_count")
        expect_equal(summary.feature_count, expected_features, "feature_count")
        expect_distance(summary.distance, route, "distance")

    def record_elapsed(self):
        # The route ends 1.3 s after the call starts: 1 whole second.
        summary = self.record(REFERENCE_ROUTE, pause_before_end=1.3)
        expect_equal(summary.elapsed_time, 1, "elapsed_time")
        expect_equal(summary.distance, REFERENCE_DISTANCE, "distance")

    def chat_tutorial(self):
        notes = [self.note(message, where) for message, where in TUTORIAL_NOTES]
        replies = self.style.bidi_streaming(self.stub.RouteChat, iter(notes))
        expect_equal([r.message for r in replies], TUTORIAL_REPLIES, "replies")
        sent_at = {message: where for message, where in TUTORIAL_NOTES}
        for reply in replies:
            expect(reply.HasField("location"), f"reply {reply.message!r} has no location")
            expect_equal(point_tuple(reply.location), sent_at[reply.message], f"location of {reply.message!r}")

    def chat_reply_before_close(self):
        # The second note earns a reply at once. The request stream waits for that reply before
        # sending its third note, so a server that held replies until the stream closes would never
        # send it: the wait is bounded and then the stream closes, so the check fails, not hangs.
        where = (123456789, 98765432)
        arrived = queue.Queue()
        early = []

        def notes():
            yield self.note("alpha", where)
            yield self.note("beta", where)
            try:
                early.append(arrived.get(timeout=5).message)
            except queue.Empty:
                return
            yield self.note("gamma", where)

        replies = self.style.bidi_streaming(self.stub.RouteChat, notes(), on_reply=arrived.put)
        expect(early, "no reply within 5 s to the second note while the request stream was open")
        expect_equal(early[0], "alpha", "first reply")
        expect_equal([r.message for r in replies], ["alpha", "alpha", "beta"], "all replies")

    def invalid_latitude(self):
        for lat in [MAX_LATITUDE_E7 + 1, -MAX_LATITUDE_E7 - 1]:
            expect_status(
                lambda: self.style.unary(self.stub.GetFeature, self.point(lat, 0)),
                grpc.StatusCode.INVALID_ARGUMENT,
                f"GetFeature at latitude {lat}",
            )

    def invalid_longitude(self):
        for lon in [MAX_LONGITUDE_E7 + 1, -MAX_LONGITUDE_E7 - 1]:
            expect_status(
                lambda: self.style.unary(self.stub.GetFeature, self.point(0, lon)),
                grpc.StatusCode.INVALID_ARGUMENT,
                f"GetFeature at longitude {lon}",
            )

    def invalid_rectangle(self):
        missing_hi = self.pb.Rectangle(lo=self.point(*TUTORIAL_LO))
        expect_status(
            lambda: self.style.server_streaming(self.stub.ListFeatures, missing_hi),
            grpc.StatusCode.INVALID_ARGUMENT,
            "ListFeatures without hi",
        )
        missing_lo = self.pb.Rectangle(hi=self.point(*TUTORIAL_HI))
        expect_status(
            lambda: self.style.server_streaming(self.stub.ListFeatures, missing_lo),
            grpc.StatusCode.INVALID_ARGUMENT,
            "ListFeatures without lo",
        )

    def invalid_route_point(self):
        expect_status(
            lambda: self.record([KNOWN_POINT, (MAX_LATITUDE_E7 + 1, 0)]),
            grpc.StatusCode.INVALID_ARGUMENT,
            "RecordRoute through latitude 900000001",
        )

    def invalid_note(self):
        notes = [self.note("placed", (0, 0)), self.pb.RouteNote(message="nowhere")]
        expect_status(
            lambda: self.style.bidi_streaming(self.stub.RouteChat, iter(notes)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "RouteChat with a note without location",
        )


def run_client_side_checks(report, label, port, generated, db):
    """Half (a): every client-side check, in both calling styles, against the server on `port`."""
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    executor = futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="collect")
    try:
        connected = report.check(
            f"{label}: accepts a connection",
            lambda: grpc.channel_ready_future(channel).result(timeout=RPC_TIMEOUT),
        )
        if not connected:
            return
        stub = generated.services.RouteGuideStub(channel)
        for style in [BlockingStyle(), FutureStyle(executor)]:
            checks = ClientSideChecks(stub, generated.messages, db, style)
            for name, check in checks.all_checks():
                report.check(f"{label}/{style.name}: {name}", check)
    finally:
        channel.close()
        executor.shutdown(wait=False, cancel_futures=True)


class ServerProcess:
    """The Rust server binary, on 127.0.0.1 port 0, with its stderr log read on a thread. The port
    it bound comes from the file it writes once listening (`--port-file`)."""

    def __init__(self, binary, db_path, extra_args=()):
        self.port_dir = tempfile.mkdtemp(prefix="routeguide-interop-")
        self.port_file = os.path.join(self.port_dir, "port")
        self.command = [binary, "--addr", "127.0.0.1:0", "--db", db_path, "--port-file", self.port_file, *extra_args]
        self.process = None
        self.port = None
        self.log = []

    def start(self):
        """Starts the server and waits until its log names the port; raises CheckFailed if not."""
        env = dict(os.environ, RUST_LOG="info")
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            env=env,
        )
        threading.Thread(target=self._read_log, daemon=True, name="server-log").start()
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not os.path.exists(self.port_file):
            if self.process.poll() is not None:
                raise CheckFailed(f"the server exited with {self.process.returncode}: {self.last_log()}")
            if time.monotonic() > deadline:
                raise CheckFailed(f"no port file after {SERVER_START_TIMEOUT} s: {self.last_log()}")
            time.sleep(0.05)
        with open(self.port_file) as port:
            self.port = int(port.read())

    def _read_log(self):
        for line in self.process.stderr:
            self.log.append(line.rstrip("\n"))

    def last_log(self):
        return self.log[-1] if self.log else "(nothing logged)"

    def stop(self):
        """Stops the server: SIGTERM, then SIGKILL if it has not exited after SERVER_STOP_TIMEOUT.

        Returns its exit status (already set if it had exited by itself), or a sentence when it had
        to be killed.
        """
        shutil.rmtree(self.port_dir, ignore_errors=True)
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=SERVER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                return "still running after SIGTERM (killed)"
        return self.process.returncode


def check_health(port):
    """The standard health service, through grpcio-health-checking's own stubs."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        serving = health_pb2.HealthCheckResponse.SERVING
        for service in ["", "routeguide.RouteGuide"]:
            answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=RPC_TIMEOUT)
            expect_equal(answer.status, serving, f"health of {service!r}")
        expect_status(
            lambda: health.Check(health_pb2.HealthCheckRequest(service="routeguide.Nothing"), timeout=RPC_TIMEOUT),
            grpc.StatusCode.NOT_FOUND,
            "health of an unknown service",
        )


def check_reflection(port):
    """Server reflection, through grpcio-reflection's descriptor database: list the services,
    then call GetFeature with message classes built from the descriptors alone (no .proto)."""
    from google.protobuf import message_factory
    from google.protobuf.descriptor_pool import DescriptorPool
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = set(database.get_services())
        for name in ["routeguide.RouteGuide", "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"]:
            expect(name in services, f"{name} not in the listed services {sorted(services)}")
        pool = DescriptorPool(database)
        method = pool.FindServiceByName("routeguide.RouteGuide").FindMethodByName("GetFeature")
        point = message_factory.GetMessageClass(method.input_type)
        feature = message_factory.GetMessageClass(method.output_type)
        get_feature = channel.unary_unary(
            "/routeguide.RouteGuide/GetFeature",
            request_serializer=point.SerializeToString,
            response_deserializer=feature.FromString,
        )
        answer = get_feature(point(latitude=409146138, longitude=-746188906), timeout=RPC_TIMEOUT)
        expect_equal(answer.name, "Berkshire Valley Management Area Trail, Jefferson, NJ, USA", "name")
        expect_equal(
            pool.FindMessageTypeByName("routeguide.RouteSummary").fields_by_name["distance"].number,
            3,
            "RouteSummary.distance's field number",
        )


def check_reflection_v1(port):
    """Server reflection under its v1 name, whose descriptor the server derives from v1alpha's:
    Python's protobuf accepts the file it hands out, and finds the v1 service and types in it."""
    from google.protobuf.descriptor_pool import DescriptorPool
    from grpc_reflection.v1alpha import reflection_pb2

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        # grpcio-reflection has v1alpha's classes only; v1's messages are the same on the wire.
        info = channel.stream_stream(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
        request = reflection_pb2.ServerReflectionRequest(
            file_containing_symbol="grpc.reflection.v1.ServerReflection"
        )
        responses = list(info(iter([request]), timeout=RPC_TIMEOUT))
    expect_equal(len(responses), 1, "responses to one request")
    pool = DescriptorPool()
    for serialized in responses[0].file_descriptor_response.file_descriptor_proto:
        # Refuses a descriptor that is not valid (a type name on a scalar field, a missing type).
        pool.AddSerializedFile(serialized)
    method = pool.FindServiceByName("grpc.reflection.v1.ServerReflection").FindMethodByName(
        "ServerReflectionInfo"
    )
    expect_equal(
        method.input_type.full_name, "grpc.reflection.v1.ServerReflectionRequest", "input type"
    )


def rust_server_half(report, server_binary, db_path, generated, db):
    """Half (a) against the Rust server binary, which is stopped whatever happens."""
    server = ServerProcess(server_binary, db_path)
    try:
        if not report.check("rust-server: starts and logs its port", server.start):
            return
        run_client_side_checks(report, "rust-server", server.port, generated, db)
        report.check("rust-server: health service answers", check_health, server.port)
        report.check("rust-server: reflection describes RouteGuide", check_reflection, server.port)
        report.check("rust-server: reflection v1 describes itself", check_reflection_v1, server.port)
    finally:
        status = server.stop()
    report.check(
        "rust-server: exits 0 on SIGTERM",
        lambda: expect_equal(status, 0, "exit status"),
    )


# --- Half (b): the Rust client against the Python server ----------------------------------------


class ClientRun:
    """One run of the Rust client: its exit status, standard error, and the lines it printed.

    Under `--json` the client prints each response message as one line of the proto3 JSON
    mapping, and nothing else; which message a line holds follows from the command, so the
    checks parse the lines with `parse_message` into the class they expect.
    """

    def __init__(self, command, completed):
        self.command = command
        self.returncode = completed.returncode
        self.stderr = completed.stderr
        self.lines = [line for line in completed.stdout.splitlines() if line.strip()]
        # The first line that is not a JSON object, which no message's JSON can be.
        self.parse_error = None
        for number, line in enumerate(self.lines, start=1):
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                self.parse_error = f"stdout line {number} is not JSON ({error}): {line[:120]!r}"
                break
            if not isinstance(value, dict):
                self.parse_error = f"stdout line {number} is not a JSON object: {line[:120]!r}"
                break

    def expect_success(self):
        """The run exited 0 and printed one JSON object a line."""
        last = (self.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        expect(self.returncode == 0, f"exit status {self.returncode}: {last}")
        expect(self.parse_error is None, str(self.parse_error))

    def messages(self, message_class):
        """Every line as a `message_class`."""
        return [
            parse_message(line, message_class, f"stdout line {number}")
            for number, line in enumerate(self.lines, start=1)
        ]


def parse_message(line, message_class, what):
    """`line` read by Python's proto3 JSON parser into a new `message_class`, which refuses a
    field the message does not have; CheckFailed naming `what` when it cannot."""
    try:
        return json_format.Parse(line, message_class())
    except json_format.ParseError as error:
        name = message_class.DESCRIPTOR.name
        raise CheckFailed(f"{what} is not a {name} in proto3 JSON ({error}): {line[:120]!r}") from None


def parses_as(line, message_class):
    try:
        json_format.Parse(line, message_class())
    except json_format.ParseError:
        return False
    return True


class RustClientChecks:
    """The checks of the Rust client's output against the in-process Python server."""

    def __init__(self, client_binary, port, db_path, servicer):
        self.client_binary = client_binary
        self.port = port
        self.db_path = db_path
        self.servicer = servicer
        self.db = servicer.db
        self.pb = servicer.pb

    def run(self, style, args=(), stdin_text=None):
        command = [
            self.client_binary, "--addr", f"127.0.0.1:{self.port}", "--json", "--pace", "0",
            "--style", style, "--db", self.db_path, *args,
        ]
        completed = subprocess.run(
            command,
            input=stdin_text if stdin_text is not None else "",
            capture_output=True,
            text=True,
            errors="replace",
            timeout=CLIENT_TIMEOUT,
        )
        return ClientRun(command, completed)

    def run_recording(self, style, args=(), stdin_text=None):
        """Runs the client; returns `(run, recorded)`, where `recorded` holds what the Python
        server recorded meanwhile: `summaries`, `routes` and `chats` (see RouteGuideServicer)."""
        servicer = self.servicer
        before = (len(servicer.summaries), len(servicer.routes), len(servicer.chats))
        run = self.run(style, args, stdin_text)
        recorded = {
            "summaries": servicer.summaries[before[0]:],
            "routes": servicer.routes[before[1]:],
            "chats": servicer.chats[before[2]:],
        }
        return run, recorded

    # Messages as the Python server sends them.

    def feature(self, lat, lon, name):
        return self.pb.Feature(name=name, location=self.pb.Point(latitude=lat, longitude=lon))

    def note(self, message, location):
        lat, lon = location
        return self.pb.RouteNote(location=self.pb.Point(latitude=lat, longitude=lon), message=message)

    # Checks of one tour's output. Its exit status and line format have a check of their own, so
    # these judge the lines as they are, each naming what is wrong in its own section.

    def tour_sections(self, run):
        """The tour's lines as messages, `(features, summary, replies)`: Features first (GetFeature's
        two, then ListFeatures'), up to the first line that does not parse as one. That line is
        the RouteSummary (its `pointCount` is no field of Feature: the tour's route has 10
        points, so it is there), and every line after it is a RouteChat reply."""
        features = []
        for line in run.lines:
            if not parses_as(line, self.pb.Feature):
                break
            features.append(parse_message(line, self.pb.Feature, "a Feature line"))
        rest = run.lines[len(features):]
        expect(rest, f"after {len(features)} Feature lines, no RouteSummary line")
        summary_number = len(features) + 1
        summary = parse_message(rest[0], self.pb.RouteSummary, f"stdout line {summary_number}")
        replies = [
            parse_message(line, self.pb.RouteNote, f"stdout line {number}")
            for number, line in enumerate(rest[1:], start=summary_number + 1)
        ]
        return features, summary, replies

    def tour_order(self, run):
        features, _, _ = self.tour_sections(run)
        expect(len(features) >= 2, f"expected 2 GetFeature lines first, got {len(features)} Features")

    def tour_get_feature(self, run):
        features, _, _ = self.tour_sections(run)
        expect(len(features) >= 2, f"expected 2 GetFeature lines, got {len(features)}")
        known_name = self.db.name_at(*KNOWN_POINT)
        expect_equal(known_name, KNOWN_NAME, "test set-up: name in the database")
        expect_equal(features[0], self.feature(*KNOWN_POINT, known_name), "first GetFeature")
        # `{"location": {}}`: the location is set, though each of its fields is at its default.
        expect(features[1].HasField("location"), "second GetFeature (0, 0) has no location")
        expect_equal(features[1], self.feature(0, 0, ""), "second GetFeature (0, 0)")

    def tour_list_features(self, run):
        features, _, _ = self.tour_sections(run)
        expected = [self.feature(*f) for f in self.db.inside(TUTORIAL_LO, TUTORIAL_HI)]
        expect_equal(len(expected), 100, "test set-up: features in the tutorial rectangle")
        expect_same_sequence(features[2:], expected, "ListFeatures lines")

    def check_summary(self, summary, recorded):
        """The printed summary is the one the Python server sent. The client does not print the
        points it sends, so the route is judged by what the server received (`recorded["routes"]`);
        the counts and distance are the server's own arithmetic over it, checked independently by
        the reference route of `record-route --stdin`."""
        answered = recorded["summaries"]
        expect_equal(len(answered), 1, "RecordRoute calls the Python server answered")
        expect_equal(summary, self.pb.RouteSummary(**answered[0]),
                     "printed summary vs the one the Python server sent")

    def tour_record_route(self, run, recorded):
        _, summary, _ = self.tour_sections(run)
        routes = recorded["routes"]
        expect_equal(len(routes), 1, "RecordRoute calls the Python server recorded")
        expect_equal(len(routes[0]), TOUR_ROUTE_LENGTH, "points the Python server received")
        expect(
            all(self.db.has_location(*p) for p in routes[0]),
            "the tour should visit database features only",
        )
        self.check_summary(summary, recorded)

    def tour_route_chat(self, run, recorded):
        _, _, replies = self.tour_sections(run)
        # The notes sent are not printed; the Python server recorded what it received.
        expect_equal(recorded["chats"], [list(TUTORIAL_NOTES)], "notes the Python server received")
        sent_at = dict(TUTORIAL_NOTES)
        expected = [self.note(m, sent_at[m]) for m in TUTORIAL_REPLIES]
        expect_same_sequence(replies, expected, "replies (message and location)")

    # Subcommands.

    def record_route_stdin(self, style):
        # Each line as Python's proto3 JSON printer writes a Point.
        stdin_text = "".join(
            json_format.MessageToJson(self.pb.Point(latitude=a, longitude=b), indent=None) + "\n"
            for a, b in REFERENCE_ROUTE
        )
        run, recorded = self.run_recording(style, ["record-route", "--stdin"], stdin_text)
        run.expect_success()
        expect_equal(recorded["routes"], [REFERENCE_ROUTE], "points the Python server received")
        summaries = run.messages(self.pb.RouteSummary)
        expect_equal(len(summaries), 1, "lines (one RouteSummary)")
        self.check_summary(summaries[0], recorded)
        summary = summaries[0]
        expect_equal(
            (summary.point_count, summary.feature_count, summary.distance),
            (len(REFERENCE_ROUTE), 0, REFERENCE_DISTANCE),
            "(point_count, feature_count, distance)",
        )

    def get_feature_subcommand(self, style):
        run = self.run(style, ["get-feature", str(KNOWN_POINT[0]), str(KNOWN_POINT[1])])
        run.expect_success()
        expected = self.feature(*KNOWN_POINT, KNOWN_NAME)
        expect_equal(run.messages(self.pb.Feature), [expected], "output")
        # Byte for byte what Python's proto3 JSON printer writes on one line: same field order,
        # same names, same spacing.
        python_line = json_format.MessageToJson(expected, indent=None, ensure_ascii=False)
        expect_equal(run.lines, [python_line], "output vs Python's json_format")

    def get_feature_refused_subcommand(self, style):
        """A status from another gRPC implementation, as the client's one `{"error": ...}` line."""
        latitude = MAX_LATITUDE_E7 + 1
        run = self.run(style, ["get-feature", str(latitude), "0"])
        expect_equal(run.returncode, 1, "exit status (the server answered with an error)")
        expect_equal(run.stderr, "", "standard error")
        expect_equal(len(run.lines), 1, "stdout lines")
        expect(run.parse_error is None, str(run.parse_error))
        error = json.loads(run.lines[0]).get("error")
        expect(isinstance(error, dict), f"expected {{\"error\": {{...}}}}, got {run.lines[0]!r}")
        code = grpc.StatusCode.INVALID_ARGUMENT
        expect_equal(
            (error.get("code"), error.get("status"), error.get("rpc")),
            (code.value[0], code.name, "GetFeature"),
            "(code, status, rpc)",
        )
        expect(str(latitude) in error.get("message", ""), f"the server's message, got {error!r}")

    def list_features_subcommand(self, style):
        # Corners given hi first, with negative longitudes as positionals.
        a, b = self.db.features[0][:2], self.db.features[1][:2]
        expected = [self.feature(*f) for f in self.db.inside(a, b)]
        expect(len(expected) >= 2, "test set-up: the rectangle should hold its two corner features")
        run = self.run(style, ["list-features", str(b[0]), str(b[1]), str(a[0]), str(a[1])])
        run.expect_success()
        expect_same_sequence(run.messages(self.pb.Feature), expected, "output")

    def route_chat_stdin(self, style):
        here, there = (1, 2), (3, 4)
        notes = [("a", here), ("b", there), ("c", here), ("d", here), ("e", there)]
        stdin_text = "".join(json_format.MessageToJson(self.note(*n), indent=None) + "\n" for n in notes)
        run, recorded = self.run_recording(style, ["route-chat", "--stdin"], stdin_text)
        run.expect_success()
        expect_equal(recorded["chats"], [notes], "notes the Python server received")
        expected = [self.note(m, p) for m, p in [("a", here), ("a", here), ("c", here), ("b", there)]]
        expect_same_sequence(run.messages(self.pb.RouteNote), expected, "replies")


def rust_client_half(report, client_binary, db_path, generated, db):
    """Half (b): the Rust client against a Python server in this process, stopped whatever happens."""
    servicer = RouteGuideServicer(db, generated.messages)
    server, port = serve(db_path, 0, servicer=servicer)
    try:
        checks = RustClientChecks(client_binary, port, db_path, servicer)
        for style in ["sync", "future"]:
            label = f"rust-client/{style}"
            tour = {}

            def run_tour(style=style):
                tour["run"], tour["recorded"] = checks.run_recording(style)
                tour["run"].expect_success()

            report.check(f"{label}: tour exits 0 with JSON lines", run_tour)
            if "run" in tour:  # the client ran, whatever its exit status: judge what it printed
                run = tour["run"]
                for name, check, *args in [
                    ("tour prints its sections in order", checks.tour_order, run),
                    ("tour GetFeature answers", checks.tour_get_feature, run),
                    ("tour ListFeatures gives the DB rectangle in order", checks.tour_list_features, run),
                    ("tour RecordRoute summary", checks.tour_record_route, run, tour["recorded"]),
                    ("tour RouteChat replies First then Third", checks.tour_route_chat, run, tour["recorded"]),
                ]:
                    report.check(f"{label}: {name}", check, *args)
            for name, check in [
                ("record-route --stdin 47-metre route", checks.record_route_stdin),
                ("get-feature subcommand", checks.get_feature_subcommand),
                ("get-feature out of range prints one JSON error", checks.get_feature_refused_subcommand),
                ("list-features subcommand with swapped corners", checks.list_features_subcommand),
                ("route-chat --stdin", checks.route_chat_stdin),
            ]:
                report.check(f"{label}: {name}", check, style)
    finally:
        server.stop(grace=None)


# --- Part (c): the load generator against the Python server -------------------------------------


class LoadChecks:
    """`route_guide_bench load` against the in-process Python server: each run's JSON report, and
    what the Python server recorded meanwhile (`routes`, `chats`)."""

    def __init__(self, bench_binary, port, db_path, servicer):
        self.bench_binary = bench_binary
        self.addr = f"127.0.0.1:{port}"
        self.db_path = db_path
        self.servicer = servicer

    def run(self, args):
        """Runs a load that must exit 0; returns its JSON report."""
        command = [self.bench_binary, "load", "--addr", self.addr, "--db", self.db_path,
                   "--format", "json", *args]
        completed = subprocess.run(command, capture_output=True, text=True, errors="replace",
                                   timeout=CLIENT_TIMEOUT)
        last = (completed.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        expect(completed.returncode == 0, f"exit status {completed.returncode}: {last}")
        try:
            return json.loads(completed.stdout)
        except json.JSONDecodeError as error:
            raise CheckFailed(f"--format json printed no JSON ({error}): {completed.stdout[:120]!r}") from None

    @staticmethod
    def expect_counts(report, calls, statuses, messages):
        expect_equal(report["calls"], calls, "calls")
        expect_equal(report["statuses"], statuses, "statuses")
        expect_equal(report["messages"], messages, "messages")
        expect(report["latency"]["p50_us"] > 0, f"a p50 latency: {report['latency']}")
        in_histogram = sum(bucket["count"] for bucket in report["histogram"])
        expect_equal(in_histogram, report["latency"]["count"], "latencies in the histogram")

    def get_feature(self):
        report = self.run(["--rpc", "get-feature", "--calls", "200", "--connections", "2",
                           "--in-flight", "4"])
        self.expect_counts(report, 200, {"OK": 200}, 200)
        expect_equal(report["latency"]["count"], 200, "latencies recorded")

    def get_feature_refused(self):
        # Every other call asks about a latitude beyond 90 degrees.
        report = self.run(["--rpc", "get-feature", "--calls", "30",
                           "--point", f"{KNOWN_POINT[0]},{KNOWN_POINT[1]}",
                           "--point", f"{MAX_LATITUDE_E7 + 1},0"])
        self.expect_counts(report, 30, {"OK": 15, "INVALID_ARGUMENT": 15}, 15)

    def list_features(self):
        report = self.run(["--rpc", "list-features", "--calls", "10"])
        per_call = len(self.servicer.db.inside(TUTORIAL_LO, TUTORIAL_HI))
        expect(per_call > 0, "features in the tutorial's rectangle")
        self.expect_counts(report, 10, {"OK": 10}, 10 * per_call)

    def record_route(self):
        before = len(self.servicer.routes)
        report = self.run(["--rpc", "record-route", "--calls", "20", "--route-points", "5",
                           "--in-flight", "4"])
        self.expect_counts(report, 20, {"OK": 20}, 100)
        routes = self.servicer.routes[before:]
        expect_equal(len(routes), 20, "routes the Python server received")
        expect(all(len(route) == 5 for route in routes), "5 points in each route")

    def route_chat(self):
        before = len(self.servicer.chats)
        report = self.run(["--rpc", "route-chat", "--calls", "6", "--in-flight", "3",
                           "--chat-notes", "4"])
        self.expect_counts(report, 6, {"OK": 6}, 24)
        expect_equal(report["replies_correct"], 12, "replies that were the note expected")
        chats = self.servicer.chats[before:]
        expect_equal(len(chats), 6, "chats the Python server received")
        expect(all(len(notes) == 4 for notes in chats), "4 notes in each chat")


def load_part(report, bench_binary, db_path, generated, db):
    """Part (c): route_guide_bench load against a Python server in this process."""
    servicer = RouteGuideServicer(db, generated.messages)
    server, port = serve(db_path, 0, servicer=servicer)
    try:
        checks = LoadChecks(bench_binary, port, db_path, servicer)
        for name, check in [
            ("get-feature: 200 calls, all OK", checks.get_feature),
            ("get-feature: out-of-range points counted as INVALID_ARGUMENT", checks.get_feature_refused),
            ("list-features: every feature of each call counted", checks.list_features),
            ("record-route: routes and points as the server received them", checks.record_route),
            ("route-chat: chats, notes and replies as the server saw them", checks.route_chat),
        ]:
            report.check(f"bench-load/python-server: {name}", check)
    finally:
        server.stop(grace=None)


# --- Entry point --------------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Interop checks between the Rust RouteGuide binaries and Python grpcio."
    )
    parser.add_argument("--target-dir", default=os.path.join(REPO, "target", "debug"),
                        help="directory holding route_guide_server, route_guide_client and route_guide_bench "
                        "(default target/debug)")
    parser.add_argument("--db", default=os.path.join(REPO, "data", "route_guide_db.json"),
                        help="the JSON feature database both sides serve (default data/route_guide_db.json)")
    parser.add_argument("--proto-dir", default=stubs.DEFAULT_PROTO_DIR,
                        help="directory of route_guide.proto (default proto)")
    parser.add_argument("--python-server-only", action="store_true",
                        help="self-test: run the Python client checks against the Python server "
                        "(no Rust binaries needed)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    # A SIGTERM unwinds like Ctrl-C does, so the processes started here are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    server_binary = os.path.join(args.target_dir, SERVER_BINARY)
    client_binary = os.path.join(args.target_dir, CLIENT_BINARY)
    bench_binary = os.path.join(args.target_dir, BENCH_BINARY)
    if not args.python_server_only:
        binaries = (server_binary, client_binary, bench_binary)
        missing = [b for b in binaries if not os.access(b, os.X_OK)]
        if missing:
            print(f"error: Rust binaries missing: {', '.join(missing)} (build them first: "
                  "cargo build --bins && cargo build -p routeguide-bench)", file=sys.stderr)
            return 2
    try:
        generated = stubs.load(args.proto_dir)
        db = FeatureDb.from_file(args.db)
    except (stubs.StubError, OSError, ValueError) as error:
        print(f"error: {describe(error)}", file=sys.stderr)
        return 2

    report = Report()
    if args.python_server_only:
        servicer = RouteGuideServicer(db, generated.messages)
        server, port = serve(args.db, 0, servicer=servicer)
        try:
            run_client_side_checks(report, "python-server", port, generated, db)
        finally:
            server.stop(grace=None)
    else:
        rust_server_half(report, server_binary, os.path.abspath(args.db), generated, db)
        rust_client_half(report, client_binary, os.path.abspath(args.db), generated, db)
        load_part(report, bench_binary, os.path.abspath(args.db), generated, db)

    print(report.closing_line(), flush=True)
    return 0 if report.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
