#include "paths.h"
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int paths_check_web_root(const struct chatd_config *cfg, char *err, size_t errsz)
{
	char where[512];
	struct stat st;
	const char *why = NULL;
	if (!cfg->web_root)
		return 0;
	if (stat(cfg->web_root, &st))
		why = strerror(errno);
	else if (!S_ISDIR(st.st_mode))
		why = "not a directory";
	if (!why)
		return 0;
	config_origin(cfg, "web_root", cfg->web_root_line, "-w", where, sizeof where);
	if (cfg->web_root_line)
		snprintf(err, errsz, "%s: web root %s: %s", where, cfg->web_root, why);
	else
		snprintf(err, errsz, "web root %s: %s; it is %s: / and every static file answer 404", cfg->web_root,
			 why, where);
	return cfg->web_root_line ? -1 : 1;
}

int paths_mkdir_p(const char *path, mode_t mode, size_t *failed)
{
	size_t len = strlen(path);
	char *buf = malloc(len + 1);
	struct stat st;
	if (!buf)
		return -1;
	memcpy(buf, path, len + 1);
	/* each prefix ending before a '/' (not the leading one), then the whole path */
	for (size_t i = 1; i <= len; i++) {
		if (i < len && buf[i] != '/')
			continue;
		if (i < len && buf[i - 1] == '/')
			continue; /* "a//b" */
		char c = buf[i];
		buf[i] = 0;
		int r = mkdir(buf, mode);
		int e = errno;
		if (r && e == EEXIST && (stat(buf, &st) || !S_ISDIR(st.st_mode)))
			e = ENOTDIR, r = -1;
		else if (r && e == EEXIST)
			r = 0;
		buf[i] = c;
		if (r) {
			if (failed)
				*failed = i;
			free(buf);
			errno = e;
			return -1;
		}
	}
	free(buf);
	return 0;
}

int paths_make_data_dir(const struct chatd_config *cfg, mode_t mode, char *err, size_t errsz)
{
	char where[512];
	size_t failed = 0;
	if (!cfg->data_dir || !paths_mkdir_p(cfg->data_dir, mode, &failed))
		return 0;
	int e = errno;
	config_origin(cfg, "data_dir", cfg->data_dir_line, "-D", where, sizeof where);
	size_t len = strlen(cfg->data_dir);
	if (failed && failed < len)
		snprintf(err, errsz, "%s: data directory %s: cannot create %.*s: %s", where, cfg->data_dir, (int)failed,
			 cfg->data_dir, strerror(e));
	else
		snprintf(err, errsz, "%s: data directory %s: %s", where, cfg->data_dir, strerror(e));
	return -1;
}
