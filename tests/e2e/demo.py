#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make demo, the part inside the test VM (scripts/demo.sh starts it).

Starts the patched QEMU with a vhost-mem-backed virtio-mem device (vhost=on)
and a Linux guest, then resizes the device up and down with vhost-mem-ctl
(and once through QEMU's QMP) while it shows the guest's memory, QEMU's
view of the device and the module's status.  Plain text, no terminal
needed; exits non-zero if a step fails.
"""

import argparse
import subprocess
import sys
import tempfile
import time

from vmem_e2e import GIB, MIB, REGION, Failure, Guest, size_str

RULE = "-" * 72


def say(text=""):
    print(text, flush=True)


def section(title):
    say()
    say("== " + title)


class Demo:
    def __init__(self, args):
        self.args = args
        self.g = Guest(args, "vhost",
                       tempfile.mkdtemp(prefix="vhost-mem-demo."))
        self.dev = None

    def ctl(self, *argv, show=True):
        cmd = [self.args.ctl] + [str(a) for a in argv]
        say("$ vhost-mem-ctl " + " ".join(str(a) for a in argv))
        r = subprocess.run(cmd, capture_output=True, text=True)
        if show or r.returncode:
            out = (r.stdout + r.stderr).rstrip()
            for line in out.splitlines():
                say("  " + line)
        if r.returncode:
            raise Failure("vhost-mem-ctl %s: exit %d"
                          % (argv[0], r.returncode))
        return r.stdout

    def show_memory(self):
        m = self.g.agent.meminfo()
        info = self.g.memory_device()
        say("  guest:  MemTotal %5d MiB, of which on node 1 (the device)"
            " %5d MiB" % (m["total"] // MIB, max(m["node1_total"], 0) // MIB))
        say("  QEMU:   query-memory-devices: size %s, requested-size %s"
            % (size_str(info["size"]), size_str(info["requested-size"])))

    def resize(self, size, via="ctl"):
        t = time.monotonic()
        if via == "ctl":
            section("resize to %s with vhost-mem-ctl, waiting for the guest"
                    % size_str(size))
            self.ctl("resize", self.dev, "%dM" % (size // MIB), "--wait",
                     "--timeout", 120)
        else:
            section("resize to %s through QEMU (QMP qom-set requested-size)"
                    % size_str(size))
            self.g.resize(size)
        self.g.wait_plugged(size, 120)
        say("  the guest has %s of device memory after %.1f s"
            % (size_str(size), time.monotonic() - t))
        self.show_memory()

    def run(self):
        g = self.g
        section("QEMU with -device virtio-mem-pci,memdev=vmem0,vhost=on"
                " (%s region, nothing plugged)" % size_str(REGION))
        t = time.monotonic()
        g.start(0)
        g.agent.wait_ready(180)
        say("  the guest (Linux, stock virtio_mem driver) booted in %.1f s"
            % (time.monotonic() - t))
        self.show_memory()

        section("the module's devices")
        self.ctl("list")
        self.dev = g.module_status()["name"]

        self.resize(1 * GIB)
        section("the guest fills 512 MiB of the plugged memory and reads it"
                " back")
        g.agent.cmd("hold 512", timeout=120)
        say("  " + g.agent.cmd("check", timeout=120))
        g.agent.cmd("release")

        self.resize(1536 * MIB, via="qmp")
        section("device status")
        self.ctl("status", self.dev)

        self.resize(256 * MIB)
        section("device status after the shrink")
        self.ctl("status", self.dev)

        section("quit QEMU: the device and its memslots go with it")
        g.qmp.cmd("quit")
        g.proc.wait(30)
        self.ctl("list")
        say()
        say("demo: done")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--ctl", required=True)
    d = Demo(ap.parse_args())
    try:
        d.run()
    except Failure as e:
        say("demo: failed: %s" % e)
        say(d.g.qemu_log() if d.g.proc else "")
        say(d.g.console_tail())
        return 1
    finally:
        d.g.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
