#!/usr/bin/env python3
"""hot_path.py: the steady-state cost of one message, under callgrind.

  bench/port_driver/hot_path.py [--mode pingpong|oneway] [--count N]
      [--bytes B] [--wait busy|spin|sleep] [--binary PATH]

Runs port_driver under callgrind and reads the dump its Measured* frames
make (the COUNT messages after the warm-up alone), leaving out what
SpinUntil costs (the ring polls of a receiver waiting for its peer, and the
clock reads among them: spinning, not work). Prints, per process and summed, instructions per round trip (per
message for oneway) and calls per round trip to the allocator, the mutex
and the clock, with the callers that make them. Build first:
  bazel build -c opt //bench/port_driver:port_driver
"""
import argparse
import collections
import glob
import os
import re
import subprocess
import sys
import tempfile

# What the steady state must not call, by family: callee-name patterns.
FAMILIES = collections.OrderedDict([
    ('malloc', re.compile(r'^(malloc|calloc|realloc|__libc_malloc)$')),
    ('operator new', re.compile(r'^operator new')),
    ('pthread_mutex_lock', re.compile(r'pthread_mutex_(lock|trylock)$')),
    ('clock', re.compile(r'^(absl::[\w:]*Now\(|absl::[\w:]*GetCurrentTimeNanos'
                         r'|clock_gettime|__clock_gettime|std::chrono::.*now)')),
])


SPIN = re.compile(r'SpinUntil<')


def parse(path):
    """Ir outside SpinUntil, and calls by callee name with their callers
    (none made inside SpinUntil)."""
    names = {}

    def name(token):  # "(id) name", "(id)" or "name"; no "@@GLIBC_2.2.5"
        m = re.match(r'\((\d+)\)(?: (.*))?$', token)
        if m:
            if m.group(2) is not None:
                names[m.group(1)] = m.group(2)
            token = names.get(m.group(1), token)
        return token.split('@')[0]

    total = spin = 0
    calls = collections.defaultdict(collections.Counter)  # callee -> caller
    fn = cfn = None
    after_calls = False
    for line in open(path):
        if after_calls:  # "POSITION INCLUSIVE_IR" of the call just named
            after_calls = False
            if SPIN.search(cfn) and not SPIN.search(fn):
                spin += int(line.split()[1])
        elif line.startswith('fn='):
            fn = name(line[3:].strip())
        elif line.startswith('cfn='):
            cfn = name(line[4:].strip())
        elif line.startswith('calls=') and cfn is not None:
            after_calls = True
            if not SPIN.search(fn):
                calls[cfn][fn] += int(line[6:].split()[0])
        elif line.startswith(('summary:', 'totals:')):
            total = max(total, int(line.split()[1]))
    return total - spin, calls


def family_calls(calls):
    """Per family: calls into it from outside it, by caller."""
    out = collections.OrderedDict()
    for family, pattern in FAMILIES.items():
        by_caller = collections.Counter()
        for callee, callers in calls.items():
            if not pattern.search(callee):
                continue
            for caller, n in callers.items():
                if not pattern.search(caller or ''):
                    by_caller[caller] += n
        out[family] = by_caller
    return out


def role(calls):
    for r in ('Pinger', 'Ponger', 'Sender', 'Receiver'):
        if any('Measured' + r in (c or '') for cs in calls.values() for c in cs):
            return r.lower()
        if any('Measured' + r in k for k in calls):
            return r.lower()
    return '?'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--mode', default='pingpong')
    ap.add_argument('--count', type=int, default=20000)
    ap.add_argument('--bytes', type=int, default=64)
    ap.add_argument('--wait', default='busy', choices=['busy', 'spin', 'sleep'])
    ap.add_argument('--binary',
                    default='bazel-bin/bench/port_driver/port_driver')
    ap.add_argument('--callers', type=int, default=4)
    args = ap.parse_args()
    out = tempfile.mkdtemp(prefix='hot-path-')
    cmd = ['valgrind', '--tool=callgrind', '--compress-strings=no',
           '--callgrind-out-file=' + os.path.join(out, 'cg.%p'),
           args.binary, args.mode, str(args.count), str(args.bytes)]
    if args.wait != 'sleep':
        cmd.append(args.wait)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        sys.exit('port_driver failed under callgrind')
    unit = 'round trip' if args.mode == 'pingpong' else 'message'
    n = float(args.count)
    print(f'{args.mode} {args.bytes} B, {args.count} {unit}s, wait={args.wait}'
          f' (spinning excluded); per {unit}:')
    sums = collections.Counter()
    rows = []
    for path in sorted(glob.glob(os.path.join(out, 'cg.*'))):
        if 'Client Request: measured' not in open(path).read(4096):
            continue  # the dump at exit: start-up, warm-up, close
        total, calls = parse(path)
        fam = family_calls(calls)
        rows.append((role(calls), total, fam))
    for name, total, fam in sorted(rows):
        counts = {f: sum(c.values()) for f, c in fam.items()}
        sums['Ir'] += total
        for f, c in counts.items():
            sums[f] += c
        print(f'  {name:9s} Ir {total / n:8.1f}  ' + '  '.join(
            f'{f} {c / n:.3f}' for f, c in counts.items()))
        for f, by_caller in fam.items():
            for caller, c in by_caller.most_common(args.callers):
                print(f'      {f:18s} {c / n:7.3f}  from {caller[:110]}')
    print(f'  {"both":9s} Ir {sums["Ir"] / n:8.1f}  ' + '  '.join(
        f'{f} {sums[f] / n:.3f}' for f in FAMILIES))


if __name__ == '__main__':
    main()
