// SPDX-License-Identifier: GPL-2.0
/* vhost-mem-ctl: sizes in binary units (size.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "size.h"

static const char size_units[] = "KMGTPE";

int parse_size(const char *s, uint64_t *out)
{
	unsigned __int128 whole = 0, frac = 0, div = 1, unit = 1, v;
	const char *p = s, *u;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		whole = whole * 10 + (*p - '0');
		if (whole > UINT64_MAX)
			return -ERANGE;
	}
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (div >= 1000000000000ULL)
				return -EINVAL;	/* absurd precision */
			frac = frac * 10 + (*p - '0');
			div *= 10;
		}
	}
	if (*p) {
		u = *p & ~0x20 ? strchr(size_units, *p & ~0x20) : NULL;
		if (u) {
			unit = (unsigned __int128)1 << (10 * (u - size_units + 1));
			p++;
			if (*p == 'i')
				p++;
		}
		if (*p == 'B' || *p == 'b')
			p++;
		if (*p)
			return -EINVAL;
	}
	if (frac * unit % div)
		return -EINVAL;		/* not a whole number of bytes */
	v = whole * unit + frac * unit / div;
	if (v > UINT64_MAX)
		return -ERANGE;
	*out = (uint64_t)v;
	return 0;
}

const char *fmt_size(char *buf, size_t len, uint64_t v)
{
	unsigned int i = 0;
	uint64_t unit = 1;
	char *dot;

	while (i < sizeof(size_units) - 1 && v >= unit << 10) {
		unit <<= 10;
		i++;
	}
	if (!i) {
		snprintf(buf, len, "%" PRIu64, v);
		return buf;
	}
	if (v % unit == 0) {
		snprintf(buf, len, "%" PRIu64 "%c", v / unit, size_units[i - 1]);
		return buf;
	}
	snprintf(buf, len, "%.2f", (double)v / (double)unit);
	dot = strchr(buf, '.');
	if (dot) {
		char *end = buf + strlen(buf) - 1;

		while (end > dot && *end == '0')
			*end-- = '\0';
		if (end == dot)
			*end = '\0';
	}
	snprintf(buf + strlen(buf), len - strlen(buf), "%c", size_units[i - 1]);
	return buf;
}

const char *sz(uint64_t v)
{
	static char bufs[8][24];
	static unsigned int next;

	return fmt_size(bufs[next++ % 8], sizeof(bufs[0]), v);
}
