#!/usr/bin/python3
"""Registers a worker with shmportd and lists the processes it knows.

Uses nothing but Debian's python3-grpcio and the modules generated from
proto/shmport/v1/*.proto: no shmport library. It shows the whole control
sequence a client in any language follows:

  1. Register (gRPC)           -> process_id, session_token, broker_address
  2. attach the broker link    -> a SOCK_SEQPACKET connection presenting
                                  Attach{process_id, session_token}; the
                                  daemon checks the kernel's pid and uid
  3. ListProcesses (gRPC)      -> the worker shows as ATTACHED
  4. Unregister (gRPC)

Run it with /usr/bin/python3 and the generated modules on PYTHONPATH:

  PYTHONPATH=bazel-bin/proto/py:bazel-bin/examples/python/py \
      /usr/bin/python3 examples/python/shmport_client.py --name py-worker
"""

import argparse
import os
import socket
import sys

import grpc

from shmport.v1 import broker_pb2
from shmport.v1 import control_pb2
from shmport.v1 import control_pb2_grpc


def default_address():
    """The address shmportd uses by default (common/paths/runtime_paths.h)."""
    if os.environ.get("SHMPORT_ADDRESS"):
        return os.environ["SHMPORT_ADDRESS"]
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    directory = (os.path.join(xdg, "shmport") if xdg.startswith("/")
                 else "/tmp/shmport-%d" % os.getuid())
    return "unix:" + os.path.join(directory, "control.sock")


def attach(broker_address, process_id, token, timeout):
    """Opens the broker link; the registration lives as long as it does."""
    link = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    link.settimeout(timeout)
    # "@name" is the abstract namespace.
    path = ("\0" + broker_address[1:] if broker_address.startswith("@")
            else broker_address)
    link.connect(path)
    frame = broker_pb2.BrokerFrame(attach=broker_pb2.Attach(
        process_id=process_id, session_token=token))
    link.send(frame.SerializeToString())
    answer = broker_pb2.BrokerFrame.FromString(link.recv(64 * 1024))
    if answer.WhichOneof("kind") != "attach_result":
        raise RuntimeError("expected AttachResult, got %s" %
                           answer.WhichOneof("kind"))
    if answer.attach_result.code != 0:
        raise RuntimeError("attach refused (code %d): %s" %
                           (answer.attach_result.code,
                            answer.attach_result.message))
    return link


def print_processes(stub, timeout):
    response = stub.ListProcesses(control_pb2.ListProcessesRequest(),
                                  timeout=timeout)
    print("%-4s %-24s %-8s %-10s %s" % ("ID", "NAME", "PID", "STATE",
                                        "PORTS"))
    for p in response.processes:
        state = control_pb2.ProcessState.Name(p.state).replace(
            "PROCESS_STATE_", "")
        print("%-4d %-24s %-8d %-10s %d" % (p.id, p.name, p.pid, state,
                                            p.port_count))
    return response.processes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default=default_address(),
                        help="shmportd's gRPC address (default: %(default)s)")
    parser.add_argument("--name", default="py-worker-%d" % os.getpid(),
                        help="the name to register")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds to wait for the daemon and each call")
    args = parser.parse_args()

    channel = grpc.insecure_channel(args.address)
    try:
        grpc.channel_ready_future(channel).result(timeout=args.timeout)
    except grpc.FutureTimeoutError:
        sys.exit("no shmportd answers at %s" % args.address)
    stub = control_pb2_grpc.ControlPlaneStub(channel)

    try:
        registered = stub.Register(control_pb2.RegisterRequest(
            name=args.name, pid=os.getpid(), version="python-example/1",
            labels={"lang": "python"}), timeout=args.timeout)
    except grpc.RpcError as e:
        sys.exit("Register refused: %s: %s" % (e.code().name, e.details()))
    print("registered %s as process %d (broker %s)" %
          (args.name, registered.process_id, registered.broker_address))

    link = attach(registered.broker_address, registered.process_id,
                  registered.session_token, args.timeout)
    print("attached")
    print_processes(stub, args.timeout)

    stub.Unregister(control_pb2.UnregisterRequest(
        process_id=registered.process_id,
        session_token=registered.session_token), timeout=args.timeout)
    link.close()
    print("unregistered")


if __name__ == "__main__":
    main()
