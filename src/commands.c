#include "commands.h"
#include "hooks.h"
#include "plugins.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define COMMAND_NAME_MAX 32
#define COMMAND_TEXT_MAX 200

/* One registered command; srv->commands is a list of them. */
struct command {
	char name[COMMAND_NAME_MAX + 1];   /* lower case, no slash */
	char *usage, *help;                /* owned */
	chatd_hook_fn fn;
	void *userdata;
	struct loaded_plugin *owner;
	struct command *next;
};

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* 1 when name is 1-32 of [a-z0-9_-] (any case). */
static int name_valid(const char *name)
{
	size_t n = strlen(name);
	if (!n || n > COMMAND_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-')
			return 0;
	return 1;
}

/* 1 when text is at most COMMAND_TEXT_MAX bytes of valid UTF-8 (NULL is fine). */
static int text_valid(const char *s)
{
	return !s || (strlen(s) <= COMMAND_TEXT_MAX && utf8_valid(s, strlen(s)));
}

static struct command *find(struct chatd_server *srv, const char *name)
{
	for (struct command *c = srv->commands; c; c = c->next)
		if (!strcasecmp(c->name, name))
			return c;
	return NULL;
}

/* The MESSAGE hook of one command (userdata): a text "/NAME" alone or
 * followed by white space goes to the command's handler. */
static int command_hook(int event_id, void *event, void *userdata)
{
	struct chatd_message_event *ev = event;
	struct command *cmd = userdata;
	size_t n = strlen(cmd->name);
	(void)event_id;
	if (ev->text[0] != '/' || strncasecmp(ev->text + 1, cmd->name, n) ||
	    (ev->text[1 + n] && !is_space(ev->text[1 + n])))
		return CHATD_OK;
	const char *args = ev->text + 1 + n;
	while (is_space(*args))
		args++;
	struct chatd_command_event cev = { .size = sizeof cev, .message = ev, .name = cmd->name, .args = args };
	return cmd->fn(CHATD_EV_COMMAND, &cev, cmd->userdata);
}

static void advertised_changed(struct chatd_server *srv)
{
	json_decref(srv->commands_json);
	srv->commands_json = NULL;
}

int commands_register(chatd_plugin *self, const char *name, const char *usage, const char *help, chatd_hook_fn fn,
		      void *userdata, int priority)
{
	struct loaded_plugin *lp = (struct loaded_plugin *)self;
	struct chatd_server *srv = lp->srv;
	if (!name || !fn || !name_valid(name) || !text_valid(usage) || !text_valid(help) || find(srv, name))
		return -1;
	struct command *c = calloc(1, sizeof *c);
	if (!c)
		return -1;
	for (size_t i = 0; name[i]; i++)
		c->name[i] = (char)tolower((unsigned char)name[i]);
	c->usage = strdup(usage ? usage : "");
	c->help = strdup(help ? help : "");
	c->fn = fn;
	c->userdata = userdata;
	c->owner = lp;
	if (!c->usage || !c->help || hooks_add(&srv->hooks, CHATD_EV_MESSAGE, command_hook, c, priority, lp)) {
		free(c->usage);
		free(c->help);
		free(c);
		return -1;
	}
	c->next = srv->commands;
	srv->commands = c;
	advertised_changed(srv);
	return 0;
}

static void command_free(struct command *c)
{
	free(c->usage);
	free(c->help);
	free(c);
}

void commands_forget(struct chatd_server *srv, struct loaded_plugin *lp)
{
	for (struct command **p = &srv->commands; *p;) {
		struct command *c = *p;
		if (c->owner == lp) {
			hooks_remove(&srv->hooks, CHATD_EV_MESSAGE, command_hook, c);
			*p = c->next;
			command_free(c);
			advertised_changed(srv);
		} else {
			p = &c->next;
		}
	}
}

void commands_free(struct chatd_server *srv)
{
	while (srv->commands) {
		struct command *c = srv->commands;
		srv->commands = c->next;
		command_free(c);
	}
	advertised_changed(srv);
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(struct command *const *)a)->name, (*(struct command *const *)b)->name);
}

/* The advertised list, built once per change of the commands. */
static json_t *advertised(struct chatd_server *srv)
{
	if (srv->commands_json)
		return srv->commands_json;
	size_t n = 0;
	for (struct command *c = srv->commands; c; c = c->next)
		n++;
	struct command **v = malloc(n * sizeof *v);
	json_t *a = json_array();
	if (!v || !a)
		goto fail;
	n = 0;
	for (struct command *c = srv->commands; c; c = c->next)
		v[n++] = c;
	qsort(v, n, sizeof *v, by_name);
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "name", v[i]->name, "usage", v[i]->usage,
						       "help", v[i]->help)))
			goto fail;
	free(v);
	return srv->commands_json = a;
fail:
	free(v);
	json_decref(a);
	return NULL;
}

void commands_advertise(struct chatd_server *srv, json_t *o)
{
	if (!srv->commands)
		return;
	json_t *a = advertised(srv);
	if (a)
		json_object_set(o, "commands", a);
}
