/*
 * Test plugin for the SDK's services (tests/check_sdk.c):
 * - commands: /echo ARGS is consumed and answered with message_reply
 *   {"type":"echo","name":..,"args":..}; "/echo deny" is denied with the
 *   usage; /shout TEXT goes to the room in upper case. A second
 *   registration of "ECHO" must fail (counter dup_refused).
 * - service "sdkapi.counter" version 2: struct counter_v2 below.
 * - frame "build": answers a frame with a nested object, arrays of scalars,
 *   a double, a null and a bool.
 * - frame "walk": walks the frame with the value_* readers and answers
 *   {"type":"walk","summary":"..."}.
 * - frame "thread": a worker thread writes a byte into a pipe watched on the
 *   loop and posts a function back to the loop: the client gets
 *   {"type":"watched","byte":"x"} and {"type":"posted","value":42}.
 * - rooms: a per-room slot from ROOM_CREATE to ROOM_DESTROY (counters
 *   room_create, room_destroy, slot_lost); frame "rooms" answers
 *   {"type":"rooms_seen","rooms":{NAME:MEMBERS,...}} (rooms_list, room_members);
 *   frame "notice" {"text":..} posts api->room_notice to the frame's room and
 *   answers {"type":"notice_result","id":N}.
 * - HTTP under /plugins/sdkapi/: GET /info (JSON: method, path, query "q",
 *   header X-Test, cookie c, rooms), POST /echo (the body back with its
 *   Content-Type and an X-Echo header), GET /notice?room=R&text=T (a notice
 *   from a web hook), GET /silent (no answer: the core's 500).
 * - option motd (frame "motd" answers it); SIGHUP may change it, "bad" is
 *   refused.
 * - option fail_init (any value): init registers one of everything (hook,
 *   claimed type, command, service, HTTP route, timers, a watcher, a post),
 *   frees what it allocated and fails. The post sets SDKAPI_FAILED_POST_RAN
 *   in the environment when it runs; cleanup sets SDKAPI_CLEANUP_RAN.
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
	char motd[64];
};

/* What the plugin keeps per room (api->room_slot). */
struct room_state {
	int created;
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
	api->frame_push_str(f, "strs", NULL);
	api->frame_push_str(f, "strs", "c\xff\xc3");     /* not UTF-8: U+FFFD for each bad byte */
	api->frame_set_str(f, "latin1", "caf\xe9 ok");   /* a Latin-1 text */
	api->frame_set_str(f, "utf8", "caf\xc3\xa9");     /* valid: as it is */
	api->frame_set_str(f, "overlong", "\xc0\xaf\xed\xa0\x80!"); /* overlong '/', a surrogate */
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
	chatd_frame *f = api->frame_new("walk");
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

static int on_room_create(int id, void *event, void *ud)
{
	struct chatd_room_create_event *ev = event;
	struct sdkapi *p = ud;
	(void)id;
	struct room_state *rs = calloc(1, sizeof *rs);
	if (rs)
		rs->created = 1;
	*p->api->room_slot(p->self, ev->room) = rs;
	p->api->counter_add(p->self, "room_create", 1);
	return CHATD_OK;
}

static int on_room_destroy(int id, void *event, void *ud)
{
	struct chatd_room_destroy_event *ev = event;
	struct sdkapi *p = ud;
	(void)id;
	void **slot = p->api->room_slot(p->self, ev->room);
	struct room_state *rs = *slot;
	if (!rs || !rs->created)
		p->api->counter_add(p->self, "slot_lost", 1);
	free(rs);
	*slot = NULL;
	p->api->counter_add(p->self, ev->shutdown ? "room_destroy_at_shutdown" : "room_destroy", 1);
	return CHATD_OK;
}

static int on_rooms(int id, void *event, void *ud)
{
	struct chatd_frame_event *ev = event;
	const struct chatd_api *api = ((struct sdkapi *)ud)->api;
	chatd_room *rooms[64];
	chatd_client *members[64];
	(void)id;
	size_t n = api->rooms_list(((struct sdkapi *)ud)->self, rooms, 64);
	chatd_frame *f = api->frame_new("rooms_seen");
	chatd_frame *o = api->frame_object_new();
	for (size_t i = 0; i < n && i < 64; i++)
		api->frame_set_int(o, api->room_name(rooms[i]), (int64_t)api->room_members(rooms[i], members, 64));
	api->frame_set_frame(f, "rooms", o);
	api->frame_set_int(f, "count", (int64_t)n);
	api->send(ev->client, f, CHATD_SEND_NORMAL);
	api->frame_free(f);
	return CHATD_CONSUMED;
}

static int on_notice(int id, void *event, void *ud)
{
	struct chatd_frame_event *ev = event;
	struct sdkapi *p = ud;
	const char *text = NULL;
	(void)id;
	p->api->frame_get_str(ev->json, "text", &text);
	int64_t r = p->api->room_notice(p->self, ev->room, text);
	chatd_frame *f = p->api->frame_new("notice_result");
	p->api->frame_set_int(f, "id", r);
	p->api->send(ev->client, f, CHATD_SEND_NORMAL);
	p->api->frame_free(f);
	return CHATD_CONSUMED;
}

static int on_motd(int id, void *event, void *ud)
{
	struct chatd_frame_event *ev = event;
	struct sdkapi *p = ud;
	(void)id;
	chatd_frame *f = p->api->frame_new("motd");
	p->api->frame_set_str(f, "motd", p->motd);
	p->api->send(ev->client, f, CHATD_SEND_NORMAL);
	p->api->frame_free(f);
	return CHATD_CONSUMED;
}

/* Read options into motd (NULL: check only). 0, or -1 after option_error. */
static int read_options(struct sdkapi *p, const struct chatd_option *opts, int nopts, char *motd)
{
	char value[64] = "";
	for (int i = 0; i < nopts; i++) {
		if (strcmp(opts[i].key, "motd")) {
			p->api->option_error(p->self, &opts[i], "unknown option");
			return -1;
		}
		if (!strcmp(opts[i].value, "bad") || strlen(opts[i].value) >= sizeof value) {
			p->api->option_error(p->self, &opts[i], "not a good motd");
			return -1;
		}
		strcpy(value, opts[i].value);
	}
	if (motd)
		strcpy(motd, value);
	return 0;
}

static int on_reload(int id, void *event, void *ud)
{
	struct chatd_reload_event *ev = event;
	struct sdkapi *p = ud;
	(void)id;
	if (read_options(p, ev->opts, ev->nopts, NULL))
		return CHATD_DENY;
	read_options(p, ev->opts, ev->nopts, p->motd);
	return CHATD_OK;
}

static void json_escape_into(char *out, size_t n, const char *s)
{
	size_t o = 0;
	for (; s && *s && o + 7 < n; s++) {
		if (*s == '"' || *s == '\\')
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o] = 0;
}

static int on_http(int id, void *event, void *ud)
{
	struct chatd_http_event *ev = event;
	struct sdkapi *p = ud;
	const struct chatd_api *api = p->api;
	chatd_request *r = ev->request;
	(void)id;
	if (!strcmp(ev->path, "/info")) {
		char q[128], h[128], c[128], body[1024];
		json_escape_into(q, sizeof q, api->request_query(r, "q"));
		json_escape_into(h, sizeof h, api->request_header(r, "X-Test"));
		json_escape_into(c, sizeof c, api->request_cookie(r, "c"));
		chatd_room *rooms[1];
		int n = snprintf(body, sizeof body,
				 "{\"method\":\"%s\",\"path\":\"%s\",\"full\":\"%s\",\"q\":\"%s\",\"hdr\":\"%s\","
				 "\"cookie\":\"%s\",\"address\":\"%s\",\"rooms\":%zu}",
				 api->request_method(r), ev->path, api->request_path(r), q, h, c, api->request_address(r),
				 api->rooms_list(p->self, rooms, 0));
		api->http_respond(r, 200, "application/json", body, (size_t)n);
	} else if (!strcmp(ev->path, "/echo")) {
		size_t len;
		const char *body = api->request_body(r, &len);
		api->http_add_header(r, "X-Echo", "yes");
		if (api->http_add_header(r, "Content-Length", "1") == 0)
			api->counter_add(p->self, "header_misallowed", 1);
		api->http_respond(r, 201, api->request_header(r, "content-type"), body, len);
	} else if (!strcmp(ev->path, "/notice")) {
		const char *room = api->request_query(r, "room"), *text = api->request_query(r, "text");
		chatd_room *rm = room ? api->room_find(p->self, room) : NULL;
		if (!rm) {
			api->http_respond(r, 404, NULL, "no such room\n", 13);
			return CHATD_OK;
		}
		char body[64];
		int n = snprintf(body, sizeof body, "%lld\n", (long long)api->room_notice(p->self, rm, text));
		api->http_respond(r, 200, NULL, body, (size_t)n);
	} else if (!strcmp(ev->path, "/silent")) {
		/* no answer: the core answers 500 */
	} else {
		api->http_respond(r, 404, NULL, "no such page\n", 13);
	}
	return CHATD_OK;
}

static void doomed_timer(chatd_timer *t, void *ud)
{
	(void)t, (void)ud;
	abort(); /* the core removes the timers of a failed init before the loop runs */
}

static void doomed_watch(chatd_watch *w, int fd, int revents, void *ud)
{
	(void)w, (void)fd, (void)revents, (void)ud;
	abort();
}

static void doomed_post(void *arg)
{
	(void)arg;
	setenv("SDKAPI_FAILED_POST_RAN", "1", 1);
}

/* fail_init: register one of everything, then fail the way docs/plugins.md
 * asks: free what was allocated (here: close the pipe) and return non-zero;
 * the core removes the registrations and does not call cleanup. */
static int fail_after_registering(chatd_plugin *self, const struct chatd_api *api)
{
	int fds[2];
	if (pipe(fds))
		return -1;
	api->hook_register(self, CHATD_EV_MESSAGE, on_echo, NULL, CHATD_PRIO_DEFAULT);
	api->claim_type(self, "doomed", on_build, NULL);
	api->command_register(self, "doomed", "/doomed", "never offered", on_echo, NULL, CHATD_PRIO_DEFAULT);
	api->service_register(self, "sdkapi.doomed", 1, &counter_table);
	api->http_route(self, on_http, NULL);
	api->timer_add(self, 1, 0, doomed_timer, NULL);
	api->timer_add(self, 1, 1, doomed_timer, NULL);
	api->watch_add(self, fds[0], CHATD_WATCH_READ, doomed_watch, NULL);
	api->loop_post(self, doomed_post, NULL);
	close(fds[0]);
	close(fds[1]);
	return -1;
}

CHATD_PLUGIN_DEFINE_VERSION();

int chatd_plugin_init(chatd_plugin *self, const struct chatd_api *api, const struct chatd_option *opts, int nopts,
		      void **userdata)
{
	if (!CHATD_API_HAS(api, http_add_header))
		return -1;
	if (nopts && !strcmp(opts[0].key, "fail_init"))
		return fail_after_registering(self, api);
	struct sdkapi *p = calloc(1, sizeof *p);
	if (!p)
		return -1;
	p->api = api;
	p->self = self;
	if (read_options(p, opts, nopts, p->motd)) {
		free(p);
		return -1;
	}
	p->fds[0] = p->fds[1] = -1;
	the = p;
	if (api->command_register(self, "echo", "/echo TEXT", "says TEXT back to you", on_echo, p, CHATD_PRIO_DEFAULT) ||
	    api->command_register(self, "shout", "/shout TEXT", "TEXT IN CAPITALS", on_shout, p, CHATD_PRIO_DEFAULT) ||
	    api->service_register(self, "sdkapi.counter", 2, &counter_table) ||
	    api->claim_type(self, "build", on_build, p) || api->claim_type(self, "walk", on_read, p) ||
	    api->claim_type(self, "thread", on_thread, p) ||
	    api->hook_register(self, CHATD_EV_DISCONNECT, on_disconnect, p, CHATD_PRIO_DEFAULT) ||
	    api->hook_register(self, CHATD_EV_ROOM_CREATE, on_room_create, p, CHATD_PRIO_DEFAULT) ||
	    api->hook_register(self, CHATD_EV_ROOM_DESTROY, on_room_destroy, p, CHATD_PRIO_DEFAULT) ||
	    api->hook_register(self, CHATD_EV_RELOAD, on_reload, p, CHATD_PRIO_DEFAULT) ||
	    api->claim_type(self, "rooms_seen", on_rooms, p) || api->claim_type(self, "notice", on_notice, p) ||
	    api->claim_type(self, "motd", on_motd, p) || api->http_route(self, on_http, p)) {
		free(p);
		return -1;
	}
	if (!api->command_register(self, "ECHO", NULL, NULL, on_echo, p, CHATD_PRIO_DEFAULT) ||
	    !api->command_register(self, "bad name", NULL, NULL, on_echo, p, CHATD_PRIO_DEFAULT) ||
	    !api->service_register(self, "sdkapi.counter", 3, &counter_table) ||
	    api->hook_register(self, CHATD_EV_COMMAND, on_echo, p, CHATD_PRIO_DEFAULT) != -1 ||
	    api->hook_register(self, CHATD_EV_HTTP, on_http, p, CHATD_PRIO_DEFAULT) != -1 ||
	    api->http_route(self, on_http, p) != -1)
		api->counter_add(self, "misregistered", 1);
	*userdata = p;
	return 0;
}

void chatd_plugin_cleanup(void *userdata)
{
	struct sdkapi *p = userdata;
	setenv("SDKAPI_CLEANUP_RAN", "1", 1);
	thread_stop(p);
	free(p);
}
