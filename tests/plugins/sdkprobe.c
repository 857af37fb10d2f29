/*
 * Test plugin for the SDK additions (tests/check_sdk.c):
 * - CONNECT: remembers what the request shows (path, method, address,
 *   ?token=, header X-Token, cookie sid, requested_name, client_name) and
 *   sends it at JOIN as {"type":"seen",...}; ?deny=1 refuses with 401 and
 *   the X-Reason header as reason; header X-Set-Name: NAME sets the name;
 *   ?refuse=1 refuses the asked-for name.
 * - NICK: a name containing "bad" is refused (code bad_name).
 * - MESSAGE: "set:WHAT" calls message_set_text (WHAT: "empty", "space",
 *   "big" (20,000 bytes), "max" (4096 bytes: the default limit), "max1"
 *   (4097), "utf8", else the text after "set:") and tells the result as
 *   {"type":"set_result","r":N}; "consume" is consumed; "reply" is answered
 *   with message_reply {"type":"pong"} and consumed; "deny" is denied.
 */
#include <chatd/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sdkprobe {
	const struct chatd_api *api;
	chatd_plugin *self;
};

/* What CONNECT saw, kept in the client's slot until JOIN. */
struct seen {
	char path[80], method[8], address[64], token[64], xtoken[64], sid[64], requested[64], name[140];
	int has_request;
};

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "(null)");
}

static int on_connect(int id, void *event, void *ud)
{
	struct chatd_connect_event *ev = event;
	struct sdkprobe *p = ud;
	const struct chatd_api *api = p->api;
	(void)id;
	struct seen *s = calloc(1, sizeof *s);
	if (!s)
		return CHATD_OK;
	*api->client_slot(p->self, ev->client) = s;
	s->has_request = ev->request != NULL;
	copy(s->path, sizeof s->path, api->request_path(ev->request));
	copy(s->method, sizeof s->method, api->request_method(ev->request));
	copy(s->address, sizeof s->address, api->request_address(ev->request));
	copy(s->token, sizeof s->token, api->request_query(ev->request, "token"));
	copy(s->xtoken, sizeof s->xtoken, api->request_header(ev->request, "X-Token"));
	copy(s->sid, sizeof s->sid, api->request_cookie(ev->request, "sid"));
	copy(s->requested, sizeof s->requested, ev->requested_name);
	copy(s->name, sizeof s->name, api->client_name(ev->client));
	const char *deny = api->request_query(ev->request, "deny");
	if (deny && !strcmp(deny, "1")) {
		ev->http_status = 401;
		ev->reason = api->request_header(ev->request, "x-reason"); /* borrowed from the request */
		return CHATD_DENY;
	}
	const char *set = api->request_header(ev->request, "x-set-name");
	if (set && api->connect_set_name(ev, set)) {
		ev->http_status = 400;
		ev->reason = "bad x-set-name";
		return CHATD_DENY;
	}
	const char *refuse = api->request_query(ev->request, "refuse");
	if (refuse && !strcmp(refuse, "1"))
		api->connect_refuse_name(ev, "reserved", "that name is reserved");
	return CHATD_OK;
}

static int on_join(int id, void *event, void *ud)
{
	struct chatd_room_event *ev = event;
	struct sdkprobe *p = ud;
	const struct chatd_api *api = p->api;
	(void)id;
	struct seen *s = *api->client_slot(p->self, ev->client);
	if (!s)
		return CHATD_OK;
	chatd_frame *f = api->frame_new("seen");
	api->frame_set_bool(f, "has_request", s->has_request);
	api->frame_set_str(f, "path", s->path);
	api->frame_set_str(f, "method", s->method);
	api->frame_set_str(f, "address", s->address);
	api->frame_set_str(f, "token", s->token);
	api->frame_set_str(f, "xtoken", s->xtoken);
	api->frame_set_str(f, "sid", s->sid);
	api->frame_set_str(f, "requested", s->requested);
	api->frame_set_str(f, "name_at_connect", s->name);
	api->send(ev->client, f, CHATD_SEND_NORMAL);
	api->frame_free(f);
	return CHATD_OK;
}

static int on_disconnect(int id, void *event, void *ud)
{
	struct chatd_plain_event *ev = event;
	struct sdkprobe *p = ud;
	(void)id;
	void **slot = p->api->client_slot(p->self, ev->client);
	if (*slot)
		p->api->counter_add(p->self, "freed_at_disconnect", 1);
	free(*slot);
	*slot = NULL;
	return CHATD_OK;
}

static int on_nick(int id, void *event, void *ud)
{
	struct chatd_nick_event *ev = event;
	(void)id, (void)ud;
	if (strstr(ev->new_name, "bad")) {
		ev->error_code = "bad_name";
		ev->error_message = "no bad names";
		return CHATD_DENY;
	}
	return CHATD_OK;
}

static int on_message(int id, void *event, void *ud)
{
	struct chatd_message_event *ev = event;
	struct sdkprobe *p = ud;
	const struct chatd_api *api = p->api;
	(void)id;
	if (!strncmp(ev->text, "set:", 4)) {
		const char *what = ev->text + 4;
		static char big[20001];
		int r;
		if (!strcmp(what, "empty"))
			r = api->message_set_text(ev, "");
		else if (!strcmp(what, "space"))
			r = api->message_set_text(ev, " \t\n ");
		else if (!strcmp(what, "big") || !strcmp(what, "max") || !strcmp(what, "max1")) {
			size_t n = what[1] == 'i' ? sizeof big - 1 : what[3] ? 4097 : 4096;
			memset(big, 'x', n);
			big[n] = 0;
			r = api->message_set_text(ev, big);
		} else if (!strcmp(what, "utf8"))
			r = api->message_set_text(ev, "bad \xff\xfe utf-8");
		else
			r = api->message_set_text(ev, what);
		chatd_frame *f = api->frame_new("set_result");
		api->frame_set_int(f, "r", r);
		api->send(ev->client, f, CHATD_SEND_NORMAL);
		api->frame_free(f);
		return CHATD_OK;
	}
	if (!strcmp(ev->text, "consume"))
		return CHATD_CONSUMED;
	if (!strcmp(ev->text, "reply")) {
		chatd_frame *f = api->frame_new("pong");
		api->frame_set_str(f, "seen_client_id", ev->client_id ? ev->client_id : "(none)");
		api->message_reply(ev, f);
		api->frame_free(f);
		return CHATD_CONSUMED;
	}
	if (!strcmp(ev->text, "deny")) {
		ev->error_code = "probe_denied";
		ev->error_message = "denied by sdkprobe";
		return CHATD_DENY;
	}
	return CHATD_OK;
}

CHATD_PLUGIN_DEFINE_VERSION();

int chatd_plugin_init(chatd_plugin *self, const struct chatd_api *api, const struct chatd_option *opts, int nopts,
		      void **userdata)
{
	(void)opts;
	if (nopts)
		return -1;
	if (!CHATD_API_HAS(api, connect_refuse_name))
		return -1;
	struct sdkprobe *p = calloc(1, sizeof *p);
	if (!p)
		return -1;
	p->api = api;
	p->self = self;
	if (api->hook_register(self, CHATD_EV_CONNECT, on_connect, p, CHATD_PRIO_DEFAULT) ||
	    api->hook_register(self, CHATD_EV_JOIN, on_join, p, CHATD_PRIO_DEFAULT) ||
	    api->hook_register(self, CHATD_EV_DISCONNECT, on_disconnect, p, CHATD_PRIO_DEFAULT) ||
	    api->hook_register(self, CHATD_EV_NICK, on_nick, p, CHATD_PRIO_DEFAULT) ||
	    api->hook_register(self, CHATD_EV_MESSAGE, on_message, p, CHATD_PRIO_DEFAULT)) {
		free(p);
		return -1;
	}
	*userdata = p;
	return 0;
}

void chatd_plugin_cleanup(void *userdata)
{
	free(userdata);
}
