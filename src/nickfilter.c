#include "nickfilter.h"
#include "hooks.h"

#include <stdio.h>
#include <string.h>

void nick_refusal_set(struct nick_refusal *why, const char *code, const char *message)
{
	snprintf(why->code, sizeof why->code, "%s", code && *code ? code : "name_refused");
	snprintf(why->message, sizeof why->message, "%s", message && *message ? message : "that name is not allowed");
}

int nick_filter(struct chatd_server *srv, struct chatd_client *c, const char *old_name, const char *wanted,
		struct nick_refusal *why)
{
	if (!hooks_any(&srv->hooks, CHATD_EV_NICK))
		return 0;
	struct chatd_nick_event ev = { .size = sizeof ev, .client = c, .old_name = old_name, .new_name = wanted };
	if (hooks_dispatch(&srv->hooks, CHATD_EV_NICK, &ev) == CHATD_OK)
		return 0;
	nick_refusal_set(why, ev.error_code, ev.error_message);
	return -1;
}
