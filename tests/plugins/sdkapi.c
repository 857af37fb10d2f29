/*
 * Test plugin for the SDK's services (tests/check_sdk.c):
 * - commands: /echo ARGS is consumed and answered with message_reply
 *   {"type":"echo","name":..,"args":..}; "/echo deny" is denied with the
 *   usage; /shout TEXT goes to the room in upper case. A second
 *   registration of "ECHO" must fail (counter dup_refused).
 * - service "sdkapi.counter" version 2: struct counter_v2 below.
 * - frame "build": answers a frame with a nested object, arrays of scalars,
 *   a double, a null and a bool.
 * - frame "read": walks the frame with the value_* readers and answers
 *   {"type":"read","summary":"..."}.
 * - frame "thread": a worker thread writes a byte into a pipe watched on the
 *   loop and posts a function back to the loop: the client gets
 *   {"type":"watched","byte":"x"} and {"type":"posted","value":42}.
 */
#include <chatd/plugin.h>

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The service this plugin offers (a consumer copies this declaration). */
struct counter_v2 {
	int (*next)(void);         /* version 1 */
	int (*add)(int n);         /* version 2 */
};

static int count;
static int counter_next(void) { return ++count; }
static int counter_add(int n) { return count += n; }
static const struct counter_v2 counter_table = { counter_next, counter_add };

struct sdkapi {
	const struct chatd_api *api;
	chatd_plugin *self;
	/* the "thread" frame's run: one at a time */
	chatd_client *client;
	uint64_t client_id;
	int fds[2];
	chatd_watch *watch;
	pthread_t thread;
	int thread_running;
};

static struct sdkapi *the; /* for the post callback's check that the client is still the same */

static int on_echo(int id, void *event, void *ud)
{
	struct chatd_command_event *cev = event;
	struct sdkapi *p = ud;
	(void)id;
	if (!strcmp(cev->args, "deny")) {
		cev->message->error_code = "bad_request";
		cev->message->error_message = "usage: /echo TEXT";
		return CHATD_DENY;
	}
	chatd_frame *f = p->api->frame_new("echo");
	p->api->frame_set_str(f, "name", cev->name);
	p->api->frame_set_str(f, "args", cev->args);
	p->api->message_reply(cev->message, f);
	p->api->frame_free(f);
	return CHATD_CONSUMED;
}

static int on_shout(int id, void *event, void *ud)
{
	struct chatd_command_event *cev = event;
	struct sdkapi *p = ud;
	(void)id;
	char *up = strdup(cev->args);
	if (!up)
		return CHATD_OK;
	for (char *c = up; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	p->api->message_set_text(cev->message, up);
	free(up);
	return CHATD_OK;
}

static int on_build(int id, void *event, void *ud)
{
	struct chatd_frame_event *ev = event;
	const struct chatd_api *api = ((struct sdkapi *)ud)->api;
	(void)id;
	chatd_frame *f = api->frame_new("build");
	chatd_frame *inner = api->frame_object_new();
	api->frame_set_str(inner, "s", "x");
	chatd_frame *deeper = api->frame_object_new();
	api->frame_set_int(deeper, "n", 7);
	api->frame_set_frame(inner, "deeper", deeper);
	api->frame_set_frame(f, "obj", inner);
	api->frame_push_str(f, "strs", "a");
	api->frame_push_str(f, "strs", "b");
	api->frame_push_int(f, "ints", -1);
	api->frame_push_double(f, "mixed", 0.5);
	api->frame_push_bool(f, "mixed", 1);
	api->frame_push_null(f, "mixed");
	api->frame_set_double(f, "pi", 3.25);
	api->frame_set_double(f, "nan", 0.0 / 0.0); /* left out */
	api->frame_set_null(f, "nothing");
	api->frame_set_bool(f, "yes", 1);
	api->frame_push(f, "empty", NULL);
	api->send(ev->client, f, CHATD_SEND_NORMAL);
	api->frame_free(f);
	return CHATD_CONSUMED;
}

/* Describe v into buf (at most n bytes) with the value_* readers. */
static void describe(const struct chatd_api *api, const void *v, char *buf, size_t n)
{
	size_t len = strlen(buf);
	if (len + 40 >= n)
		return;
	char *o = buf + len;
	size_t left = n - len;
	switch (api->value_type(v)) {
	case CHATD_JSON_ABSENT: snprintf(o, left, "absent"); break;
	case CHATD_JSON_NULL: snprintf(o, left, "null"); break;
	case CHATD_JSON_BOOL: snprintf(o, left, "%s", api->value_bool(v) ? "true" : "false"); break;
	case CHATD_JSON_INT: snprintf(o, left, "%lld", (long long)api->value_int(v)); break;
	case CHATD_JSON_DOUBLE: snprintf(o, left, "%.2f", api->value_double(v)); break;
	case CHATD_JSON_STRING: {
		size_t sl;
		const char *s = api->value_str(v, &sl);
		snprintf(o, left, "'%s'/%zu", s, sl);
		break;
	}
	case CHATD_JSON_ARRAY:
		snprintf(o, left, "[");
		for (size_t i = 0; i < api->value_size(v); i++) {
			if (i)
				strncat(buf, ",", n - strlen(buf) - 1);
			describe(api, api->value_at(v, i), buf, n);
		}
		strncat(buf, "]", n - strlen(buf) - 1);
		break;
	case CHATD_JSON_OBJECT:
		snprintf(o, left, "{");
		for (size_t i = 0; i < api->value_size(v); i++) {
			const char *key;
			const void *m = api->value_member(v, i, &key);
			size_t l = strlen(buf);
			snprintf(buf + l, n - l, "%s%s:", i ? "," : "", key);
			describe(api, m, buf, n);
		}
		strncat(buf, "}", n - strlen(buf) - 1);
		break;
	}
}

static int on_read(int id, void *event, void *ud)
{
	struct chatd_frame_event *ev = event;
	const struct chatd_api *api = ((struct sdkapi *)ud)->api;
	char summary[1024] = "";
	int b = -1;
	double d = -1;
	(void)id;
	describe(api, api->value_get(ev->json, "data"), summary, sizeof summary);
	int rb = api->frame_get_bool(ev->json, "flag", &b);
	int rd = api->frame_get_double(ev->json, "num", &d);
	int rx = api->frame_get_bool(ev->json, "num", &b);
	chatd_frame *f = api->frame_new("read");
	api->frame_set_str(f, "summary", summary);
	api->frame_set_int(f, "rb", rb);
	api->frame_set_int(f, "b", b);
	api->frame_set_int(f, "rd", rd);
	api->frame_set_double(f, "d", d);
	api->frame_set_int(f, "wrong_type", rx);
	api->frame_set_int(f, "absent", api->value_type(api->value_get(ev->json, "nope")));
	api->send(ev->client, f, CHATD_SEND_NORMAL);
	api->frame_free(f);
	return CHATD_CONSUMED;
}

/* loop_post's function: on the loop thread. arg points at a static int (a
 * post made during cleanup is dropped: it must own nothing). */
static void posted(void *arg)
{
	const int *v = arg;
	struct sdkapi *p = the;
	if (p->client && p->api->client_id(p->client) == p->client_id) {
		chatd_frame *f = p->api->frame_new("posted");
		p->api->frame_set_int(f, "value", *v);
		p->api->send(p->client, f, CHATD_SEND_NORMAL);
		p->api->frame_free(f);
	}
}

static void *worker(void *arg)
{
	struct sdkapi *p = arg;
	static int answer = 42;
	p->api->loop_post(p->self, posted, &answer);
	if (write(p->fds[1], "x", 1) != 1)
		return NULL;
	return NULL;
}

static void on_readable(chatd_watch *w, int fd, int revents, void *ud)
{
	struct sdkapi *p = ud;
	char c = 0;
	if (!(revents & CHATD_WATCH_READ) || read(fd, &c, 1) != 1)
		return;
	p->api->watch_remove(w); /* inside its own callback */
	p->watch = NULL;
	if (p->client && p->api->client_id(p->client) == p->client_id) {
		char s[2] = { c, 0 };
		chatd_frame *f = p->api->frame_new("watched");
		p->api->frame_set_str(f, "byte", s);
		p->api->send(p->client, f, CHATD_SEND_NORMAL);
		p->api->frame_free(f);
	}
}

static void thread_stop(struct sdkapi *p)
{
	if (p->thread_running)
		pthread_join(p->thread, NULL);
	p->thread_running = 0;
	if (p->watch)
		p->api->watch_remove(p->watch);
	p->watch = NULL;
	if (p->fds[0] >= 0) {
		close(p->fds[0]);
		close(p->fds[1]);
	}
	p->fds[0] = p->fds[1] = -1;
}

static int on_thread(int id, void *event, void *ud)
{
	struct chatd_frame_event *ev = event;
	struct sdkapi *p = ud;
	(void)id;
	thread_stop(p);
	p->client = ev->client;
	p->client_id = p->api->client_id(ev->client);
	if (pipe(p->fds)) {
		p->fds[0] = p->fds[1] = -1;
		return CHATD_OK;
	}
	p->watch = p->api->watch_add(p->self, p->fds[0], CHATD_WATCH_READ, on_readable, p);
	p->thread_running = !pthread_create(&p->thread, NULL, worker, p);
	return CHATD_CONSUMED;
}

static int on_disconnect(int id, void *event, void *ud)
{
	struct chatd_plain_event *ev = event;
	struct sdkapi *p = ud;
	(void)id;
	if (ev->client == p->client)
		p->client = NULL;
	return CHATD_OK;
}

CHATD_PLUGIN_DEFINE_VERSION();

int chatd_plugin_init(chatd_plugin *self, const struct chatd_api *api, const struct chatd_option *opts, int nopts,
		      void **userdata)
{
	(void)opts;
	if (nopts || !CHATD_API_HAS(api, value_bool))
		return -1;
	struct sdkapi *p = calloc(1, sizeof *p);
	if (!p)
		return -1;
	p->api = api;
	p->self = self;
	p->fds[0] = p->fds[1] = -1;
	the = p;
	if (api->command_register(self, "echo", "/echo TEXT", "says TEXT back to you", on_echo, p, CHATD_PRIO_DEFAULT) ||
	    api->command_register(self, "shout", "/shout TEXT", "TEXT IN CAPITALS", on_shout, p, CHATD_PRIO_DEFAULT) ||
	    api->service_register(self, "sdkapi.counter", 2, &counter_table) ||
	    api->claim_type(self, "build", on_build, p) || api->claim_type(self, "read", on_read, p) ||
	    api->claim_type(self, "thread", on_thread, p) ||
	    api->hook_register(self, CHATD_EV_DISCONNECT, on_disconnect, p, CHATD_PRIO_DEFAULT)) {
		free(p);
		return -1;
	}
	if (!api->command_register(self, "ECHO", NULL, NULL, on_echo, p, CHATD_PRIO_DEFAULT) ||
	    !api->command_register(self, "bad name", NULL, NULL, on_echo, p, CHATD_PRIO_DEFAULT) ||
	    !api->service_register(self, "sdkapi.counter", 3, &counter_table) ||
	    api->hook_register(self, CHATD_EV_COMMAND, on_echo, p, CHATD_PRIO_DEFAULT) != -1)
		api->counter_add(self, "misregistered", 1);
	*userdata = p;
	return 0;
}

void chatd_plugin_cleanup(void *userdata)
{
	struct sdkapi *p = userdata;
	thread_stop(p);
	free(p);
}
