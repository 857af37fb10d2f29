#include "message.h"
#include "names.h"

#include <stdio.h>
#include <string.h>

static int refuse(struct inbound_error *err, const char *code, const char *msg)
{
	err->code = code;
	snprintf(err->message, sizeof err->message, "%s", msg);
	return -1;
}

/* Optional string field: 0 absent, 1 present, -1 wrong type. */
static int opt_string(json_t *root, const char *key, const char **out, size_t *len)
{
	json_t *v = json_object_get(root, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	*out = json_string_value(v);
	if (len)
		*len = json_string_length(v);
	return 1;
}

static int only_space(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' && s[i] != '\f' && s[i] != '\v')
			return 0;
	return 1;
}

int message_text_check(const char *text, size_t len, size_t max_text, struct inbound_error *err)
{
	if (len > max_text) {
		snprintf(err->message, sizeof err->message, "text is %zu bytes; the limit is %zu", len, max_text);
		err->code = "too_large";
		return CHATD_TEXT_TOO_LARGE;
	}
	if (memchr(text, 0, len)) {
		refuse(err, "bad_request", "'text' contains a NUL character");
		return CHATD_TEXT_INVALID;
	}
	if (only_space(text, len)) {
		refuse(err, "bad_request", "'text' is empty");
		return CHATD_TEXT_EMPTY;
	}
	return CHATD_TEXT_OK;
}

static int decode_message(struct inbound *in, size_t max_text, struct inbound_error *err)
{
	/* client_id first: an error about the text can then name the message */
	size_t idlen = 0;
	int r = opt_string(in->root, "client_id", &in->client_id, &idlen);
	if (r < 0)
		return refuse(err, "bad_request", "'client_id' must be a string");
	if (r > 0 && (idlen > CLIENT_ID_MAX || strlen(in->client_id) != idlen)) {
		in->client_id = NULL;
		return refuse(err, "bad_request", "'client_id' is longer than 64 bytes");
	}
	if (in->client_id)
		snprintf(err->client_id, sizeof err->client_id, "%s", in->client_id);
	r = opt_string(in->root, "text", &in->text, &in->text_len);
	if (r < 0)
		return refuse(err, "bad_request", "'text' must be a string");
	if (!r)
		return refuse(err, "bad_request", "a message needs a 'text' string");
	if (message_text_check(in->text, in->text_len, max_text, err))
		return -1;
	if (opt_string(in->root, "username", &in->username, &in->username_len) < 0)
		return refuse(err, "bad_request", "'username' must be a string");
	return 0;
}

#define ROOM_RULE "room names are 1 to 64 characters of A-Z a-z 0-9 . _ -"

/* The optional "room" of any frame: folded into in->room_key. Returns 0
 * (in->room NULL when absent), or -1 with the reason in *why. */
static int decode_room(struct inbound *in, const char **why)
{
	const char *room;
	size_t rlen = 0;
	int r = opt_string(in->root, "room", &room, &rlen);
	if (r == 0)
		return 0;
	if (r < 0) {
		*why = "'room' must be a string";
		return -1;
	}
	if (!room_name_valid(room, rlen) || strlen(room) != rlen) {
		*why = ROOM_RULE;
		return -1;
	}
	room_name_fold(room, rlen, in->room_key);
	in->room = in->room_key;
	return 0;
}

int inbound_decode(const char *data, size_t len, size_t max_text, struct inbound *in,
		   struct inbound_error *err)
{
	json_error_t jerr;
	memset(in, 0, sizeof *in);
	err->client_id[0] = 0;
	in->since = -1;
	in->root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!in->root) {
		err->code = "bad_request";
		snprintf(err->message, sizeof err->message, "not valid JSON: %s", jerr.text);
		return -1;
	}
	if (!json_is_object(in->root)) {
		refuse(err, "bad_request", "a frame must be a JSON object");
		goto fail;
	}
	int r = opt_string(in->root, "type", &in->type, NULL);
	if (r < 0) {
		refuse(err, "bad_request", "'type' must be a string");
		goto fail;
	}
	if (!r)
		in->type = "message";
	if (!strcmp(in->type, "message")) {
		in->kind = IN_MESSAGE;
		if (decode_message(in, max_text, err))
			goto fail;
	} else if (!strcmp(in->type, "nick")) {
		in->kind = IN_NICK;
		if (opt_string(in->root, "username", &in->username, &in->username_len) != 1) {
			refuse(err, "bad_request", "'nick' needs a 'username' string");
			goto fail;
		}
	} else if (!strcmp(in->type, "join")) {
		in->kind = IN_JOIN;
		json_t *since = json_object_get(in->root, "since");
		if (since && !json_is_null(since)) {
			if (!json_is_integer(since) || json_integer_value(since) < 0) {
				refuse(err, "bad_request", "'since' must be a non-negative integer");
				goto fail;
			}
			in->since = json_integer_value(since);
		}
	} else if (!strcmp(in->type, "who")) {
		in->kind = IN_WHO;
	} else if (!strcmp(in->type, "leave")) {
		in->kind = IN_LEAVE;
	} else if (!strcmp(in->type, "rooms")) {
		in->kind = IN_ROOMS;
	} else {
		in->kind = IN_OTHER;
	}
	const char *why = NULL;
	/* "room" names the room a frame is for; nick and rooms are not about one */
	if (in->kind != IN_NICK && in->kind != IN_ROOMS && decode_room(in, &why)) {
		if (in->kind != IN_OTHER) { /* a plugin's frame is refused only once it is claimed */
			refuse(err, "bad_request", why);
			goto fail;
		}
		in->room_problem = why;
	}
	if (in->kind == IN_JOIN && !in->room) {
		refuse(err, "bad_request", "'join' needs a 'room' string");
		goto fail;
	}
	return 0;
fail:
	inbound_free(in);
	return -1;
}

void inbound_free(struct inbound *in)
{
	json_decref(in->root);
	in->root = NULL;
}
