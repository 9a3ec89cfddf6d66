#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The issue-6 benchmark, run inside the test VM (bench/e2e/run.sh).

The same nested guest as tests/e2e (vmem_e2e.py's Guest: Debian's kernel,
the stock virtio_mem driver, a 2 GiB virtio-mem-pci device on node 1), the
same resizes, once with QEMU's own device (vhost=off, "stock") and once
with vhost=on, alternating, ROUNDS times each:

  plug    requested-size 0 -> 2 GiB
  unplug  requested-size 2 GiB -> 256 MiB

For each resize it records

- wall: from the QMP qom-set until the guest's agent sees node 1's MemTotal
  at the new size (the agent polls every 10 ms, "watch");
- per request, on one clock (trace_clock "tai", which is CLOCK_REALTIME as
  long as nobody set a TAI offset, so it is the clock of QEMU's own
  timestamped trace lines too): the kick (kvm:kvm_mmio, the guest's write
  to the device's notify area, in the test VM's kernel), the pop (vhost=on:
  vhost_mem:vhost_mem_req_pop; stock: QEMU's virtqueue_pop) and the
  used-ring update (vhost_mem:vhost_mem_req_used; QEMU's virtqueue_flush);
- context switches of every thread of QEMU (/proc/PID/task/*/status), and
  of the vhost worker (on 6.1 a kernel thread of its own, on 6.12 a thread
  of QEMU's), before and after; then the same over an idle window of the
  same length, in which the agent polls as it did during the resize and
  QMP gets one command (qom-get) as it got the qom-set: the control
  traffic, alike, without the resize.

Writes one JSON document (--out); bench/e2e/report.py makes the tables.
"""

import argparse
import json
import os
import re
import sys
import tempfile
import time

import vmem_e2e
from vmem_e2e import GIB, MIB, Failure

TRACEFS = "/sys/kernel/tracing"
PHASES = (("plug", 2 * GIB, 60), ("unplug", 256 * MIB, 300))
# QEMU's trace events of the request path (hw/virtio/virtio.c): a kick
# handled by QEMU, the pop and the used-ring update.  With vhost=on also
# those of the device (hw/virtio/virtio-mem*.c), to see what QEMU did; not
# for QEMU's own device, whose request time would then include writing
# them.
QEMU_TRACE = ("virtio_queue_notify", "virtqueue_pop", "virtqueue_flush")
QEMU_TRACE_VHOST = ("virtio_mem_*",)
# A quiet guest before each window: boot and probe are over.
SETTLE_S = 3


def log(msg):
    print("# " + msg, flush=True)


def tracefs(name, value=None):
    path = os.path.join(TRACEFS, name)
    if value is None:
        with open(path) as f:
            return f.read()
    with open(path, "w") as f:
        f.write(value)


def tracefs_ready():
    if not os.path.exists(os.path.join(TRACEFS, "trace")):
        os.system("mount -t tracefs nodev %s" % TRACEFS)
    clocks = tracefs("trace_clock")
    if "tai" not in clocks.split() and "[tai]" not in clocks:
        raise Failure("no trace clock 'tai' in this kernel: %s" % clocks)
    tracefs("tracing_on", "0")
    tracefs("current_tracer", "nop")
    tracefs("trace_clock", "tai")
    tracefs("buffer_size_kb", "16384")
    # A realtime clock shared by tracefs and QEMU's gettimeofday() lines.
    skew = time.clock_gettime(time.CLOCK_TAI) - time.time()
    if abs(skew) > 0.001:
        raise Failure("CLOCK_TAI is %.3f s off CLOCK_REALTIME" % skew)


def tracefs_start(notify):
    tracefs("events/enable", "0")
    tracefs("events/kvm/kvm_mmio/filter",
            "gpa >= %d && gpa < %d" % notify)
    tracefs("events/kvm/kvm_mmio/enable", "1")
    if os.path.isdir(os.path.join(TRACEFS, "events/vhost_mem")):
        tracefs("events/vhost_mem/enable", "1")
    tracefs("trace", "")
    tracefs("tracing_on", "1")


def tracefs_stop():
    tracefs("tracing_on", "0")
    text = tracefs("trace")
    tracefs("events/enable", "0")
    tracefs("events/kvm/kvm_mmio/filter", "0")
    return text


KERNEL_LINE = re.compile(r"^\s*(?P<task>.+?)-(?P<tid>\d+)\s+\[\d+\].*?"
                         r"\s(?P<ts>\d+\.\d+): (?P<event>\w+): (?P<rest>.*)$")
QEMU_LINE = re.compile(r"^(?P<tid>\d+)@(?P<ts>\d+\.\d+):(?P<event>\w+) ?"
                       r"(?P<rest>.*)$")


def parse_kernel(text):
    out = []
    for line in text.splitlines():
        m = KERNEL_LINE.match(line)
        if m:
            out.append((float(m["ts"]), m["event"], int(m["tid"]),
                        m["rest"]))
    return out


def parse_qemu(path):
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            m = QEMU_LINE.match(line.strip())
            if m:
                out.append((float(m["ts"]), m["event"], int(m["tid"]),
                            m["rest"]))
    return out


def requests(kernel, qemu, vhost, t0, t1):
    """One record per request popped in [t0, t1]: kick, pop, used."""
    kicks = [ts for ts, ev, _, rest in kernel
             if ev == "kvm_mmio" and rest.startswith("mmio write")]
    if vhost:
        pops = [(ts, rest) for ts, ev, _, rest in kernel
                if ev == "vhost_mem_req_pop"]
        useds = [(ts, rest) for ts, ev, _, rest in kernel
                 if ev == "vhost_mem_req_used"]
    else:
        pops = [(ts, rest) for ts, ev, _, rest in qemu
                if ev == "virtqueue_pop"]
        useds = [(ts, rest) for ts, ev, _, rest in qemu
                 if ev == "virtqueue_flush"]
    # The driver has one request in flight at a time: each pop goes with
    # the next used-ring update, and the kick is the last one before it.
    recs, ui, ki = [], 0, 0
    for pop, _ in pops:
        if not t0 <= pop <= t1:
            continue
        while ui < len(useds) and useds[ui][0] < pop:
            ui += 1
        if ui == len(useds):
            break
        used, detail = useds[ui]
        while ki < len(kicks) and kicks[ki] <= pop:
            ki += 1
        kick = kicks[ki - 1] if ki and kicks[ki - 1] >= t0 - 1 else None
        recs.append({"kick": kick, "pop": pop, "used": used,
                     "detail": detail if vhost else ""})
    return recs


# Thread kinds: QEMU's main loop (the process's first thread), its vCPU
# threads ("CPU n/KVM" with debug-threads=on), the vhost worker
# ("vhost-PID": a kernel thread on 6.1, a thread of QEMU on 6.12), the rest.
def kind_of(pid, tid, comm):
    if tid == pid:
        return "main"
    if comm.startswith("CPU "):
        return "vcpu"
    if comm == "vhost-%d" % pid:
        return "vhost"
    return "other"


def vhost_kthread(pid):
    want = "vhost-%d" % pid
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % d) as f:
                if f.read().strip() == want:
                    return int(d)
        except OSError:
            pass
    return None


def thread_counts(pid, extra_tids):
    """tid -> (kind, comm, voluntary, involuntary switches)."""
    out = {}
    tids = [(pid, int(t)) for t in os.listdir("/proc/%d/task" % pid)]
    tids += [(t, t) for t in extra_tids]
    for owner, tid in tids:
        base = "/proc/%d/task/%d/" % (owner, tid)
        try:
            with open(base + "comm") as f:
                comm = f.read().strip()
            with open(base + "status") as f:
                st = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        out[tid] = (kind_of(pid, tid, comm), comm,
                    int(st["voluntary_ctxt_switches"]),
                    int(st["nonvoluntary_ctxt_switches"]))
    return out


def switches(before, after):
    """Per kind: voluntary (wake-ups) and involuntary switches in between;
    a thread born in between counts from zero, one that died is lost."""
    res = {}
    for tid, (kind, comm, vol, invol) in after.items():
        v0, i0 = (before[tid][2], before[tid][3]) if tid in before else (0, 0)
        k = res.setdefault(kind, {"wakeups": 0, "preempted": 0,
                                  "threads": []})
        k["wakeups"] += vol - v0
        k["preempted"] += invol - i0
        k["threads"].append(comm)
    res["threads_gone"] = sorted(before[t][1] for t in before
                                 if t not in after)
    return res


class Bench:
    def __init__(self, args):
        self.args = args
        self.workdir = tempfile.mkdtemp(prefix="vhost-mem-bench-e2e.")
        self.kinds = {}  # tid -> thread kind

    def notify_range(self, g):
        """The device's notify area: BAR 4 + 0x3000 (QEMU's modern
        virtio-pci layout, one queue)."""
        for bus in g.qmp.cmd("query-pci"):
            for dev in bus["devices"]:
                if dev.get("qdev_id") != vmem_e2e.DEV:
                    continue
                for bar in dev["regions"]:
                    if bar["bar"] == 4:
                        base = bar["address"] + 0x3000
                        return base, base + 0x1000
        raise Failure("no BAR 4 of %s in query-pci" % vmem_e2e.DEV)

    def watch(self, g, size, limit_s):
        """Sends "watch"; the agent answers once node 1 has SIZE or
        LIMIT_S has passed (watched()), the caller acts in between."""
        g.agent.send("watch %d %d" % (size // MIB, int(limit_s * 1000)))

    def watched(self, g, limit_s):
        deadline = time.monotonic() + limit_s + 30
        while True:
            try:
                line = g.agent.readline(deadline)
            except TimeoutError:
                raise Failure("the guest's agent did not answer 'watch'")
            if line.startswith("ok reached") or line.startswith("ok waited"):
                return time.time(), line
            if line.startswith("err "):
                raise Failure("guest: " + line)

    def window(self, g, pid, size, limit_s, act):
        """Counts switches from just before ACT until the agent answers."""
        kt = vhost_kthread(pid)
        extra = [kt] if kt else []
        self.watch(g, size, limit_s)
        before = thread_counts(pid, extra)
        self.kinds.update({tid: v[0] for tid, v in before.items()})
        t0 = time.time()
        act()
        t1, answer = self.watched(g, limit_s)
        after = thread_counts(pid, extra)
        return t0, t1, answer, switches(before, after)

    def round(self, mode, rnd):
        vhost = mode == "vhost"
        g = vmem_e2e.Guest(self.args, mode, self.workdir)
        res = {"mode": mode, "round": rnd, "phases": {}}
        extra = ["-name", "bench,debug-threads=on", "-msg", "timestamp=on"]
        for ev in QEMU_TRACE + (QEMU_TRACE_VHOST if vhost else ()):
            extra += ["-trace", ev]
        try:
            t = time.monotonic()
            g.start(0, extra=extra)
            g.agent.wait_ready(vmem_e2e.BOOT_TIMEOUT)
            res["boot_s"] = time.monotonic() - t
            pid = g.proc.pid
            notify = self.notify_range(g)
            time.sleep(SETTLE_S)
            tracefs_start(notify)
            current = 0
            for name, size, limit in PHASES:
                t0, t1, answer, sw = self.window(
                    g, pid, size, limit, lambda s=size: g.resize(s))
                if not answer.startswith("ok reached"):
                    raise Failure("%s to %s: the guest has not got there"
                                  " (%s)" % (name, vmem_e2e.size_str(size),
                                             answer))
                wall = t1 - t0
                time.sleep(SETTLE_S)
                # The same length of nothing: the agent polls for a size
                # that does not come, QMP answers a qom-get.
                i0, i1, _, idle = self.window(
                    g, pid, size + GIB, wall,
                    lambda: g.qom("requested-size"))
                res["phases"][name] = {
                    "from": current, "to": size, "t0": t0, "t1": t1,
                    "wall_s": wall, "guest": answer, "switches": sw,
                    "idle": {"t0": i0, "t1": i1, "switches": idle}}
                current = size
                time.sleep(SETTLE_S)
            ktrace = tracefs_stop()
            res["plugged"] = g.qom("size")
            if vhost:
                res["module"] = {k: v for k, v in g.module_status().items()
                                 if k in ("plugged_size", "memslots")}
            g.qmp.cmd("quit")
            g.proc.wait(30)
            qtrace = parse_qemu(os.path.join(g.dir, "qemu1.log"))
            kev = parse_kernel(ktrace)
            for name, ph in res["phases"].items():
                ph["requests"] = requests(kev, qtrace, vhost,
                                          ph["t0"], ph["t1"])
                # Which of QEMU's threads traced what during the resize.
                ev = {}
                for ts, name_, tid, _ in qtrace:
                    if ph["t0"] <= ts <= ph["t1"]:
                        key = "%s %s" % (name_, self.kinds.get(tid, "?"))
                        ev[key] = ev.get(key, 0) + 1
                ph["qemu_events"] = ev
            res["trace_counts"] = {
                "kernel_lines": len(kev), "qemu_lines": len(qtrace),
                "kvm_mmio_writes": sum(1 for e in kev
                                       if e[1] == "kvm_mmio"),
                "qemu_notify": sum(1 for e in qtrace
                                   if e[1] == "virtio_queue_notify"),
                "qemu_vhost_events": sorted({e[1] for e in qtrace
                                             if "vhost" in e[1]})}
        except Failure:
            log("%s: QEMU log:\n%s" % (mode, g.qemu_log() if g.proc else ""))
            log("%s: end of the guest's console:\n%s" % (mode,
                                                         g.console_tail()))
            raise
        finally:
            tracefs("tracing_on", "0")
            g.stop()
        return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for a in ("series", "qemu", "kernel", "initrd", "ctl", "out"):
        ap.add_argument("--" + a, required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--modes", default="stock,vhost")
    args = ap.parse_args()

    tracefs_ready()
    doc = {"series": args.series, "kernel": os.uname().release,
           "cpus": os.cpu_count(), "rounds": []}
    t = time.monotonic()
    for rnd in range(args.rounds):
        for mode in args.modes.split(","):
            log("round %d, %s" % (rnd + 1, mode))
            r = Bench(args).round(mode, rnd)
            for name, ph in r["phases"].items():
                log("  %s: %.2f s, %d requests" % (name, ph["wall_s"],
                                                   len(ph["requests"])))
            doc["rounds"].append(r)
    doc["wall_s"] = time.monotonic() - t
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print("bench: %s" % e, file=sys.stderr)
        sys.exit(1)
