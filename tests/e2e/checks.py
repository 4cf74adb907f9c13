"""Bookkeeping shared by the end-to-end check scripts: each check prints one line
("ok   ..." or "FAIL ..."); finish() prints a summary and exits 1 if any failed."""
import sys

fails = []


def check(ok, msg):
    print(("ok   " if ok else "FAIL ") + msg)
    if not ok:
        fails.append(msg)


def finish(what):
    print(f"all {what} passed" if not fails else f"{len(fails)} {what} failed")
    sys.exit(1 if fails else 0)
