/*
 * roll: a slash command, as a third party writes one. "/roll 2d6+1" posts
 * "🎲 Alice rolls 2d6+1: 4 + 2 + 1 = 7" to the room as Alice's message (it
 * gets an id, history keeps it); "/roll" alone rolls 1d6. A bad argument is
 * refused with the usage (an error frame carrying the message's client_id).
 *
 * Build it against the installed SDK (docs/plugins.md):
 *   cc -std=c11 -shared -fPIC $(pkg-config --cflags chatd-plugin) roll.c -o roll.so
 *
 *   [plugin roll]
 *   path = /path/to/roll.so
 *   max_dice = 20       (optional, 1-100)
 *   max_sides = 1000    (optional, 2-1000000)
 */
#include <chatd/plugin.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define USAGE "usage: /roll [NdM][+K], for example /roll 2d6+1"

struct roll {
	const struct chatd_api *api;
	chatd_plugin *self;
	long max_dice, max_sides;
};

/* A uniform number in [1, sides] from the kernel's generator. */
static long roll_one(long sides)
{
	unsigned long limit = (unsigned long)-1 - (unsigned long)-1 % (unsigned long)sides, v;
	do {
		if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
			v = (unsigned long)rand(); /* cannot happen on Linux >= 3.17; still a number */
	} while (v >= limit);
	return (long)(v % (unsigned long)sides) + 1;
}

/* Parse "NdM[+K]" / "dM" / "" into n, sides, plus. 0, or -1 when malformed. */
static int parse(const char *s, long *n, long *sides, long *plus)
{
	char *end;
	*n = 1, *sides = 6, *plus = 0;
	if (!*s)
		return 0;
	if (*s != 'd' && *s != 'D') {
		errno = 0;
		*n = strtol(s, &end, 10);
		if (errno || end == s)
			return -1;
		s = end;
	}
	if (*s != 'd' && *s != 'D')
		return -1;
	errno = 0;
	*sides = strtol(s + 1, &end, 10);
	if (errno || end == s + 1)
		return -1;
	s = end;
	if (*s == '+' || *s == '-') {
		errno = 0;
		*plus = strtol(s, &end, 10);
		if (errno || end == s + 1 || *plus > 1000000 || *plus < -1000000)
			return -1;
		s = end;
	}
	return *s ? -1 : 0;
}

static int deny(struct chatd_message_event *ev, const char *message)
{
	ev->error_code = "bad_request";
	ev->error_message = message; /* a string literal: outlives the hook */
	return CHATD_DENY;
}

/* CHATD_EV_COMMAND for /roll. */
static int on_roll(int event_id, void *event, void *userdata)
{
	struct chatd_command_event *cev = event;
	struct roll *r = userdata;
	long n, sides, plus;
	(void)event_id;
	if (parse(cev->args, &n, &sides, &plus))
		return deny(cev->message, USAGE);
	if (n < 1 || n > r->max_dice)
		return deny(cev->message, "too many or too few dice; " USAGE);
	if (sides < 2 || sides > r->max_sides)
		return deny(cev->message, "a die has 2 sides or more, and not that many; " USAGE);
	/* "🎲 NAME rolls 20d1000000+1000000: a + b + ... = total" fits easily */
	char text[2048];
	const char *name = r->api->client_name(cev->message->client);
	size_t len = (size_t)snprintf(text, sizeof text, "\xf0\x9f\x8e\xb2 %s rolls %s: ", name,
				      *cev->args ? cev->args : "1d6");
	long total = 0;
	for (long i = 0; i < n; i++) {
		long v = roll_one(sides);
		total += v;
		len += (size_t)snprintf(text + len, sizeof text - len, "%s%ld", i ? " + " : "", v);
	}
	if (plus)
		len += (size_t)snprintf(text + len, sizeof text - len, " %c %ld", plus > 0 ? '+' : '-', labs(plus));
	if (n > 1 || plus)
		snprintf(text + len, sizeof text - len, " = %ld", total + plus);
	int rc = r->api->message_set_text(cev->message, text);
	if (rc != CHATD_TEXT_OK)
		return deny(cev->message, "the result does not fit in a message");
	r->api->counter_add(r->self, "rolls", 1);
	return CHATD_OK; /* the message goes on to the room with the result as its text */
}

/* A number option within [min, max] into *out. 0, or -1 after option_error. */
static int number_option(const struct chatd_api *api, chatd_plugin *self, const struct chatd_option *o, long min,
			 long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(o->value, &end, 10);
	if (errno || end == o->value || *end || v < min || v > max) {
		api->option_error(self, o, "must be a whole number from %ld to %ld", min, max);
		return -1;
	}
	*out = v;
	return 0;
}

CHATD_PLUGIN_DEFINE_VERSION();

int chatd_plugin_init(chatd_plugin *self, const struct chatd_api *api, const struct chatd_option *opts, int nopts,
		      void **userdata)
{
	if (!CHATD_API_HAS(api, command_register)) {
		api->option_error(self, NULL, "this chatd is too old for roll (it has no slash commands)");
		return -1;
	}
	struct roll *r = calloc(1, sizeof *r);
	if (!r)
		return -1;
	r->api = api;
	r->self = self;
	r->max_dice = 20;
	r->max_sides = 1000;
	for (int i = 0; i < nopts; i++) {
		int bad;
		if (!strcmp(opts[i].key, "max_dice"))
			bad = number_option(api, self, &opts[i], 1, 100, &r->max_dice);
		else if (!strcmp(opts[i].key, "max_sides"))
			bad = number_option(api, self, &opts[i], 2, 1000000, &r->max_sides);
		else {
			api->option_error(self, &opts[i], "unknown option (roll knows max_dice and max_sides)");
			bad = 1;
		}
		if (bad)
			goto fail;
	}
	if (api->command_register(self, "roll", "/roll [NdM][+K]", "roll dice for the room to see (/roll 2d6+1)",
				  on_roll, r, CHATD_PRIO_DEFAULT)) {
		api->option_error(self, NULL, "the command /roll is taken by another plugin");
		goto fail;
	}
	*userdata = r;
	return 0;
fail:
	free(r); /* cleanup is not called after a failed init */
	return -1;
}

void chatd_plugin_cleanup(void *userdata)
{
	free(userdata);
}
