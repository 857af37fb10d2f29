/*
 * privmsg: private messages. A room message "/msg NAME text" (or "/w NAME
 * text"; NAME may be double-quoted when it has spaces: /msg "Ann Lee" hi),
 * or the frame {"type":"private","to":"NAME","text":"hi","client_id":"c1"},
 * goes to the connected person NAME, wherever they are, as
 *   {"type":"private","id":N,"from":"Alice","to":"Bob","text":"hi","ts":...}
 * to every connection of the receiver and of the sender (the sender's own
 * connection gets it with its client_id: its echo). Nothing reaches the
 * room and no room id is used. The core does the delivery (api->private_send),
 * so CHATD_EV_PRIVATE filters (a word filter) see, change or deny it, and the
 * history plugin stores it.
 *
 *   [plugin privmsg]      (no options)
 *
 * Errors: no_such_user (nobody by that name is connected), bad_request
 * (no name, no text, a broken quote), or a PRIVATE filter's. Counters:
 * "sent", "no_such_user".
 */
#include <chatd/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* After a rate limiter at CHATD_PRIO_EARLY, before everything else. */
#define PRIVMSG_PRIO (CHATD_PRIO_EARLY + 10)
/* The longest nickname the core allows: 32 characters of up to 4 bytes. */
#define NAME_MAX_BYTES 128
/* How much of an impossible (over-long) name an error message repeats. */
#define NAME_SHOWN_BYTES 64

#define USAGE "usage: /msg NAME TEXT (quote a name with spaces: /msg \"Ann Lee\" hi)"

struct privmsg_plugin {
	chatd_plugin *self;
	const struct chatd_api *api;
	char error[256];  /* error_message of the last denial: it must outlive the hook */
};

/* A parsed "/msg NAME TEXT": pointers into the message text. */
struct pm_command {
	const char *name;
	size_t name_len;
	const char *text;
	size_t text_len;
	const char *problem; /* NULL when well-formed, else why not */
};

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static const char *skip_space(const char *s)
{
	while (is_space(*s))
		s++;
	return s;
}

/* Length of s without trailing white space. */
static size_t trimmed_len(const char *s, size_t len)
{
	while (len && is_space(s[len - 1]))
		len--;
	return len;
}

/* Read NAME at s (after white space): a token, or "a quoted name" (trimmed).
 * Returns the position after it, or NULL with cmd->problem set. */
static const char *parse_name(const char *s, struct pm_command *cmd)
{
	s = skip_space(s);
	if (*s != '"') {
		cmd->name = s;
		while (*s && !is_space(*s))
			s++;
		cmd->name_len = (size_t)(s - cmd->name);
		return s;
	}
	const char *close = strchr(s + 1, '"');
	if (!close) {
		cmd->problem = "the quoted name has no closing '\"'; " USAGE;
		return NULL;
	}
	if (close[1] && !is_space(close[1])) {
		cmd->problem = "put a space after the quoted name; " USAGE;
		return NULL;
	}
	cmd->name = skip_space(s + 1);
	cmd->name_len = trimmed_len(cmd->name, (size_t)(close - cmd->name));
	return close + 1;
}

/* Split rest (what follows the command word) into NAME and TEXT. */
static void parse_command(const char *rest, struct pm_command *cmd)
{
	memset(cmd, 0, sizeof *cmd);
	const char *s = parse_name(rest, cmd);
	if (!s)
		return;
	if (!cmd->name_len) {
		cmd->problem = "whom to? " USAGE;
		return;
	}
	cmd->text = skip_space(s);
	cmd->text_len = trimmed_len(cmd->text, strlen(cmd->text));
	if (!cmd->text_len)
		cmd->problem = "the message is empty; " USAGE;
}

/* The longest prefix of s (len bytes of valid UTF-8) within max bytes that
 * ends on a character boundary. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	while (max && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

static int deny(struct chatd_message_event *ev, const char *code, const char *message)
{
	ev->error_code = code;
	ev->error_message = message;
	return CHATD_DENY;
}

static int deny_no_such_user(struct privmsg_plugin *pp, struct chatd_message_event *ev, const char *name,
			     size_t len)
{
	size_t shown = utf8_cut(name, len, NAME_SHOWN_BYTES);
	snprintf(pp->error, sizeof pp->error, "no user named %.*s%s is connected", (int)shown, name,
		 shown < len ? "..." : "");
	pp->api->counter_add(pp->self, "no_such_user", 1);
	return deny(ev, "no_such_user", pp->error);
}

/* Hand a private message to the core (api->private_send). Returns the
 * result; on CHATD_DENY *code and *message say why (no_such_user counted). */
static int send_private(struct privmsg_plugin *pp, chatd_client *from, const char *to, const char *text,
			const char *client_id, struct chatd_message_event *answering, const char **code,
			const char **message, int *retry_after_ms)
{
	struct chatd_private_request req = { .size = sizeof req, .from = from, .to = to, .text = text,
					     .client_id = client_id, .answering = answering };
	int res = pp->api->private_send(&req);
	if (res == CHATD_OK)
		pp->api->counter_add(pp->self, "sent", 1);
	if (res != CHATD_DENY)
		return res;
	if (req.error_code && !strcmp(req.error_code, "no_such_user"))
		pp->api->counter_add(pp->self, "no_such_user", 1);
	*code = req.error_code;
	*message = req.error_message;
	*retry_after_ms = req.retry_after_ms;
	return CHATD_DENY;
}

/* CHATD_EV_COMMAND "/msg NAME TEXT" (or "/w"): take it out of the room and
 * send it. */
static int on_command(int event_id, void *event, void *userdata)
{
	struct chatd_command_event *cev = event;
	struct chatd_message_event *ev = cev->message;
	struct privmsg_plugin *pp = userdata;
	struct pm_command cmd;
	char name[NAME_MAX_BYTES + 1];
	(void)event_id;
	parse_command(cev->args, &cmd);
	if (cmd.problem)
		return deny(ev, "bad_request", cmd.problem);
	if (cmd.name_len > NAME_MAX_BYTES) /* longer than any nickname can be */
		return deny_no_such_user(pp, ev, cmd.name, cmd.name_len);
	memcpy(name, cmd.name, cmd.name_len);
	name[cmd.name_len] = 0;
	char *text = strndup(cmd.text, cmd.text_len);
	if (!text)
		return deny(ev, "internal", "out of memory");
	const char *code = NULL, *message = NULL;
	int res = send_private(pp, ev->client, name, text, ev->client_id, ev, &code, &message, &ev->retry_after_ms);
	free(text);
	if (res == CHATD_DENY) {
		snprintf(pp->error, sizeof pp->error, "%s", message ? message : "private message refused");
		return deny(ev, code ? code : "denied", pp->error);
	}
	return CHATD_CONSUMED;
}

/* CHATD_EV_FRAME {"type":"private","to":NAME,"text":TEXT,"client_id":ID}.
 * A refusal is answered here, as an error frame with the client_id. */
static int on_private_frame(int event_id, void *event, void *userdata)
{
	struct chatd_frame_event *ev = event;
	struct privmsg_plugin *pp = userdata;
	const struct chatd_api *api = pp->api;
	const char *to = NULL, *text = NULL, *client_id = NULL, *code = NULL, *message = NULL;
	int retry = 0, res;
	(void)event_id;
	if (api->frame_get_str(ev->json, "client_id", &client_id) < 0) {
		code = "bad_request", message = "'client_id' must be a string";
		res = CHATD_DENY;
	} else if (api->frame_get_str(ev->json, "to", &to) != 1 || !to[0]) {
		code = "bad_request", message = "'private' needs a 'to' string: the receiver's name";
		res = CHATD_DENY;
	} else if (api->frame_get_str(ev->json, "text", &text) != 1) {
		code = "bad_request", message = "'private' needs a 'text' string";
		res = CHATD_DENY;
	} else {
		res = send_private(pp, ev->client, to, text, client_id, NULL, &code, &message, &retry);
	}
	if (res != CHATD_DENY)
		return CHATD_CONSUMED;
	chatd_frame *f = api->frame_new("error");
	if (!f) {
		ev->error_code = "internal";
		ev->error_message = "out of memory";
		return CHATD_DENY;
	}
	api->frame_set_str(f, "code", code ? code : "denied");
	api->frame_set_str(f, "message", message ? message : "private message refused");
	if (retry > 0)
		api->frame_set_int(f, "retry_after_ms", retry);
	if (client_id)
		api->frame_set_str(f, "client_id", client_id);
	api->send(ev->client, f, CHATD_SEND_NORMAL);
	api->frame_free(f);
	return CHATD_CONSUMED;
}

/* Plugin entry: the ABI this plugin was built for, -1 when the core lacks it. */
CHATD_PLUGIN_DEFINE_VERSION();

/* Plugin entry: refuse every option (there are none), register /msg and /w,
 * claim "private".
 * Non-zero (after api->option_error) refuses to start. */
CHATD_EXPORT int chatd_plugin_init(chatd_plugin *self, const struct chatd_api *api,
				   const struct chatd_option *opts, int nopts, void **userdata)
{
	struct privmsg_plugin *pp = calloc(1, sizeof *pp);
	if (!pp)
		return -1;
	pp->self = self;
	pp->api = api;
	if (nopts > 0) {
		api->option_error(self, &opts[0], "unknown option (privmsg has no options)");
		goto fail;
	}
	if (!CHATD_API_HAS(api, command_register) || !CHATD_API_HAS(api, private_send)) {
		api->option_error(self, NULL, "this chatd is older than the plugin (no command_register or private_send)");
		goto fail;
	}
	if (api->command_register(self, "msg", "/msg NAME TEXT", "a private message to NAME (quote a name with spaces)",
				  on_command, pp, PRIVMSG_PRIO) ||
	    api->command_register(self, "w", "/w NAME TEXT", "the same as /msg", on_command, pp, PRIVMSG_PRIO))
		goto fail;
	if (api->claim_type(self, "private", on_private_frame, pp)) {
		api->option_error(self, NULL, "frame type 'private' is already claimed by another plugin");
		goto fail;
	}
	*userdata = pp;
	return 0;
fail:
	free(pp);
	return -1;
}

/* Plugin entry: free the plugin state. */
CHATD_EXPORT void chatd_plugin_cleanup(void *userdata)
{
	free(userdata);
}
