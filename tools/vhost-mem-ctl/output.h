/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-mem-ctl's output: each field is printed by one call that writes
 * it as text (with fmt) or as a JSON member (with key), whichever the
 * output is, so that one function per object serves both.
 *
 * type says in which outputs the field appears: PRINT_FP text only (a
 * heading, a separator), PRINT_JSON JSON only, PRINT_ANY both.  JSON is
 * compact, one document per line.
 */
#ifndef VHOST_MEM_CTL_OUTPUT_H
#define VHOST_MEM_CTL_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum output_type {
	PRINT_FP = 1,
	PRINT_JSON = 2,
	PRINT_ANY = PRINT_FP | PRINT_JSON,
};

void output_set_json(bool json);
bool output_is_json(void);

/*
 * Objects and arrays exist in JSON only; key is NULL at the top and in
 * arrays.  A document ends, with a newline, when its outermost closes.
 */
void open_json_object(const char *key);
void close_json_object(void);
/* An array; text, if not NULL, is written where it opens or closes. */
void open_json_array(enum output_type type, const char *key,
		     const char *text);
void close_json_array(enum output_type type, const char *text);

void print_string(enum output_type type, const char *key, const char *fmt,
		  const char *value);
void print_uint(enum output_type type, const char *key, const char *fmt,
		uint64_t value);
void print_int(enum output_type type, const char *key, const char *fmt,
	       int64_t value);
/* Text writes yes or no (for example "on", "off") with fmt's %s. */
void print_bool(enum output_type type, const char *key, const char *fmt,
		bool value, const char *yes, const char *no);
/* JSON: seconds with three decimals. */
void print_float(enum output_type type, const char *key, const char *fmt,
		 double value);
/* Text: a size such as 512M (fmt_size()) for fmt's %s; JSON: bytes. */
void print_size(enum output_type type, const char *key, const char *fmt,
		uint64_t value);
/* Text: the local time as 12:34:56.789 for fmt's %s; JSON: seconds. */
void print_time(enum output_type type, const char *key, const char *fmt,
		const struct timespec *ts);
/* Ends a line of text. */
void print_nl(void);

#endif /* VHOST_MEM_CTL_OUTPUT_H */
