#!/usr/bin/python3
"""Checks that shmportd can be discovered by a generic gRPC client: the
standard health service answers SERVING and server reflection lists
shmport.v1.ControlPlane. Uses raw method calls with hand-encoded messages,
as a tool without shmport's .proto files would.

usage: discovery_check.py ADDRESS
"""
import sys

import grpc


def main():
    channel = grpc.insecure_channel(sys.argv[1])
    grpc.channel_ready_future(channel).result(timeout=10)
    identity = lambda b: b

    # grpc.health.v1.Health/Check with HealthCheckRequest{service: ""}
    # (empty bytes); SERVING is field 1 = 1, i.e. bytes 08 01.
    check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                request_serializer=identity,
                                response_deserializer=identity)
    health = check(b"", timeout=10)
    if health != b"\x08\x01":
        sys.exit("health check did not answer SERVING: %r" % health)
    print("health: SERVING")

    # ServerReflectionRequest{list_services: ""} is field 7, empty string.
    reflect = channel.stream_stream(
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        request_serializer=identity, response_deserializer=identity)
    answers = list(reflect(iter([b"\x3a\x00"]), timeout=10))
    if not answers or b"shmport.v1.ControlPlane" not in answers[0]:
        sys.exit("reflection does not list shmport.v1.ControlPlane: %r" %
                 answers)
    print("reflection: lists shmport.v1.ControlPlane")


if __name__ == "__main__":
    main()
