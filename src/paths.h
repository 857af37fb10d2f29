/* The directories chatd needs at start: the web root it serves and the data
 * directory plugins keep their files in. Errors name where the path came
 * from (config file, line and key; the flag; or the built-in default). */
#ifndef CHATD_PATHS_H
#define CHATD_PATHS_H

#include <stddef.h>
#include <sys/types.h>

struct chatd_config;

/*
 * Check cfg->web_root (borrowed). Returns 0 when it is a directory; -1 when
 * the config or -w named one that is missing or not a directory (err: where
 * it was set, the path and why); 1 when the built-in default is missing
 * (err: a warning to log; chatd then answers / with a 404 that says so).
 */
int paths_check_web_root(const struct chatd_config *cfg, char *err, size_t errsz);

/*
 * Create cfg->data_dir and its missing parents (like mkdir -p) with mode
 * (0750 at the call site, less the umask). Returns 0 (also when it already
 * is a directory), or -1 with err naming where the path was set, the
 * directory that could not be made and why.
 */
int paths_make_data_dir(const struct chatd_config *cfg, mode_t mode, char *err, size_t errsz);

/* mkdir -p path (borrowed) with mode. Returns 0, or -1 with errno set and
 * *failed (may be NULL) set to the length of the prefix that failed. */
int paths_mkdir_p(const char *path, mode_t mode, size_t *failed);

#endif
