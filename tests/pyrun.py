#!/usr/bin/python3
"""tests/pyrun.py FILE.py: how `make check` runs a Python test file (PY_LOG_COMPILER).

The file runs as if started alone (`python3 FILE.py`, as __main__), but its call of
unittest.main() (directly or through chatdtest.main()) is answered here, so that the
exit status says what happened, in automake's terms:
  0   tests ran and passed (some may be skipped: unittest lists them with their reasons)
  1   a test failed or errored
  77  every test was skipped (SKIP in the summary; the reasons are in the log)
  99  no test ran at all, or the file never started its tests: a hard error, never a pass
"""

import os
import runpy
import sys
import unittest

NO_TEST = 99
SKIPPED = 77


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: pyrun.py FILE.py\n")
        return 2
    path = os.path.abspath(sys.argv[1])
    results = []
    real_main = unittest.main

    def run_and_record(*args, **kwargs):
        kwargs["exit"] = False
        kwargs.setdefault("verbosity", 2)
        prog = real_main(*args, **kwargs)
        results.append(prog.result)
        sys.exit(verdict(prog.result))

    unittest.main = run_and_record
    sys.argv = [path]
    sys.path.insert(0, os.path.dirname(path))
    runpy.run_path(path, run_name="__main__")
    # Only reached when the file did not call unittest.main().
    print("pyrun: %s never ran its tests (no unittest.main() or chatdtest.main() call)" % path)
    return NO_TEST


def verdict(result):
    if not result.wasSuccessful():
        return 1
    if result.testsRun == 0:
        print("pyrun: no test ran: a test file that runs nothing must not pass")
        return NO_TEST
    if len(result.skipped) == result.testsRun:
        print("pyrun: every test was skipped (reasons above): SKIP")
        return SKIPPED
    return 0


if __name__ == "__main__":
    sys.exit(main())
