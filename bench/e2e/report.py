#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Tables and a chart from bench/e2e/resize.py's JSON (one file per series).

  report.py --out PREFIX RESULT.json...

Writes PREFIX.md (the tables, also printed), PREFIX.dat and, when gnuplot
is there, PREFIX.png.  Each number is the median over the rounds.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

MODES = ("stock", "vhost")
PHASES = ("plug", "unplug")
KINDS = ("main", "vcpu", "vhost", "other")
KIND_NAMES = {"main": "main loop", "vcpu": "vCPU", "vhost": "vhost worker",
              "other": "other"}
# QEMU's trace events that only a request of the device makes a QEMU thread
# log: the ioeventfd read (one wake-up per kick) and the request's handling.
DEVICE_EVENTS = ("virtio_queue_notify", "virtqueue_pop", "virtqueue_flush")


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def size(n):
    if not n:
        return "0"
    if n % (1 << 30) == 0:
        return "%d GiB" % (n >> 30)
    return "%d MiB" % (n >> 20)


def phase_stats(ph):
    reqs = ph["requests"]
    k2u = [r["used"] - r["kick"] for r in reqs if r["kick"] is not None]
    p2u = [r["used"] - r["pop"] for r in reqs]
    sw, idle = ph["switches"], ph["idle"]["switches"]
    wake = {}
    for k in KINDS:
        busy = sw.get(k, {}).get("wakeups", 0)
        base = idle.get(k, {}).get("wakeups", 0)
        wake[k] = (busy, base, busy - base)
    woken = {}
    for key, n in ph.get("qemu_events", {}).items():
        event, kind = key.split(" ", 1)
        if event == "virtio_queue_notify":
            woken[kind] = woken.get(kind, 0) + n
    return {
        "wall": ph["wall_s"],
        "kicks_in_qemu": sum(woken.values()),
        "kicks_by": woken,
        "n": len(reqs),
        "kicked": len(k2u),
        "k2u_sum": sum(k2u) * 1e3 if k2u else None,
        "k2u_p50": pct(k2u, 50) * 1e6 if k2u else None,
        "p2u_sum": sum(p2u) * 1e3 if p2u else None,
        "p2u_p50": pct(p2u, 50) * 1e6 if p2u else None,
        "wake": wake,
    }


def aggregate(doc):
    """(mode, phase) -> medians over the rounds."""
    out = {}
    for mode in MODES:
        for phase in PHASES:
            runs = [phase_stats(r["phases"][phase]) for r in doc["rounds"]
                    if r["mode"] == mode and phase in r["phases"]]
            if not runs:
                continue
            agg = {k: med([r[k] for r in runs])
                   for k in ("wall", "n", "kicked", "k2u_sum", "k2u_p50",
                             "p2u_sum", "p2u_p50", "kicks_in_qemu")}
            agg["kicks_by"] = sorted({k for r in runs for k in r["kicks_by"]})
            agg["wake"] = {k: tuple(med([r["wake"][k][i] for r in runs])
                                    for i in range(3)) for k in KINDS}
            agg["rounds"] = len(runs)
            agg["walls"] = [r["wall"] for r in runs]
            out[mode, phase] = agg
    return out


def fmt(x, f="%.1f"):
    return "-" if x is None else f % x


def wake_cell(w):
    busy, idle, _ = w
    return "%d / %d" % (busy, idle)


def table(doc, agg):
    r0 = doc["rounds"][0]["phases"]
    rounds = len(doc["rounds"]) // len(MODES)
    lines = ["### Linux %s (`%s`), median of %d round%s per mode" % (
        doc["series"], doc["kernel"], rounds, "s" if rounds > 1 else ""), ""]
    lines.append("| resize | mode | wall s | requests | kick→used, all ms | "
                 "kick→used p50 µs | pop→used p50 µs | "
                 "requests run by QEMU threads | " +
                 " | ".join("%s wake-ups" % KIND_NAMES[k] for k in KINDS) +
                 " |")
    lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | " +
                 " | ".join("---:" for _ in KINDS) + " |")
    for phase in PHASES:
        ph = r0.get(phase)
        if not ph:
            continue
        name = "%s %s -> %s" % (phase, size(ph["from"]), size(ph["to"]))
        for mode in MODES:
            a = agg.get((mode, phase))
            if not a:
                continue
            kicks = fmt(a["kicks_in_qemu"], "%d")
            if a["kicks_by"]:
                kicks += " (%s)" % ", ".join(KIND_NAMES.get(k, k)
                                             for k in a["kicks_by"])
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                name, "vhost=on" if mode == "vhost" else "stock",
                fmt(a["wall"], "%.2f"), fmt(a["n"], "%d"),
                fmt(a["k2u_sum"]), fmt(a["k2u_p50"], "%.0f"),
                fmt(a["p2u_p50"], "%.0f"), kicks,
                " | ".join(wake_cell(a["wake"][k]) for k in KINDS)))
    lines.append("")
    lines.append("Requests run by QEMU threads: kicks in QEMU's own trace"
                 " (virtio_queue_notify), and which thread took them (QEMU"
                 " 7.2's virtio-mem-pci has no ioeventfd: the vCPU thread runs"
                 " the request in its MMIO exit).  Wake-ups: voluntary"
                 " context switches of QEMU's threads of that kind, during the"
                 " resize / during an idle window as long right after it, in"
                 " which the guest's agent polls and QMP answers alike; vCPU"
                 " threads mostly sleep when the guest halts, so an idle guest"
                 " wakes them more than a busy one.  The vhost worker is the"
                 " kernel's (on 6.12 a thread of QEMU's process that never"
                 " returns to user space).")
    return "\n".join(lines)


def chart(prefix, docs_aggs):
    dat = prefix + ".dat"
    with open(dat, "w") as f:
        f.write("# label wall(stock vhost) device_ms(stock vhost) "
                "kicks_in_qemu(stock vhost) "
                "kick_to_used_p50_us(stock vhost)\n")
        for doc, agg in docs_aggs:
            for phase in PHASES:
                s, v = agg.get(("stock", phase)), agg.get(("vhost", phase))
                if not s or not v:
                    continue
                f.write('"%s %s" %s %s %s %s %d %d %s %s\n' % (
                    doc["series"], phase, fmt(s["wall"], "%.3f"),
                    fmt(v["wall"], "%.3f"), fmt(s["k2u_sum"], "%.3f"),
                    fmt(v["k2u_sum"], "%.3f"),
                    s["kicks_in_qemu"] or 0, v["kicks_in_qemu"] or 0,
                    fmt(s["k2u_p50"], "%.0f"), fmt(v["k2u_p50"], "%.0f")))
    if not shutil.which("gnuplot"):
        print("report: no gnuplot, no chart", file=sys.stderr)
        return
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "chart.gp")
    subprocess.run(["gnuplot", "-e", "dat='%s'; png='%s.png'" % (dat, prefix),
                    script], check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="prefix of the outputs")
    ap.add_argument("json", nargs="+")
    args = ap.parse_args()

    docs_aggs = []
    parts = ["## vhost-mem against QEMU's own virtio-mem: resizing a guest",
             ""]
    for path in args.json:
        with open(path) as f:
            doc = json.load(f)
        agg = aggregate(doc)
        docs_aggs.append((doc, agg))
        parts += [table(doc, agg), ""]
    text = "\n".join(parts)
    with open(args.out + ".md", "w") as f:
        f.write(text)
    print(text)
    chart(args.out, docs_aggs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
