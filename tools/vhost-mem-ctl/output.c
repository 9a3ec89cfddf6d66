// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem-ctl's output layer (output.h): text or JSON, one call per
 * field, and the JSON writer behind it.
 */
#include <inttypes.h>
#include <stdio.h>

#include "output.h"
#include "size.h"

static bool json_output;

void output_set_json(bool json)
{
	json_output = json;
}

bool output_is_json(void)
{
	return json_output;
}

/* Does a field of this type appear in the output chosen? */
static bool in_text(enum output_type type)
{
	return !json_output && (type & PRINT_FP);
}

static bool in_json(enum output_type type)
{
	return json_output && (type & PRINT_JSON);
}

/* A minimal JSON writer: compact, one document per line. */

#define JSON_MAX_DEPTH	16

static struct {
	int depth;
	bool comma[JSON_MAX_DEPTH];	/* a member came before, per level */
} jw;

static void json_string_value(const char *s)
{
	const unsigned char *p;

	putchar('"');
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/* The separator and the key of the next member (none in arrays). */
static void json_key(const char *key)
{
	if (jw.comma[jw.depth])
		putchar(',');
	jw.comma[jw.depth] = true;
	if (key) {
		json_string_value(key);
		putchar(':');
	}
}

static void json_open(const char *key, char c)
{
	json_key(key);
	putchar(c);
	jw.comma[++jw.depth] = false;
}

static void json_close(char c)
{
	jw.depth--;
	putchar(c);
	if (!jw.depth) {
		putchar('\n');
		jw.comma[0] = false;
	}
}

static void json_uint(const char *key, uint64_t value)
{
	json_key(key);
	printf("%" PRIu64, value);
}

static void json_seconds(const char *key, double value)
{
	json_key(key);
	printf("%.3f", value);
}

void open_json_object(const char *key)
{
	if (json_output)
		json_open(key, '{');
}

void close_json_object(void)
{
	if (json_output)
		json_close('}');
}

void open_json_array(enum output_type type, const char *key, const char *text)
{
	if (in_json(type))
		json_open(key, '[');
	else if (in_text(type) && text)
		fputs(text, stdout);
}

void close_json_array(enum output_type type, const char *text)
{
	if (in_json(type))
		json_close(']');
	else if (in_text(type) && text)
		fputs(text, stdout);
}

void print_string(enum output_type type, const char *key, const char *fmt,
		  const char *value)
{
	if (in_json(type)) {
		json_key(key);
		json_string_value(value);
	} else if (in_text(type)) {
		printf(fmt, value);
	}
}

void print_uint(enum output_type type, const char *key, const char *fmt,
		uint64_t value)
{
	if (in_json(type))
		json_uint(key, value);
	else if (in_text(type))
		printf(fmt, value);
}

void print_int(enum output_type type, const char *key, const char *fmt,
	       int64_t value)
{
	if (in_json(type)) {
		json_key(key);
		printf("%" PRId64, value);
	} else if (in_text(type)) {
		printf(fmt, value);
	}
}

void print_bool(enum output_type type, const char *key, const char *fmt,
		bool value, const char *yes, const char *no)
{
	if (in_json(type)) {
		json_key(key);
		fputs(value ? "true" : "false", stdout);
	} else if (in_text(type)) {
		printf(fmt, value ? yes : no);
	}
}

void print_float(enum output_type type, const char *key, const char *fmt,
		 double value)
{
	if (in_json(type))
		json_seconds(key, value);
	else if (in_text(type))
		printf(fmt, value);
}

void print_size(enum output_type type, const char *key, const char *fmt,
		uint64_t value)
{
	if (in_json(type))
		json_uint(key, value);
	else if (in_text(type))
		printf(fmt, sz(value));
}

void print_time(enum output_type type, const char *key, const char *fmt,
		const struct timespec *ts)
{
	char hms[16], when[32];
	struct tm tm;

	if (in_json(type)) {
		json_seconds(key, ts->tv_sec + ts->tv_nsec / 1e9);
	} else if (in_text(type)) {
		localtime_r(&ts->tv_sec, &tm);
		strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
		snprintf(when, sizeof(when), "%s.%03ld", hms,
			 ts->tv_nsec / 1000000);
		printf(fmt, when);
	}
}

void print_nl(void)
{
	if (!json_output)
		putchar('\n');
}
