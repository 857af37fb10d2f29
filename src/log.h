/* Logging to stderr with a level threshold. */
#ifndef CHATD_LOG_H
#define CHATD_LOG_H

#include <stdarg.h>

enum log_level { LOG_ERR = 0, LOG_WARN = 1, LOG_NOTICE = 2, LOG_INFO = 3, LOG_DEBUG = 4 };

/* Set the threshold; messages above it are dropped. */
void log_set_level(int level);
/* Current threshold. */
int log_get_level(void);
/* Parse "err|warn|notice|info|debug"; returns the level or -1. */
int log_level_parse(const char *name);
/* Log one line at `level`; `prefix` (may be NULL) is printed in brackets. */
void log_msg(int level, const char *prefix, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* va_list form of log_msg. */
void log_vmsg(int level, const char *prefix, const char *fmt, va_list ap);

#define log_err(...) log_msg(LOG_ERR, NULL, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, NULL, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, NULL, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, NULL, __VA_ARGS__)

#endif
