#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The end-to-end scenario, run inside the test VM (tests/vm/run.sh).

Starts the patched QEMU with -accel kvm (nested KVM), booting one of
Debian's kernels with the stock virtio_mem driver, a virtio-mem-pci device
on its own NUMA node, and vmem-agent (guest/agent.c) on the guest's second
serial port.  Then resizes the device up and down, through QMP and, with
vhost=on, through vhost-mem-ctl, and checks after each step that the guest's
memory, QEMU's view (QOM, query-memory-devices) and the module's view
(vhost-mem-ctl) agree, that data in device memory survives, that unplugged
memory leaves the host, and that a reboot starts over cleanly.

The same scenario runs with vhost=on and with QEMU's own device (vhost=off),
so their timings can be compared.  Prints unnumbered TAP lines ("ok - ...",
"not ok - ...") and "# ..." diagnostics; tests/e2e/run.sh numbers them.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from vmem_e2e import (BOOT_TIMEOUT, GIB, MIB, Failure, Guest, Hung, Tap, log,
                      size_str, step)

PLUG_TIMEOUT = 60
UNPLUG_TIMEOUT = 180
# How long a resize waits for a guest whose memory is pinned: the guest
# unplugs what it can, then backs off.
STUCK_WAIT = int(os.environ.get("VHOST_MEM_E2E_STUCK_WAIT", "20"))
# The exit status that asks tests/e2e/run.sh to run the series again
# (tests/vm/run.sh --hung-status).
EXIT_HUNG = 75


class Scenario:
    """The steps with one device (MODE vhost or stock), one TAP line each;
    a failed step skips the rest.  TIMES: what each step took."""

    def __init__(self, args, mode, workdir, times):
        self.args = args
        self.mode = mode
        self.vhost = mode == "vhost"
        self.tap = Tap("%s %s" % (args.series, mode))
        self.g = Guest(args, mode, workdir)
        self.times = times
        self.t0 = None
        # "1" or "guest": the guest reboots itself; "reset": QMP
        # system_reset; QEMU resets the machine, the device with it, alike.
        # Unset: a system_reset of the vhost=on guest only; "0": none.
        how = os.environ.get("VHOST_MEM_E2E_REBOOT")
        if how is None:
            how = "reset" if self.vhost else ""
        self.reboot_how = {"1": "guest"}.get(how, how)

    def run(self):
        """The number of failed steps; raises Hung if a nested boot hung."""
        try:
            self.steps()
        except Failure as e:
            g = self.g
            log("%s: QEMU log:\n%s"
                % (self.mode, g.qemu_log() if g.proc else ""))
            log("%s: end of the guest's console:\n%s"
                % (self.mode, g.console_tail()))
            if isinstance(e, Hung):
                raise
        finally:
            self.g.stop()
        return self.tap.failed

    def steps(self):
        tap, vhost = self.tap, self.vhost
        self.t0 = time.monotonic()
        step(tap, "QEMU starts, the guest boots, virtio_mem probes",
             self.boot)
        if vhost:
            step(tap, "the module runs the requestq (vhost-mem-ctl list)",
                 self.attached)
        step(tap, "grow 0 -> 1 GiB through QMP; %s agree"
             % ("guest, QEMU and module" if vhost else "guest and QEMU"),
             lambda: self.grow(1 * GIB, "qmp"))
        step(tap, "the guest writes a pattern over plugged memory and reads"
             " it back", self.fill)
        if vhost:
            step(tap, "grow 1 -> 1.5 GiB through vhost-mem-ctl; QEMU hears of"
                 " it and the guest follows",
                 lambda: self.grow(1536 * MIB, "ctl"))
        else:
            step(tap, "grow 1 -> 1.5 GiB through QMP",
                 lambda: self.grow(1536 * MIB, "qmp"))
        step(tap, "shrink 1.5 GiB -> 256 MiB through QMP; memory leaves the"
             " guest and the host", self.shrink)
        step(tap, "the pattern survives the shrink", self.pattern_intact)
        # The whole test VM (TCG emulating nested SVM) hangs now and then in
        # a nested boot, and a reboot is one, whichever way it is made
        # (tests/e2e/README.md): one by default, on vhost-mem's side.
        desc = "a reboot unplugs everything, the guest plugs 256 MiB again"
        if self.reboot_how in ("guest", "reset"):
            step(tap, desc, self.reboot)
        else:
            tap.skip(desc, "a nested boot hangs the TCG test VM at times;"
                     " VHOST_MEM_E2E_REBOOT=1 (or =reset) runs it")
        if vhost:
            step(tap, "a live migration is refused, saying why, and the"
                 " guest runs on", self.live_refused)
        step(tap, "save and restore (stop, migrate to a file, -incoming):"
             " plugged memory and its data come back, the device works on",
             self.save_restore)
        if vhost:
            step(tap, "a guest that cannot unplug (memory pinned) leaves the"
                 " device consistent, and resize --wait says so", self.stuck)
        step(tap, "QEMU quits cleanly" +
             (" and the module drops the device" if vhost else ""),
             self.quit)

    def boot(self):
        g = self.g
        g.start(0)
        g.agent.wait_ready(BOOT_TIMEOUT, g.console)
        if g.agent.meminfo().get("node1_total", -1) not in (0, -1024):
            raise Failure("node 1 has memory before anything was plugged")
        self.times["boot"] = time.monotonic() - self.t0
        return "%.1f s" % self.times["boot"]

    def attached(self):
        st = self.g.module_status()
        if st["state"] != "running" or st["plugged_size"] != 0:
            raise Failure("module state %s, %s plugged"
                          % (st["state"], size_str(st["plugged_size"])))
        return "%s, %d-%d memslots" % (st["name"], st["memslots"],
                                       st["memslots_max"])

    def grow(self, size, via):
        """Through QMP or (VIA "ctl") vhost-mem-ctl."""
        g = self.g
        if via == "ctl":
            st = g.module_status()
            subprocess.run([self.args.ctl, "resize", str(st["dev"]),
                            str(size)], check=True,
                           capture_output=True, text=True)
        else:
            g.resize(size)
        t = g.wait_plugged(size, PLUG_TIMEOUT)
        self.times["to %s" % size_str(size)] = t
        if g.qom("requested-size") != size:
            raise Failure("QEMU's requested-size is %s"
                          % size_str(g.qom("requested-size")))
        return "%.1f s; %s" % (t, g.check_views(size))

    def fill(self):
        agent = self.g.agent
        agent.cmd("hold 768", timeout=120)
        agent.cmd("check", timeout=120)
        agent.cmd("release")
        return "768 MiB"

    def shrink(self):
        g = self.g
        g.agent.cmd("hold 128", timeout=60)
        before = g.backing_rss()
        g.resize(256 * MIB)
        t = g.wait_plugged(256 * MIB, UNPLUG_TIMEOUT)
        self.times["to 256 MiB"] = t
        views = g.check_views(256 * MIB)
        after = g.backing_rss()
        self.times["rss"] = (before, after)
        # The guest filled 768 MiB of the 1.5 GiB; all of that but what
        # is still plugged (256 MiB) must have left the host, and
        # nothing outside the plugged blocks may stay resident.
        if before - after < 512 * MIB or after > 256 * MIB:
            raise Failure("the backing's resident memory went from %s to"
                          " %s, with 256 MiB plugged"
                          % (size_str(before), size_str(after)))
        return "%.1f s; backing resident %d -> %d MiB; %s" % (
            t, before // MIB, after // MIB, views)

    def pattern_intact(self):
        return self.g.agent.cmd("check", timeout=120)

    def unplugged_by_reset(self, t):
        """Until QEMU (and the module) report nothing plugged, before
        the new boot plugs again; then the backing must be empty."""
        g = self.g
        while True:
            if g.qom("size") == 0 and (
                    not self.vhost or g.module_status()["plugged_size"] == 0):
                break
            if time.monotonic() - t > BOOT_TIMEOUT:
                raise Failure("still %s plugged after the reset"
                              % size_str(g.qom("size")))
            time.sleep(0.05)
        rss = g.backing_rss()
        if rss:
            raise Failure("nothing plugged, but %s of the backing is"
                          " resident" % size_str(rss))
        return time.monotonic() - t

    def reboot(self):
        g = self.g
        t = time.monotonic()
        if self.reboot_how == "reset":
            g.qmp.cmd("system_reset")
        else:
            g.agent.send("reboot")
        zero = self.unplugged_by_reset(t)
        g.agent.wait_ready(BOOT_TIMEOUT, g.console)
        g.wait_plugged(256 * MIB, PLUG_TIMEOUT)
        self.times["reboot"] = time.monotonic() - t
        return "%s; all unplugged after %.2f s, nothing resident; plugged" \
            " again after %.1f s; %s" % (
                "system_reset" if self.reboot_how == "reset"
                else "guest reboot",
                zero, self.times["reboot"], g.check_views(256 * MIB))

    def live_refused(self):
        g = self.g
        g.qmp.cmd("migrate", uri="exec:cat >/dev/null")
        try:
            g.wait_migration("completed", 120)
        except Failure as e:
            if "vhost=on" not in str(e):
                raise Failure("failed, but not clearly: %s" % e)
            g.agent.wait_ready(10)
            return str(e)
        raise Failure("a live migration was not refused")

    def save_restore(self):
        g = self.g
        image = os.path.join(g.dir, "vm.image")
        g.agent.cmd("hold 128", timeout=60)
        t = time.monotonic()
        g.qmp.cmd("stop")
        g.qmp.cmd("migrate", uri="exec:cat >%s" % image)
        g.wait_migration("completed", 300)
        saved = time.monotonic() - t
        g.qmp.cmd("quit")
        g.proc.wait(30)
        g.qmp.sock.close()
        g.agent.sock.close()
        t = time.monotonic()
        # The destination gets its /dev/vhost-mem from us (vhostfd).
        g.start(256 * MIB, incoming="exec:cat %s" % image, vhostfd=True)
        g.wait_runstate("paused", 300)
        os.unlink(image)
        g.qmp.cmd("cont")
        g.agent.wait_ready(30)
        restored = time.monotonic() - t
        self.times["save"], self.times["restore"] = saved, restored
        intact = g.agent.cmd("check", timeout=120)
        g.wait_plugged(256 * MIB, 10)
        views = g.check_views(256 * MIB)
        # The restored device still serves requests.
        g.resize(512 * MIB)
        g.wait_plugged(512 * MIB, PLUG_TIMEOUT)
        return "saved in %.1f s, restored in %.1f s; %s; %s; then grew" \
            " to 512 MiB" % (saved, restored, intact, views)

    def stuck(self):
        g, ctl = self.g, self.args.ctl
        # As long as the 768 MiB of fill(): a restored guest on the debug
        # kernel took more than 60 s.
        t = time.monotonic()
        g.agent.cmd("hold 320", timeout=120)
        held = time.monotonic() - t
        g.agent.cmd("pin")
        dev = g.module_status()["name"]
        r = subprocess.run([ctl, "resize", dev, "128M", "--wait",
                            "--timeout", str(STUCK_WAIT)],
                           capture_output=True, text=True)
        said = (r.stdout + r.stderr).strip().splitlines()
        if r.returncode != 8:
            raise Failure("vhost-mem-ctl resize --wait exited %d:\n%s"
                          % (r.returncode, "\n".join(said)))
        # Whatever the guest managed, everybody agrees on it.
        plugged = g.wait_settled(STUCK_WAIT)
        if not 320 * MIB <= plugged < 512 * MIB:
            raise Failure("%s plugged with 320 MiB pinned"
                          % size_str(plugged))
        g.wait_plugged(plugged, 10)
        views = g.check_views(plugged)
        intact = g.agent.cmd("check", timeout=120)
        g.agent.cmd("release")
        # A config change makes the guest retry at once; a slow guest
        # (check-debug) gets as long as it got to give up above.
        subprocess.run([ctl, "resize", dev, "128M", "--wait",
                        "--timeout", str(max(60, STUCK_WAIT))], check=True,
                       capture_output=True, text=True)
        g.wait_plugged(128 * MIB, 10)
        return "320 MiB held in %.1f s; %s; %s; %s; 128 MiB once unpinned" % (
            held, said[-1] if said else "", views, intact)

    def quit(self):
        g = self.g
        events = [e for e in g.qmp.events
                  if e["event"] == "MEMORY_DEVICE_SIZE_CHANGE"]
        g.qmp.cmd("quit")
        rc = g.proc.wait(30)
        if rc != 0:
            raise Failure("QEMU exited with %d:\n%s" % (rc, g.qemu_log()))
        if self.vhost:
            out = subprocess.run([self.args.ctl, "-j", "list"], check=True,
                                 capture_output=True, text=True).stdout
            if any(d.get("owner_pid") == g.proc.pid
                   for d in json.loads(out)):
                raise Failure("the module still lists the device")
        return "%d MEMORY_DEVICE_SIZE_CHANGE events" % len(events)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", required=True)
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--ctl", required=True, help="vhost-mem-ctl")
    ap.add_argument("--modes", default="vhost,stock")
    ap.add_argument("--memfd", action="store_true",
                    help="back the device with memory-backend-memfd (shared:"
                    " the kernel punches holes) instead of private RAM")
    args = ap.parse_args()

    workdir = tempfile.mkdtemp(prefix="vhost-mem-e2e.")
    times = {}
    failed = 0
    for mode in args.modes.split(","):
        times[mode] = {}
        try:
            failed += Scenario(args, mode, workdir, times[mode]).run()
        except Hung:
            return EXIT_HUNG
    for mode, t in times.items():
        log("%s %s: %s" % (args.series, mode, ", ".join(
            "%s %.1f s" % (k, v) for k, v in t.items() if k != "rss")))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
