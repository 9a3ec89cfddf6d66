# SPDX-License-Identifier: GPL-2.0
"""What the scripts that drive the end-to-end test's nested guest share.

The guest: the patched QEMU with -accel kvm (nested KVM in the test VM),
booting one of Debian's kernels with the stock virtio_mem driver, a
virtio-mem-pci device on its own NUMA node, and vmem-agent (guest/agent.c)
on its second serial port; QMP and the agent to drive it; unnumbered TAP
lines ("ok - ...") for the steps.  scenario.py, boots.py and demo.py
import it from this directory; bench/e2e/resize.py with PYTHONPATH set by
bench/e2e/run.sh.
"""

import json
import os
import re
import socket
import subprocess
import tempfile
import time

MIB = 1 << 20
GIB = 1 << 30

BOOT_MEM = 512 * MIB
REGION = 2 * GIB
DEV = "vm0"
QOM_PATH = "/machine/peripheral/" + DEV

# How long the guest may take (nested KVM under TCG is slow; on the debug
# kernel, slower still: check-debug gives it more).
BOOT_TIMEOUT = int(os.environ.get("VHOST_MEM_E2E_BOOT_TIMEOUT", "180"))
# A booting guest that has printed nothing for this long has hung (TCG's
# nested SVM, tests/e2e/README.md); its boot prints every few seconds.
CONSOLE_SILENCE = int(os.environ.get("VHOST_MEM_E2E_SILENCE", "60"))


class Failure(Exception):
    pass


class Hung(Failure):
    """A nested boot stopped: nothing on its console, no agent."""


def log(msg):
    print("# " + msg, flush=True)


def size_str(n):
    if n == 0:
        return "0"
    if n % GIB == 0:
        return "%d GiB" % (n // GIB)
    if n % MIB == 0:
        return "%d MiB" % (n // MIB)
    return "%d B" % n


class Tap:
    """Unnumbered TAP lines; a failed step skips the rest of its scenario."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.failed = 0

    def ok(self, desc):
        print("ok - %s: %s" % (self.prefix, desc), flush=True)

    def not_ok(self, desc, why):
        self.failed += 1
        print("not ok - %s: %s" % (self.prefix, desc), flush=True)
        for line in str(why).splitlines():
            log("  " + line)

    def skip(self, desc, why):
        print("ok - %s: %s # SKIP %s" % (self.prefix, desc, why), flush=True)


class Qmp:
    def __init__(self, path, deadline):
        self.sock = connect_unix(path, deadline)
        self.buf = b""
        self.events = []
        self.recv()  # greeting
        self.cmd("qmp_capabilities")

    def recv(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise Failure("QMP connection closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self.recv()
            if "event" in r:
                self.events.append(r)
                continue
            if "error" in r:
                raise QmpError(name, r["error"])
            return r["return"]

    def close(self):
        self.sock.close()


class QmpError(Failure):
    def __init__(self, name, error):
        super().__init__("%s: %s" % (name, error.get("desc", error)))
        self.desc = error.get("desc", "")


def connect_unix(path, deadline):
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise Failure("cannot connect to %s" % path)
            time.sleep(0.05)


class ConsoleWatch:
    """How long a console file has not grown."""

    def __init__(self, path):
        self.path = path
        self.size = -1
        self.since = time.monotonic()

    def check(self):
        if not self.path:
            return
        try:
            size = os.path.getsize(self.path)
        except OSError:
            size = 0
        if size != self.size:
            self.size, self.since = size, time.monotonic()
        elif time.monotonic() - self.since > CONSOLE_SILENCE:
            raise Hung("the guest's console has been silent for %d s and its"
                       " agent does not answer: the nested boot hung"
                       % CONSOLE_SILENCE)


class Agent:
    """vmem-agent on the guest's ttyS1: one command, one "ok"/"err" line."""

    def __init__(self, path, deadline):
        self.sock = connect_unix(path, deadline)
        self.buf = b""
        self.token = 0

    def readline(self, deadline):
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                raise TimeoutError
            if not data:
                raise Failure("the guest's serial port closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace").strip("\r\x00")

    def wait_ready(self, timeout, console=None):
        """Pings until the guest answers this very ping.  With CONSOLE, a
        booting guest's console file: raises Hung once it stays silent."""
        deadline = time.monotonic() + timeout
        watch = ConsoleWatch(console)
        while True:
            self.token += 1
            want = "ok pong %d" % self.token
            step = min(deadline, time.monotonic() + 1.0)
            try:
                # A guest that reads nothing fills the socket: sendall too
                # times out then.
                self.sock.sendall(b"ping %d\n" % self.token)
                while True:
                    if self.readline(step) == want:
                        return
            except TimeoutError:
                watch.check()
                if time.monotonic() > deadline:
                    raise Failure("the guest's agent did not answer within"
                                  " %d s" % timeout)

    def cmd(self, line, timeout=60):
        self.sock.sendall(line.encode() + b"\n")
        deadline = time.monotonic() + timeout
        while True:
            try:
                r = self.readline(deadline)
            except TimeoutError:
                raise Failure("no answer to '%s' within %d s"
                              % (line, timeout))
            if r.startswith("ok pong") or r == "ok ready":
                continue
            if r.startswith("ok "):
                return r[3:]
            if r.startswith("err "):
                raise Failure("guest: %s: %s" % (line, r[4:]))

    def send(self, line):
        self.sock.sendall(line.encode() + b"\n")

    def meminfo(self):
        """MemTotal etc. in bytes: total, free, node1_total, node1_free."""
        return {k[:-3]: int(v) * 1024 for k, v in
                (f.split("=") for f in self.cmd("meminfo").split())}


class Guest:
    """One nested QEMU with one virtio-mem-pci device."""

    def __init__(self, args, mode, workdir):
        self.args = args
        self.mode = mode
        self.vhost = mode == "vhost"
        self.dir = tempfile.mkdtemp(prefix=mode + ".", dir=workdir)
        self.console = os.path.join(self.dir, "console.log")
        self.proc = None
        self.qmp = None
        self.agent = None

    def start(self, requested, incoming=None, vhostfd=False, extra=()):
        """Starts QEMU; with INCOMING, as the destination of a migration;
        with VHOSTFD, /dev/vhost-mem is opened here and passed as vhostfd=N,
        as a management layer would; EXTRA: more QEMU options (bench/)."""
        a = self.args
        fds = []
        dev_opts = "vhost=%s" % ("on" if self.vhost else "off")
        if self.vhost and vhostfd:
            fds.append(os.open("/dev/vhost-mem", os.O_RDWR))
            dev_opts += ",vhostfd=%d" % fds[0]
        self.starts = getattr(self, "starts", 0) + 1
        qmp = os.path.join(self.dir, "qmp%d.sock" % self.starts)
        agent = os.path.join(self.dir, "agent%d.sock" % self.starts)
        argv = [
            # No SMM: nested SMM under TCG hangs the test VM at times (a
            # guest reboot with QEMU's own device, for one).
            a.qemu, "-accel", "kvm", "-machine", "pc,smm=off", "-cpu", "host",
            "-smp", "1", "-m", "%dM,maxmem=%dM" % (BOOT_MEM // MIB,
                                                   (BOOT_MEM + REGION) // MIB),
            "-nodefaults", "-display", "none", "-no-user-config",
            # Debian's firmware (a build-tree QEMU does not look there).
            "-L", "/usr/share/seabios", "-L", "/usr/share/qemu",
            "-object", "memory-backend-ram,id=mem0,size=%d" % BOOT_MEM,
            "-numa", "node,nodeid=0,cpus=0,memdev=mem0",
            "-numa", "node,nodeid=1",
            "-object", ("memory-backend-memfd,id=vmem0,size=%d"
                        if getattr(a, "memfd", False) else
                        "memory-backend-ram,id=vmem0,size=%d,reserve=off")
                       % REGION,
            "-device", "virtio-mem-pci,id=%s,memdev=vmem0,node=1,"
                       "requested-size=%d,unplugged-inaccessible=on,%s"
                       % (DEV, requested, dev_opts),
            "-kernel", a.kernel, "-initrd", a.initrd,
            "-append", "console=ttyS0 memhp_default_state=online panic=-1",
            "-serial", "file:" + self.console,
            "-chardev", "socket,id=agent,path=%s,server=on,wait=off" % agent,
            "-serial", "chardev:agent",
            "-qmp", "unix:%s,server=on,wait=off" % qmp,
        ]
        if incoming:
            argv += ["-incoming", incoming]
        argv += list(extra)
        log("%s: %s" % (self.mode, " ".join(argv)))
        self.stderr = open(os.path.join(self.dir, "qemu%d.log" % self.starts),
                           "w+")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self.stderr, stderr=self.stderr,
                                     pass_fds=fds)
        for fd in fds:
            os.close(fd)
        deadline = time.monotonic() + 10
        try:
            self.qmp = Qmp(qmp, deadline)
            self.agent = Agent(agent, deadline)
        except Failure:
            self.proc.wait(5)
            raise Failure("QEMU did not start:\n" + self.qemu_log())

    def qemu_log(self):
        self.stderr.flush()
        self.stderr.seek(0)
        return self.stderr.read().strip() or "(no output)"

    def console_tail(self, n=25):
        try:
            with open(self.console, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def qom(self, prop):
        return self.qmp.cmd("qom-get", path=QOM_PATH, property=prop)

    def resize(self, size):
        self.qmp.cmd("qom-set", path=QOM_PATH, property="requested-size",
                     value=size)

    def memory_device(self):
        for d in self.qmp.cmd("query-memory-devices"):
            if d["type"] == "virtio-mem" and d["data"].get("id") == DEV:
                return d["data"]
        raise Failure("query-memory-devices does not list %s" % DEV)

    def module_status(self):
        """The module's view of our device, through vhost-mem-ctl."""
        out = subprocess.run([self.args.ctl, "-j", "list"], check=True,
                             capture_output=True, text=True).stdout
        for d in json.loads(out):
            if d.get("owner_pid") == self.proc.pid:
                return d
        raise Failure("vhost-mem-ctl list shows no device of QEMU %d"
                      % self.proc.pid)

    def backing_rss(self):
        """Resident bytes of the device's backing (the VMA of its size)."""
        rss, size, total, found = 0, 0, 0, False
        with open("/proc/%d/smaps" % self.proc.pid) as f:
            for line in f:
                if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                    if found:
                        break
                    size = rss = None
                elif line.startswith("Size:"):
                    size = int(line.split()[1]) * 1024
                elif line.startswith("Rss:"):
                    rss = int(line.split()[1]) * 1024
                    if size == REGION:
                        total, found = rss, True
        if not found:
            raise Failure("no mapping of %s in QEMU's smaps"
                          % size_str(REGION))
        return total

    def wait_plugged(self, size, timeout):
        """Until QEMU reports SIZE plugged and the guest sees it on node 1."""
        deadline = time.monotonic() + timeout
        t0 = time.monotonic()
        while True:
            plugged = self.qom("size")
            node1 = self.agent.meminfo().get("node1_total", -1)
            if plugged == size and node1 == size:
                return time.monotonic() - t0
            if time.monotonic() > deadline:
                raise Failure("after %d s: QEMU reports %s plugged, the guest"
                              " has %s on node 1, want %s"
                              % (timeout, size_str(plugged), size_str(node1),
                                 size_str(size)))
            time.sleep(0.1)

    def wait_settled(self, timeout):
        """The plugged size once it has stayed the same for a second."""
        deadline = time.monotonic() + timeout
        last, since = self.qom("size"), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.2)
            plugged = self.qom("size")
            if plugged != last:
                last, since = plugged, time.monotonic()
            elif time.monotonic() - since >= 1:
                break
        return last

    def check_views(self, size):
        """QOM, query-memory-devices and (vhost) the module agree."""
        info = self.memory_device()
        if info["size"] != size or info["requested-size"] != self.qom(
                "requested-size"):
            raise Failure("query-memory-devices: size %s requested %s"
                          % (size_str(info["size"]),
                             size_str(info["requested-size"])))
        if self.vhost:
            st = self.module_status()
            if st["plugged_size"] != size:
                raise Failure("the module reports %s plugged, QEMU %s"
                              % (size_str(st["plugged_size"]), size_str(size)))
            if st["requested_size"] != info["requested-size"]:
                raise Failure("the module's requested size %s, QEMU's %s"
                              % (size_str(st["requested_size"]),
                                 size_str(info["requested-size"])))
            return "module: %s plugged, %d memslots" % (
                size_str(st["plugged_size"]), st["memslots"])
        return "QEMU: %s plugged" % size_str(size)

    def wait_migration(self, want, timeout):
        """Polls query-migrate until its status is WANT (or it failed)."""
        deadline = time.monotonic() + timeout
        while True:
            m = self.qmp.cmd("query-migrate")
            status = m.get("status", "none")
            if status == want:
                return m
            if (status in ("failed", "cancelled")
                    or time.monotonic() > deadline):
                raise Failure("migration %s: %s" % (
                    status, m.get("error-desc", "after %d s" % timeout)))
            time.sleep(0.2)

    def wait_runstate(self, want, timeout):
        deadline = time.monotonic() + timeout
        while True:
            st = self.qmp.cmd("query-status")["status"]
            if st == want:
                return
            if time.monotonic() > deadline:
                raise Failure("the VM is %s after %d s, not %s"
                              % (st, timeout, want))
            time.sleep(0.2)

    def stop(self):
        if not self.proc:
            return
        if self.proc.poll() is None:
            try:
                if self.qmp:
                    self.qmp.cmd("quit")
            except (Failure, OSError):
                pass
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for c in (self.qmp, self.agent):
            if c:
                c.sock.close()


def step(tap, desc, fn):
    """Runs one check; returns its result, or raises Failure after TAP."""
    try:
        r = fn()
    except Failure as e:
        tap.not_ok(desc, e)
        raise
    except Exception as e:  # a bug of the test itself, or a broken socket
        tap.not_ok(desc, "%s: %s" % (type(e).__name__, e))
        raise Failure(str(e))
    if isinstance(r, str):
        tap.ok("%s (%s)" % (desc, r))
    else:
        tap.ok(desc)
    return r
