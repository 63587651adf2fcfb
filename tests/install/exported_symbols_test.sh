#!/usr/bin/env bash
# What libshmport.so shows the world (issue 10, acceptance 5, the nm half):
# nm -D lists only the C ABI (shmport_*) and the public C++ classes of
# include/shmport/ -- no shmport::internal, no protobuf, gRPC or Abseil
# code, no standard-library instantiation; the SONAME is libshmport.so.0;
# gRPC, protobuf and Abseil are DT_NEEDED, not copied in (neither into the
# shared library nor into libshmport.a).
set -uo pipefail
WORK_PREFIX=sp-sym
# shellcheck source=tests/install/testlib.sh
source "${TEST_SRCDIR:?run me with bazel test}/shmport/tests/install/testlib.sh"
so="$RUNFILES/lib/libshmport.so.0.1.0"
archive="$RUNFILES/lib/libshmport.a"

nm -DC --defined-only "$so" | sed -E 's/^[0-9a-f]+ [A-Za-z] //; s/@@?LIBSHMPORT_0$//' |
  grep -v '^LIBSHMPORT_0$' | sort -u >"$WORK/exported"
public='^(shmport_[a-z0-9_]+'
public+='|shmport::(Session|Port|Buffer|Message|Tracking|Publisher|Subscriber|SampleBuffer|Sample|UniqueFd|PortStatsSource)::'
public+='(~?[A-Za-z_][A-Za-z0-9_]*(\[abi:cxx11\])?|operator[^(]+)\(.*'
public+='|shmport::(SetMaxPeerSegmentsPerProcess|MaxPeerSegmentsPerProcess|PeerSegmentsMapped)\(.*'
public+='|(typeinfo|typeinfo name|vtable) for shmport::PortStatsSource)$'
if grep -v -E "$public" "$WORK/exported"; then
  fail "libshmport.so exports the symbols above, which are not public API"
fi
grep -E '^(shmport::internal|shmport::v1|google::|absl::|grpc|std::)|Fragment' "$WORK/exported" &&
  fail "libshmport.so exports internals (above)"
for symbol in shmport_version shmport_session_connect shmport_port_receive \
  shmport_message_release 'shmport::Session::Connect(shmport::SessionOptions const&)' \
  'shmport::Port::Receive(absl::debian3::Duration)' 'shmport::Buffer::~Buffer()' \
  'vtable for shmport::PortStatsSource' 'shmport::Subscriber::TryReceive()' \
  'shmport::SampleBuffer::~SampleBuffer()'; do
  grep -qxF "$symbol" "$WORK/exported" || fail "libshmport.so does not export $symbol"
done
# Every C function of the header is exported.
for fn in $(grep -oE '\bshmport_[a-z0-9_]+\(' "$RUNFILES/include/shmport/shmport.h" | tr -d '(' | sort -u); do
  grep -qx "$fn" "$WORK/exported" || fail "libshmport.so does not export $fn (declared in shmport.h)"
done

readelf -d "$so" >"$WORK/dynamic"
grep -q 'SONAME.*\[libshmport\.so\.0\]' "$WORK/dynamic" || fail "SONAME is not libshmport.so.0"
for lib in 'libgrpc++.so.1.51' libprotobuf.so.32 libabsl_status.so.20220623; do
  grep -qF "NEEDED) Shared library: [$lib]" <(tr -s ' ' <"$WORK/dynamic") ||
    fail "libshmport.so does not need $lib"
done

# Neither file defines gRPC's or protobuf's own (non-inline) functions:
# their code stays in Debian's libraries.
for file in "$so" "$archive"; do
  nm -C --defined-only "$file" 2>/dev/null | awk '$2 == "T" { $1 = ""; $2 = ""; print }' |
    grep -E '^ *(grpc::CreateChannel|grpc::Server::|google::protobuf::MessageLite::SerializeToString|absl::debian3::Status::ToStringSlow)' &&
    fail "$(basename "$file") holds a copy of gRPC, protobuf or Abseil code"
done
# libshmport.a holds the objects of the C ABI, the C++ API and the protos.
members=$(ar t "$archive")
for member in c_api.pic.o session.pic.o port.pic.o control.pb.pic.o runtime_paths.pic.o ring.pic.o; do
  grep -qx "$member" <<<"$members" || fail "libshmport.a lacks $member"
done

finish "$(wc -l <"$WORK/exported") exported symbols, all public"
