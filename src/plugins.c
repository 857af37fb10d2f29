#include "plugins.h"
#include "api.h"
#include "log.h"
#include "services.h"
#include "watch.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const int chatd_supported_abis[] = { CHATD_PLUGIN_ABI };
const int chatd_supported_abi_count = 1;

/* The file for a plugin: "path =", else plugin_dir/NAME/NAME.so, else plugin_dir/NAME.so. New string. */
static char *plugin_file(const struct chatd_config *cfg, const struct plugin_conf *pc)
{
	if (pc->path)
		return strdup(pc->path);
	const char *dir = cfg->plugin_dir ? cfg->plugin_dir : ".";
	size_t n = strlen(dir) + 2 * strlen(pc->name) + 8;
	char *p = malloc(n);
	if (!p)
		return NULL;
	snprintf(p, n, "%s/%s/%s.so", dir, pc->name, pc->name);
	if (access(p, F_OK) == 0)
		return p;
	snprintf(p, n, "%s/%s.so", dir, pc->name);
	return p;
}

/* The versions this core speaks, as text: "1" or "1, 2". */
static void supported_text(char *out, size_t outsz)
{
	size_t n = 0;
	out[0] = 0;
	for (int i = 0; i < chatd_supported_abi_count && n < outsz; i++)
		n += (size_t)snprintf(out + n, outsz - n, "%s%d", i ? ", " : "", chatd_supported_abis[i]);
}

/* Why lp's version function answered `abi` (not one the core speaks). A
 * plugin that refuses (-1) is asked which ABI it was built for: plugins
 * built with CHATD_PLUGIN_DEFINE_VERSION export chatd_plugin_built_abi. */
static void abi_refusal(struct loaded_plugin *lp, int abi, char *err, size_t errsz)
{
	const struct plugin_conf *pc = lp->conf;
	const char *file = lp->srv->cfg.file ? lp->srv->cfg.file : "(config)";
	char speaks[64];
	supported_text(speaks, sizeof speaks);
	if (abi >= 0) {
		snprintf(err, errsz, "%s:%d: plugin %s: wants plugin ABI %d, this chatd speaks ABI %s", file, pc->line,
			 pc->name, abi, speaks);
		return;
	}
	const int *built = dlsym(lp->dl, "chatd_plugin_built_abi");
	if (built)
		snprintf(err, errsz, "%s:%d: plugin %s: built for plugin ABI %d, this chatd speaks ABI %s: rebuild it "
			 "against this chatd's <chatd/plugin.h>", file, pc->line, pc->name, *built, speaks);
	else
		snprintf(err, errsz, "%s:%d: plugin %s: refuses every plugin ABI this chatd speaks (%s)", file, pc->line,
			 pc->name, speaks);
}

static int load_one(struct chatd_server *srv, int index, char *err, size_t errsz)
{
	const struct plugin_conf *pc = &srv->cfg.plugins[index];
	const char *file = srv->cfg.file ? srv->cfg.file : "(config)";
	struct loaded_plugin *lp = calloc(1, sizeof *lp);
	if (!lp)
		goto oom;
	srv->plugins[index] = lp;
	lp->srv = srv;
	lp->conf = pc;
	lp->slot = index;
	if (!(lp->path = plugin_file(&srv->cfg, pc)))
		goto oom;
	lp->dl = dlopen(lp->path, RTLD_NOW | RTLD_LOCAL);
	if (!lp->dl) {
		snprintf(err, errsz, "%s:%d: plugin %s: cannot load %s: %s", file, pc->line, pc->name, lp->path,
			 dlerror());
		return -1;
	}
	chatd_plugin_version_fn version;
	chatd_plugin_init_fn init;
	*(void **)&version = dlsym(lp->dl, "chatd_plugin_version");
	*(void **)&init = dlsym(lp->dl, "chatd_plugin_init");
	*(void **)&lp->cleanup = dlsym(lp->dl, "chatd_plugin_cleanup");
	if (!version || !init) {
		snprintf(err, errsz, "%s:%d: plugin %s: %s does not export %s", file, pc->line, pc->name, lp->path,
			 !version ? "chatd_plugin_version" : "chatd_plugin_init");
		return -1;
	}
	int abi = version(chatd_supported_abi_count, chatd_supported_abis);
	int ok = 0;
	for (int i = 0; i < chatd_supported_abi_count; i++)
		ok |= abi == chatd_supported_abis[i];
	if (!ok) {
		abi_refusal(lp, abi, err, errsz);
		return -1;
	}
	api_error_reset(srv);
	if (init((chatd_plugin *)lp, &chatd_api_table, pc->opts, pc->nopts, &lp->userdata)) {
		const char *why = api_error_text(srv);
		if (why[0])
			snprintf(err, errsz, "%s", why);
		else
			snprintf(err, errsz, "%s:%d: plugin %s: initialisation failed", file, pc->line, pc->name);
		return -1;
	}
	lp->initialised = 1;
	log_info("plugin %s loaded from %s (ABI %d)", pc->name, lp->path, abi);
	return 0;
oom:
	snprintf(err, errsz, "%s:%d: plugin %s: out of memory", file, pc->line, pc->name);
	return -1;
}

int plugins_load_all(struct chatd_server *srv, char *err, size_t errsz)
{
	if (!srv->cfg.nplugins)
		return 0;
	srv->plugins = calloc((size_t)srv->cfg.nplugins, sizeof *srv->plugins);
	if (!srv->plugins) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	srv->nplugins = srv->cfg.nplugins;
	for (int i = 0; i < srv->nplugins; i++)
		if (load_one(srv, i, err, errsz)) {
			plugins_unload_all(srv);
			return -1;
		}
	return 0;
}

void plugins_unload_all(struct chatd_server *srv)
{
	for (int i = srv->nplugins - 1; i >= 0; i--) {
		struct loaded_plugin *lp = srv->plugins[i];
		if (!lp)
			continue;
		api_forget_plugin(srv, lp); /* hooks, claims and timers point into the .so */
		services_forget(srv, lp);
		posts_flush(srv, lp, 1); /* what its threads posted runs while it is alive */
		if (lp->initialised && lp->cleanup)
			lp->cleanup(lp->userdata);
		watch_forget(srv, lp); /* after cleanup, which may remove its own */
		size_t dropped = posts_flush(srv, lp, 0);
		if (dropped)
			log_warn("plugin %s: %zu loop_post call(s) made during its cleanup were dropped", lp->conf->name,
				 dropped);
		if (lp->dl)
			dlclose(lp->dl);
		for (int j = 0; j < lp->ncounters; j++)
			free(lp->counters[j].name);
		free(lp->counters);
		free(lp->path);
		free(lp);
	}
	free(srv->plugins);
	srv->plugins = NULL;
	srv->nplugins = 0;
}
