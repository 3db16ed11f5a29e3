# A load client built only from stock parts: Python's grpcio (gRPC's C core) with stubs generated
# from proto/log/v1/log.proto by grpc_tools at start-up, as any Python user of the Go original would
# write it. One process per trial; it prints one JSON line with what it measured (the same shape as
# stock-grpc-js-client.ts). Needs Debian's python3-grpcio and python3-grpc-tools; run with /usr/bin/python3.
#
#   python3 stock_grpc_client.py --target HOST:PORT --mode unary|produce-stream|consume-stream
#           [--seconds S] [--concurrency N] [--record-bytes B] [--from OFFSET]
import argparse
import json
import os
import sys
import tempfile
import threading
import time

import grpc
from grpc_tools import protoc

parser = argparse.ArgumentParser()
parser.add_argument("--target", required=True)
parser.add_argument("--mode", required=True, choices=["unary", "produce-stream", "consume-stream"])
parser.add_argument("--seconds", type=float, default=5)
parser.add_argument("--concurrency", type=int, default=1)
parser.add_argument("--record-bytes", type=int, default=100)
parser.add_argument("--from", dest="offset", type=int, default=0)
args = parser.parse_args()

PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto")
generated = tempfile.mkdtemp(prefix="loghouse-stubs-")
# grpc_tools ships the well-known types (google/protobuf/wrappers.proto, which log.proto imports).
WELL_KNOWN_DIR = os.path.join(os.path.dirname(protoc.__file__), "_proto")
if protoc.main(["protoc", f"-I{PROTO_DIR}", f"-I{WELL_KNOWN_DIR}", f"--python_out={generated}", f"--grpc_python_out={generated}", "log/v1/log.proto"]) != 0:
    sys.exit("generating stubs from proto/ failed")
sys.path.insert(0, generated)
from log.v1 import log_pb2, log_pb2_grpc  # noqa: E402

channel = grpc.insecure_channel(args.target)
stub = log_pb2_grpc.LogStub(channel)
value = b"a" * args.record_bytes
request = log_pb2.ProduceRequest(record=log_pb2.Record(value=value))


def unary():
    """--concurrency calls in flight, each reissued from its completion callback."""
    latencies = []
    lock = threading.Lock()
    finished = threading.Event()
    started = time.perf_counter()
    deadline = started + args.seconds
    outstanding = [args.concurrency]

    def issue():
        sent = time.perf_counter()
        future = stub.Produce.future(request)
        future.add_done_callback(lambda f: complete(f, sent))

    def complete(future, sent):
        future.result()
        now = time.perf_counter()
        with lock:
            latencies.append((now - sent) * 1000)
            if now >= deadline:
                outstanding[0] -= 1
                if outstanding[0] == 0:
                    finished.set()
                return
        issue()

    for _ in range(args.concurrency):
        issue()
    finished.wait()
    return {"calls": len(latencies), "seconds": time.perf_counter() - started, "latenciesMs": latencies}


def produce_stream():
    """One stream, one record per message, as fast as flow control lets the requests go."""
    started = time.perf_counter()
    deadline = started + args.seconds

    def requests():
        while time.perf_counter() < deadline:
            yield request

    acknowledged = sum(1 for _ in stub.ProduceStream(requests()))
    return {"calls": acknowledged, "seconds": time.perf_counter() - started, "latenciesMs": []}


def consume_stream():
    """One stream from --from, cancelled after --seconds (at the tail it would wait for more)."""
    started = time.perf_counter()
    call = stub.ConsumeStream(log_pb2.ConsumeRequest(offset=args.offset))
    timer = threading.Timer(args.seconds, call.cancel)
    timer.start()
    records = 0
    try:
        for _ in call:
            records += 1
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.CANCELLED:
            raise
    finally:
        timer.cancel()
    return {"calls": records, "seconds": time.perf_counter() - started, "latenciesMs": []}


# The CPU this process spent on the trial (all its threads, gRPC's C core among them), so the bench
# can tell a trial the client itself limits.
cpu_started = time.process_time()
result = {"unary": unary, "produce-stream": produce_stream, "consume-stream": consume_stream}[args.mode]()
result["cpuMs"] = (time.process_time() - cpu_started) * 1000
channel.close()
print(json.dumps(result))
