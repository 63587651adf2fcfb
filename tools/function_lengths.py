#!/usr/bin/env python3
"""Lists the longest function bodies in C++ files.

usage: function_lengths.py [--max N] [--top K] FILE_OR_DIR...

A function's length is the number of lines from the line of its opening
brace to the line of its closing one, both included (what a reader scrolls
through). Functions are the bodies opened at namespace or class scope whose
head ends in a parameter list (constructors with initialiser lists too);
lambdas and local classes count towards the function around them. Strings,
character literals and comments are skipped. Tests (*_test.cc) are left out.

Prints the K longest (default 10). With --max N, exits 1 when any function
is longer than N lines, naming them.
"""
import os
import re
import sys

CONTROL = re.compile(r"\b(if|for|while|switch|catch|do|else|return)\s*$")


def strip_code(text):
    """The text with comments and literals blanked (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith('R"', i):
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + " " * (j - i - 1) + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(path):
    """(name, first line, length) of each function defined in `path`."""
    with open(path, encoding="utf-8", errors="replace") as f:
        code = strip_code(f.read())
    # Preprocessor lines are not code for this purpose.
    code = re.sub(r"(?m)^[ \t]*#.*$", "", code)
    stack = []  # kinds of the open braces: "scope", "function", "other"
    head_start = 0
    line = 1
    results = []
    for i, c in enumerate(code):
        if c == "\n":
            line += 1
        elif c == "{":
            head = code[head_start:i].strip()
            in_scope = all(k[0] == "scope" for k in stack)
            if not in_scope:
                kind = "other"
            elif re.search(r"\b(namespace|class|struct|union|enum)\b[^()]*$",
                           head) or head.startswith("extern"):
                kind = "scope"
            elif ")" in head and not CONTROL.search(head.split(")")[0]) and \
                    not re.search(r"=\s*$", head):
                kind = "function"
            else:
                kind = "other"
            stack.append((kind, line, head))
            head_start = i + 1
        elif c == "}":
            if stack:
                kind, start, head = stack.pop()
                if kind == "function":
                    name = re.search(r"([\w:~<>]+)\s*\(", head)
                    results.append((name.group(1) if name else head[:40],
                                    start, line - start + 1))
            head_start = i + 1
        elif c == ";":
            head_start = i + 1
    return results


def sources(args):
    for arg in args:
        if os.path.isdir(arg):
            for root, _, files in os.walk(arg):
                for name in sorted(files):
                    if name.endswith((".cc", ".h")):
                        yield os.path.join(root, name)
        else:
            yield arg


def main(argv):
    limit = None
    top = 10
    args = []
    it = iter(argv[1:])
    for a in it:
        if a == "--max":
            limit = int(next(it))
        elif a == "--top":
            top = int(next(it))
        else:
            args.append(a)
    found = []
    for path in sources(args):
        if path.endswith("_test.cc"):
            continue
        for name, start, length in functions(path):
            found.append((length, f"{path}:{start}", name))
    found.sort(reverse=True)
    for length, where, name in found[:top]:
        print(f"{length:5d}  {where}  {name}")
    if limit is not None:
        over = [f for f in found if f[0] > limit]
        for length, where, name in over:
            print(f"over {limit} lines: {where} {name} ({length})",
                  file=sys.stderr)
        return 1 if over else 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
