#include "services.h"
#include "log.h"
#include "plugins.h"

#include <stdlib.h>
#include <string.h>

#define SERVICE_NAME_MAX 64

/* One offered service; srv->services is a list of them. */
struct service {
	char name[SERVICE_NAME_MAX + 1];
	int version;
	const void *table;           /* borrowed from the provider */
	struct loaded_plugin *owner;
	struct service *next;
};

int services_register(chatd_plugin *self, const char *name, int version, const void *table)
{
	struct loaded_plugin *lp = (struct loaded_plugin *)self;
	struct chatd_server *srv = lp->srv;
	if (!name || !*name || strlen(name) > SERVICE_NAME_MAX || !table || version < 1)
		return -1;
	for (struct service *s = srv->services; s; s = s->next)
		if (!strcmp(s->name, name))
			return -1;
	struct service *s = calloc(1, sizeof *s);
	if (!s)
		return -1;
	strcpy(s->name, name);
	s->version = version;
	s->table = table;
	s->owner = lp;
	s->next = srv->services;
	srv->services = s;
	log_info("plugin %s offers service %s version %d", lp->conf->name, name, version);
	return 0;
}

const void *services_get(chatd_plugin *self, const char *name, int min_version, int *version)
{
	struct loaded_plugin *lp = (struct loaded_plugin *)self;
	if (version)
		*version = 0;
	if (!name)
		return NULL;
	for (struct service *s = lp->srv->services; s; s = s->next)
		if (!strcmp(s->name, name)) {
			if (version)
				*version = s->version;
			return s->version >= min_version ? s->table : NULL;
		}
	return NULL;
}

void services_forget(struct chatd_server *srv, struct loaded_plugin *lp)
{
	for (struct service **p = &srv->services; *p;) {
		struct service *s = *p;
		if (s->owner == lp) {
			*p = s->next;
			free(s);
		} else {
			p = &s->next;
		}
	}
}
