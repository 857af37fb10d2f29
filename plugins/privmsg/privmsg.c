/*
 * privmsg: private messages. A room message "/msg NAME text" (or "/w NAME
 * text"; NAME may be double-quoted when it has spaces: /msg "Ann Lee" hi)
 * goes to the connected user NAME, wherever they are, as
 *   {"type":"private","id":N,"from":"Alice","to":"Bob","text":"hi","ts":...}
 * and the same frame comes back to the sender as its echo (once only when
 * both are the same client). Nothing reaches the room and no room id is used.
 *
 *   [plugin privmsg]      (no options)
 *
 * Errors: no_such_user (nobody by that name is connected), bad_request
 * (no name, no text, a broken quote). Counters: "sent", "no_such_user".
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
	int64_t last_id;  /* the id of the last private message delivered */
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

/* The private frame from `from` to `to` (new), or NULL when out of memory. */
static chatd_frame *private_frame(struct privmsg_plugin *pp, int64_t id, chatd_client *from, chatd_client *to,
				  const char *text)
{
	const struct chatd_api *api = pp->api;
	chatd_frame *f = api->frame_new("private");
	if (!f)
		return NULL;
	api->frame_set_int(f, "id", id);
	api->frame_set_str(f, "from", api->client_name(from));
	api->frame_set_str(f, "to", api->client_name(to));
	api->frame_set_str(f, "text", text);
	api->frame_set_int(f, "ts", api->now_ms());
	return f;
}

/* Deliver text to `to` and echo it to `from` (once when they are the same).
 * Returns CHATD_CONSUMED, or a denial when `to` is going away. */
static int deliver(struct privmsg_plugin *pp, struct chatd_message_event *ev, chatd_client *to,
		   const struct pm_command *cmd)
{
	const struct chatd_api *api = pp->api;
	char *text = strndup(cmd->text, cmd->text_len);
	chatd_frame *f = text ? private_frame(pp, pp->last_id + 1, ev->client, to, text) : NULL;
	int res;
	if (!f) {
		res = deny(ev, "internal", "out of memory");
		goto done;
	}
	if (to != ev->client && api->send(to, f, CHATD_SEND_NORMAL) < 0) { /* closing: as good as gone */
		res = deny_no_such_user(pp, ev, cmd->name, cmd->name_len);
		goto done;
	}
	pp->last_id++;
	/* the sender's echo answers its message: it carries the client_id */
	api->message_reply(ev, f);
	api->counter_add(pp->self, "sent", 1);
	res = CHATD_CONSUMED;
done:
	if (f)
		api->frame_free(f);
	free(text);
	return res;
}

/* CHATD_EV_COMMAND "/msg NAME TEXT" (or "/w"): take it out of the room and
 * deliver it. */
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
	chatd_client *to = pp->api->client_find(pp->self, name);
	if (!to)
		return deny_no_such_user(pp, ev, cmd.name, cmd.name_len);
	return deliver(pp, ev, to, &cmd);
}

/* Plugin entry: the ABI this plugin was built for, -1 when the core lacks it. */
CHATD_PLUGIN_DEFINE_VERSION();

/* Plugin entry: refuse every option (there are none) and register /msg and /w.
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
	if (!CHATD_API_HAS(api, command_register)) {
		api->option_error(self, NULL, "this chatd is older than the plugin (no command_register)");
		goto fail;
	}
	if (api->command_register(self, "msg", "/msg NAME TEXT", "a private message to NAME (quote a name with spaces)",
				  on_command, pp, PRIVMSG_PRIO) ||
	    api->command_register(self, "w", "/w NAME TEXT", "the same as /msg", on_command, pp, PRIVMSG_PRIO))
		goto fail;
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
