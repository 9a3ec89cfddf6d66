#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Kernel coding style for every C file of the project (kernel and
# userspace), with checkpatch.pl from Debian's linux-source.  Every shell
# script through shellcheck, every Python file through pyflakes and
# pycodestyle (Debian's, installed by scripts/setup.sh).  Then the
# kernel-doc comments of uapi/linux/vhost_mem.h, with that source's
# scripts/kernel-doc.  As the last case, that the files generated from the
# netlink spec are what it generates (scripts/ynl-gen.sh --check).  TAP
# output, one case per file.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
# shellcheck disable=SC1090
. <(scripts/setup.sh --env 6.12) || exit 1
checkpatch=$KSRC/scripts/checkpatch.pl

# Userspace files may use what kernel code must not (printf, typedef'd
# library types, volatile ring accesses).
USER_IGNORE=SPDX_LICENSE_TAG,NEW_TYPEDEFS,PREFER_KERNEL_TYPES,VOLATILE,SPLIT_STRING,
USER_IGNORE+=PREFER_FALLTHROUGH,EMBEDDED_FUNCTION_NAME,FILE_PATH_CHANGES,PREFER_DEFINED_ATTRIBUTE_MACRO

# Debian's interpreter and its linters, whatever else is first in PATH.
readonly PYTHON=/usr/bin/python3

# Shell scripts: *.sh, and the files without a suffix whose #! line names
# a shell (.ci/run, tests/e2e/guest/init).
shell_scripts() {
	local f
	git ls-files -co --exclude-standard | while IFS= read -r f; do
		case ${f##*/} in
		*.sh) echo "$f" ;;
		*.*) ;;
		*) head -n1 "$f" | grep -Eq '^#!.*[/ ](ba|da)?sh( |$)' && echo "$f" ;;
		esac
	done
}

# One TAP case: ok if COMMAND succeeds and prints nothing.
case_of() {	# description command...
	local what=$1 out
	shift
	n=$((n + 1))
	if out=$("$@" 2>&1) && [ -z "$out" ]; then
		echo "ok $n $what"
	else
		echo "not ok $n $what"
		printf '%s\n' "$out" | sed 's/^/# /'
		bad=1
	fi
}

# shellcheck disable=SC2317 # called through case_of
python_lint() {	# file
	"$PYTHON" -m pyflakes "$1" && "$PYTHON" -m pycodestyle "$1"
}

mapfile -t files < <(git ls-files -co --exclude-standard -- '*.c' '*.h')
mapfile -t scripts < <(shell_scripts)
mapfile -t pyfiles < <(git ls-files -co --exclude-standard -- '*.py')
echo "TAP version 13"
# userspace), with checkpatch.pl from Debian's linux-source.  Every shell
# script through shellcheck, every Python file through pyflakes and
# pycodestyle (Debian's, installed by scripts/setup.sh).  Then the
# kernel-doc comments of uapi/linux/vhost_mem.h, with that source's
# scripts/kernel-doc.  As the last case, that the files generated from the
# netlink spec are what it generates (scripts/ynl-gen.sh --check).  TAP
# output, one case per file.
n=0 bad=0
for f in "${files[@]}"; do
	n=$((n + 1))
	ignore=
	case $f in
	# The one place where kernel versions may be compared.
	kernel/compat.h) ignore=--ignore=LINUX_VERSION_CODE,CONSTANT_COMPARISON ;;
	kernel/* | uapi/*) ;;
	# VMT_BACKING_VARIANTS() declares a fixture's variants, at file
	# scope: no do-while can hold them.
	tests/selftests/lib/vmt.h)
		ignore=--ignore=$USER_IGNORE,MULTISTATEMENT_MACRO_USE_DO_WHILE ;;
	*) ignore=--ignore=$USER_IGNORE ;;
	esac
	# shellcheck disable=SC2086
	if out=$(perl "$checkpatch" --no-tree --quiet --show-types $ignore -f "$f" 2>&1) && [ -z "$out" ]; then
		echo "ok $n $f"
	else
		echo "not ok $n $f"
		printf '%s\n' "$out" | sed 's/^/# /'
		bad=1
	fi
done
# -x: follow the files a script sources (named by its source= comments,
# relative to the top of the tree).
for f in "${scripts[@]}"; do
	case_of "$f (shellcheck)" shellcheck -x "$f"
done
for f in "${pyfiles[@]}"; do
	case_of "$f (pyflakes, pycodestyle)" python_lint "$f"
done
n=$((n + 1))
# A cache set up before setup.sh extracted kernel-doc lacks it there; the
# debug kernel's whole tree of the same version (make check-debug) has it.
kerneldoc=$KSRC/scripts/kernel-doc
[ -f "$kerneldoc" ] ||
	kerneldoc=${VHOST_MEM_CACHE:-$top/.cache}/debug-kernel/${VERSION//\~/_}/src/scripts/kernel-doc
if [ ! -f "$kerneldoc" ]; then
	echo "ok $n kernel-doc uapi/linux/vhost_mem.h # SKIP no scripts/kernel-doc in $KSRC"
elif out=$(perl "$kerneldoc" -none -Wall uapi/linux/vhost_mem.h 2>&1) && [ -z "$out" ]; then
	echo "ok $n kernel-doc uapi/linux/vhost_mem.h"
else
	echo "not ok $n kernel-doc uapi/linux/vhost_mem.h"
	printf '%s\n' "$out" | sed 's/^/# /'
	bad=1
fi
n=$((n + 1))
if out=$(scripts/ynl-gen.sh --check 2>&1); then
	echo "ok $n generated from Documentation/netlink/specs/vhost_mem.yaml"
else
	echo "not ok $n generated from Documentation/netlink/specs/vhost_mem.yaml"
	printf '%s\n' "$out" | sed 's/^/# /'
	bad=1
fi
exit $bad
