# SPDX-License-Identifier: GPL-2.0
#
# vhost-mem: top-level build.  Kernel parts are built with kbuild against
# Debian's headers that scripts/setup.sh downloads into .cache/.
#
#   make                 vhost_mem.ko for every supported kernel series
#   make KVER=6.12       ... for one series (or a full name, 6.1.0-56-amd64)
#   make check           host unit tests, the VM tests on each series, e2e (6.12)
#   make check-debug     the VM tests and e2e on a KASAN/lockdep/kmemleak 6.12
#   make bench           the issue-3 benchmark in a VM on each series
#   make bench-e2e       the issue-6 benchmark: QEMU's virtio-mem and vhost=on
#   make demo            a guest resized through QEMU and the module, in a VM
#   make qemu            Debian's QEMU with tools/qemu/patches, in .cache/qemu
#   make e2e             QEMU (vhost=on and its own device) with real guests

SERIES_ALL := 6.1 6.12
KVER ?=
series = $(if $(KVER),$(shell echo '$(KVER)' | sed -E 's/^([0-9]+\.[0-9]+).*/\1/'),$(SERIES_ALL))

top := $(CURDIR)
BUILD := $(top)/build
# The download cache: VHOST_MEM_CACHE, as for the scripts, else .cache/.
CACHE := $(or $(VHOST_MEM_CACHE),$(top)/.cache)
HARNESS_DIR = $(firstword $(wildcard $(CACHE)/kernel/6.12/*/src/tools/testing/selftests))

.PHONY: all setup modules unit tools selftests check check-debug demo checkpatch clean bench bench-e2e qemu e2e

all: modules

setup:
	@scripts/setup.sh $(series)

modules: setup
	@set -e; for s in $(series); do scripts/build-module.sh $$s $(KVER); done

unit: setup
	@$(MAKE) -s -C tests/unit run BUILD=$(BUILD)/unit HARNESS_DIR=$(HARNESS_DIR)

# Userspace tools (vhost-mem-ctl), with meson; the selftests run them.
tools: setup
	@[ -f $(BUILD)/tools/build.ninja ] || meson setup $(BUILD)/tools tools >/dev/null
	@ninja -C $(BUILD)/tools >/dev/null

selftests: setup tools
	@$(MAKE) -s -C tests/selftests BUILD=$(BUILD)/selftests HARNESS_DIR=$(HARNESS_DIR)

check:
	@scripts/check.sh $(series)

# The debug kernel is built once into .cache/debug-kernel (scripts/README).
check-debug:
	@scripts/check-debug.sh

# BENCH_OPTS: options of vhost_mem_bench (bench/README.md), e.g. "-t -r 10".
bench:
	@bench/run.sh $(series) $(if $(BENCH_OPTS),-- $(BENCH_OPTS))

# Resizing a real guest with QEMU's own device and with vhost=on, in one
# run (bench/README.md); 6.12 unless KVER says, about 9 minutes.
bench-e2e:
	@bench/e2e/run.sh $(if $(KVER),$(series))

# QEMU with vhost=on for virtio-mem (tools/qemu/README.md); rebuilt only
# when the patches or the uapi header change.
qemu:
	@scripts/setup-qemu.sh

# About 3 minutes per series with a warm cache; make check runs 6.12.
e2e:
	@tests/e2e/run.sh $(series)

demo:
	@scripts/demo.sh

checkpatch: setup
	@scripts/checkpatch.sh

clean:
	rm -rf $(BUILD)
