#!/usr/bin/env python3
"""Counts test cases from the JUnit XML files Bazel wrote.

usage: test_summary.py TESTLOGS_DIR LABEL... [--tally FILE]

For each test label, reads TESTLOGS_DIR/<package>/<name>/test.xml and counts
its test cases: passed, failed (a <failure> or <error>), skipped. A label
without a test.xml (it did not build, or crashed before writing one) counts
as one failure. With --tally, adds the counts to FILE (two numbers) so that
several bazel invocations sum into one line.
"""
import os
import sys
import xml.etree.ElementTree as ET


def count(xml_path):
    passed = failed = skipped = 0
    tree = ET.parse(xml_path)
    for case in tree.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif (case.find("skipped") is not None
              or case.get("result") == "skipped"
              or case.get("status") == "notrun"):
            skipped += 1
        else:
            passed += 1
    # Bazel's own XML for a crashed binary may carry the error on the suite.
    for suite in tree.iter("testsuite"):
        if suite.find("error") is not None and passed + failed == 0:
            failed += 1
    return passed, failed, skipped


def main(argv):
    tally = None
    if "--tally" in argv:
        i = argv.index("--tally")
        tally = argv[i + 1]
        del argv[i:i + 2]
    testlogs, labels = argv[1], argv[2:]
    passed = failed = skipped = 0
    for label in labels:
        path = label.lstrip("/").replace(":", "/")
        xml = os.path.join(testlogs, path, "test.xml")
        if not os.path.exists(xml):
            print(f"  no result for {label} (build failure or crash)")
            failed += 1
            continue
        try:
            p, f, s = count(xml)
        except ET.ParseError as e:
            print(f"  unreadable {xml}: {e}")
            p, f, s = 0, 1, 0
        if f:
            print(f"  {label}: {f} failed")
        passed, failed, skipped = passed + p, failed + f, skipped + s
    print(f"  this run: {passed} passed, {failed} failed, {skipped} skipped")
    if tally:
        prev = [0, 0]
        if os.path.exists(tally):
            with open(tally) as fh:
                prev = [int(x) for x in fh.read().split()]
        with open(tally, "w") as fh:
            fh.write(f"{prev[0] + passed} {prev[1] + failed}\n")


if __name__ == "__main__":
    main(sys.argv)
