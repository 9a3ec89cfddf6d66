#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Nested boots one after the other, to count the hangs of TCG's nested SVM.

Run inside the test VM like scenario.py (tests/e2e/run.sh shows the
arguments; --boots N more).  Each boot starts the nested QEMU with nothing
plugged, waits for the guest's agent and quits.  A boot whose console
stays silent (vmem_e2e.CONSOLE_SILENCE) counts as hung and ends the run;
a hang of the whole test VM ends it from the outside (tests/vm/run.sh's
watchdog).  Prints one line per boot and a summary; exits 1 if one hung.
"""

import argparse
import sys
import tempfile
import time

import vmem_e2e


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for opt in ("--series", "--qemu", "--kernel", "--initrd", "--ctl"):
        ap.add_argument(opt, required=True)
    ap.add_argument("--boots", type=int, default=10)
    ap.add_argument("--mode", choices=("vhost", "stock"), default="stock")
    args = ap.parse_args()

    workdir = tempfile.mkdtemp(prefix="vhost-mem-boots.")
    for n in range(1, args.boots + 1):
        g = vmem_e2e.Guest(args, args.mode, workdir)
        t0 = time.monotonic()
        try:
            g.start(0)
            g.agent.wait_ready(vmem_e2e.BOOT_TIMEOUT, g.console)
        except vmem_e2e.Failure as e:
            print("boot %d: %s\n%s" % (n, e, g.console_tail()), flush=True)
            print("%s %s: hung in boot %d of %d"
                  % (args.series, args.mode, n, args.boots))
            return 1
        finally:
            g.stop()
        print("boot %d: %.1f s" % (n, time.monotonic() - t0), flush=True)
    print("%s %s: %d boots, none hung" % (args.series, args.mode, args.boots))
    return 0


if __name__ == "__main__":
    sys.exit(main())
