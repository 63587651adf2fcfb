#!/usr/bin/env python3
# locked_ops.py CALLGRIND_OUT MSGS: executed locked read-modify-writes per
# message (lock-prefixed, or xchg with memory), by function. Callgrind counts
# instructions, not cycles; a locked one costs far more than one instruction
# and glibc/libstdc++ drop the prefix in one-threaded processes, so this is
# the count to compare when instruction totals agree.
#   valgrind --tool=callgrind --collect-atstart=no --dump-instr=yes \
#     --compress-strings=no --compress-pos=no --toggle-collect='*RunSender*' \
#     --toggle-collect='*RunReceiver*' --toggle-collect='*RunPinger*' \
#     --toggle-collect='*RunPonger*' --callgrind-out-file=/tmp/cg.%p \
#     bazel-bin/bench/port_driver/port_driver oneway 20000 1024
#   bench/port_driver/locked_ops.py /tmp/cg.PID 22000   # warm-up included
import collections, re, subprocess, sys
out, n = sys.argv[1], float(sys.argv[2])
costs = collections.Counter()  # addr -> Ir
fnof = {}
fn = None; ob = None; skip = False
for line in open(out):
    if line.startswith('ob='): ob = line[3:].strip(); continue
    if line.startswith('fn='): fn = line[3:].strip(); continue
    if line.startswith('calls='): skip = True; continue
    m = re.match(r'(0x[0-9a-f]+) (\d+) (\d+)', line)
    if m:
        if skip: skip = False; continue
        a = (ob, int(m.group(1), 16)); costs[a] += int(m.group(3)); fnof[a] = fn
# which instructions are locked: disassemble each object once
disasm = {}
def load(path):
    if path in disasm: return disasm[path]
    d = {}
    txt = subprocess.run(['objdump', '-d', '--no-show-raw-insn', path], capture_output=True, text=True).stdout
    for l in txt.splitlines():
        m = re.match(r'\s*([0-9a-f]+):\s+(.*)', l)
        if m: d[int(m.group(1), 16)] = m.group(2)
    disasm[path] = d
    return d
total = 0; byfn = collections.Counter(); missing = 0
for a, c in costs.items():
    path, addr = a
    ins = load(path).get(addr)
    if ins is None: missing += c; continue
    if ins.startswith('lock') or (ins.startswith('xchg') and '(' in ins):
        total += c; byfn[(fnof[a], ins.split()[0] + ' ' + ins.split()[1] if ' ' in ins else ins)] += c
print(f'locked RMW per message: {total / n:.2f}  (unmapped Ir {missing})')
for (f, i), c in byfn.most_common(25):
    print(f'{c / n:7.2f}  {i:14s} {f[:120]}')
