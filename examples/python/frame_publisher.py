#!/usr/bin/python3
"""frame_publisher: writes frames straight into shared memory with numpy,
sends them zero-copy to frame_worker and checks each answer.

Against `make run`'s daemon, with examples/python/frame_worker.py running:
    PYTHONPATH=bazel-bin/python/site /usr/bin/python3 \\
        examples/python/frame_publisher.py --frames=100
"""

import argparse
import struct
import time

import numpy as np

import shmport

HEADER = struct.Struct("<QII")  # as in frame_worker.py
REPLY = struct.Struct("<Qd")


def publish(port, number, height, width):
    """Fills a shared-memory buffer in place and sends it; returns the
    frame's mean, for checking the worker's answer."""
    buffer = port.allocate(HEADER.size + height * width, timeout=5)
    HEADER.pack_into(buffer, 0, number, height, width)
    pixels = np.frombuffer(buffer, np.uint8, height * width,
                           HEADER.size).reshape(height, width)
    pixels[:] = (np.arange(width, dtype=np.uint32) + number) % 256
    mean = float(pixels.mean())
    del pixels  # no view may outlive the send: the bytes become the worker's
    port.send(buffer)
    return mean


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", default="frame-worker")
    parser.add_argument("--address", default="", help="default: make run's")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args()
    with shmport.Session.connect(name="frame-publisher",
                                 address=args.address) as session, \
            session.open_port(args.worker, timeout=10) as port:
        start = time.monotonic()
        for number in range(args.frames):
            mean = publish(port, number, args.height, args.width)
            with port.receive(timeout=10) as reply:
                got_number, got_mean = REPLY.unpack(bytes(reply))
            assert (got_number, got_mean) == (number, mean), (number, mean)
        seconds = time.monotonic() - start
        print("frame-publisher: %d frames of %dx%d answered in %.2f s "
              "(%.0f frames/s)" % (args.frames, args.height, args.width,
                                   seconds, args.frames / seconds))


if __name__ == "__main__":
    main()
