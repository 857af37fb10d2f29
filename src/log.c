#include "log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* The threshold is process-wide on purpose: logging is called from places
 * (config parsing, plugin loading) that run before any server exists. */
static int log_threshold = LOG_NOTICE;

static const char *const level_names[] = { "err", "warn", "notice", "info", "debug" };

void log_set_level(int level) { log_threshold = level; }

int log_get_level(void) { return log_threshold; }

int log_level_parse(const char *name)
{
	for (int i = 0; i < (int)(sizeof level_names / sizeof level_names[0]); i++)
		if (!strcmp(name, level_names[i]))
			return i;
	return -1;
}

void log_vmsg(int level, const char *prefix, const char *fmt, va_list ap)
{
	if (level > log_threshold)
		return;
	struct timespec ts;
	struct tm tm;
	char when[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	if (level < 0)
		level = 0;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	fprintf(stderr, "%s.%03ldZ chatd %s: ", when, ts.tv_nsec / 1000000, level_names[level]);
	if (prefix)
		fprintf(stderr, "[%s] ", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void log_msg(int level, const char *prefix, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, prefix, fmt, ap);
	va_end(ap);
}
