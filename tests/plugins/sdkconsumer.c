/*
 * Test plugin: a consumer of sdkapi's service "sdkapi.counter" (version 2).
 * It is listed BEFORE its provider in the test config, so it looks the
 * service up at CHATD_EV_READY. Frame "svc" answers
 * {"type":"svc","v1":next(),"v2":add(10),"version":N,"too_new":0|1}.
 * Its cleanup sets SDKCONSUMER_CLEANUP_RAN in the environment.
 */
#include <chatd/plugin.h>

#include <stdlib.h>

struct counter_v2 {
	int (*next)(void);
	int (*add)(int n);
};

struct consumer {
	const struct chatd_api *api;
	chatd_plugin *self;
	const struct counter_v2 *counter;
	int version, too_new_found;
};

static int on_ready(int id, void *event, void *ud)
{
	struct consumer *c = ud;
	(void)id, (void)event;
	c->counter = c->api->service_get(c->self, "sdkapi.counter", 2, &c->version);
	int v = -1;
	c->too_new_found = c->api->service_get(c->self, "sdkapi.counter", 3, &v) != NULL || v != 2;
	return CHATD_OK;
}

static int on_svc(int id, void *event, void *ud)
{
	struct chatd_frame_event *ev = event;
	struct consumer *c = ud;
	(void)id;
	chatd_frame *f = c->api->frame_new("svc");
	if (c->counter) {
		c->api->frame_set_int(f, "v1", c->counter->next());
		c->api->frame_set_int(f, "v2", c->counter->add(10));
	}
	c->api->frame_set_int(f, "version", c->version);
	c->api->frame_set_int(f, "too_new", c->too_new_found);
	c->api->frame_set_bool(f, "absent_is_null",
			       c->api->service_get(c->self, "no.such.service", 1, NULL) == NULL);
	c->api->send(ev->client, f, CHATD_SEND_NORMAL);
	c->api->frame_free(f);
	return CHATD_CONSUMED;
}

CHATD_PLUGIN_DEFINE_VERSION();

int chatd_plugin_init(chatd_plugin *self, const struct chatd_api *api, const struct chatd_option *opts, int nopts,
		      void **userdata)
{
	(void)opts;
	if (nopts || !CHATD_API_HAS(api, service_get))
		return -1;
	struct consumer *c = calloc(1, sizeof *c);
	if (!c)
		return -1;
	c->api = api;
	c->self = self;
	/* not there yet: the provider comes later in the config */
	if (api->service_get(self, "sdkapi.counter", 1, NULL) ||
	    api->hook_register(self, CHATD_EV_READY, on_ready, c, CHATD_PRIO_DEFAULT) ||
	    api->claim_type(self, "svc", on_svc, c)) {
		free(c);
		return -1;
	}
	*userdata = c;
	return 0;
}

void chatd_plugin_cleanup(void *userdata)
{
	setenv("SDKCONSUMER_CLEANUP_RAN", "1", 1); /* check_sdk: after a later plugin's failed init */
	free(userdata);
}
