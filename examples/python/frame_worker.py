#!/usr/bin/python3
"""frame_worker: receives frames into numpy, in place in the publisher's
shared memory, and answers each with its frame number and mean brightness.

Against `make run`'s daemon (e.g. `DEMO=0 make run` in another terminal):
    bazel build //python:site
    PYTHONPATH=bazel-bin/python/site /usr/bin/python3 \\
        examples/python/frame_worker.py
then start examples/python/frame_publisher.py. Stop with Ctrl-C.
"""

import argparse
import struct

import numpy as np

import shmport

# Each frame: frame number, height, width, then height x width pixels.
HEADER = struct.Struct("<QII")
REPLY = struct.Struct("<Qd")


def serve(port):
    """Answers frames until the publisher closes the port."""
    frames = 0
    while True:
        try:
            message = port.receive()  # releases the GIL; Ctrl-C works
        except shmport.Unavailable:  # the publisher closed the port
            return frames
        with message:
            stream = message.stream
            number, height, width = HEADER.unpack_from(message)
            # A view of the publisher's memory: no copy.
            pixels = np.frombuffer(message, np.uint8, height * width,
                                   HEADER.size).reshape(height, width)
            mean = float(pixels.mean())
            del pixels  # the chunks go back as the `with` ends
        port.send_bytes(REPLY.pack(number, mean), stream=stream)
        frames += 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--name", default="frame-worker")
    parser.add_argument("--address", default="", help="default: make run's")
    parser.add_argument("--ports", type=int, default=0,
                        help="stop after this many publishers (0: never)")
    args = parser.parse_args()
    with shmport.Session.connect(name=args.name,
                                 address=args.address) as session:
        print("%s: waiting for publishers" % args.name, flush=True)
        served = 0
        while args.ports == 0 or served < args.ports:
            with session.accept_port() as port:
                frames = serve(port)
                print("%s: %d frames from %s" %
                      (args.name, frames, port.peer.name), flush=True)
            served += 1


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
