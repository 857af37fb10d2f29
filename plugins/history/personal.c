/*
 * Read positions, unread counts and private messages per person (see
 * personal.h and docs/plugins/history.md).
 */
#include "personal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Conversations listed in "dms" at most (the most recent). */
#define CONVERSATIONS_MAX 100
/* Connections of one person told at most (tabs). */
#define TABS_MAX 64
/* Bytes of a conversation's read-position key: a name (32 characters of up to 4 bytes). */
#define DM_KEY_MAX 129
/* After filters (CHATD_PRIO_DEFAULT), before a plugin at LATE that consumes it. */
#define PRIVATE_STORE_PRIO (CHATD_PRIO_LATE - 10)

struct personal {
	const struct chatd_api *api;
	chatd_plugin *self;
	struct hstore *db;
	int64_t max_bytes;
	int64_t dm_last_id;   /* the largest private message id stored or given */
	int64_t failures;     /* in the current burst of failed reads or writes */
};

/* A read or write failed: log it once per burst, count it. */
static void failed(struct personal *p, const char *what)
{
	if (!p->failures++)
		p->api->log(p->self, CHATD_LOG_ERR, "cannot %s (%s)", what, hstore_error(p->db));
	p->api->counter_add(p->self, "personal_failed", 1);
}

static void succeeded(struct personal *p)
{
	if (p->failures)
		p->api->log(p->self, CHATD_LOG_NOTICE, "read positions and private messages work again after %lld failures",
			    (long long)p->failures);
	p->failures = 0;
}

/* Send f (borrowed) to every connection of c's person. */
static void tell_person(struct personal *p, chatd_client *c, chatd_frame *f)
{
	chatd_client *tabs[TABS_MAX];
	size_t n = p->api->client_person_clients(c, tabs, TABS_MAX);
	for (size_t i = 0; i < n && i < TABS_MAX; i++)
		p->api->send(tabs[i], f, CHATD_SEND_NORMAL);
}

/* The read-position target of a conversation with `name`: lower case
 * (ASCII), so that "bob" and "Bob" are one conversation. */
static void dm_key(const char *name, char *out, size_t outsz)
{
	size_t i = 0;
	for (; name[i] && i + 1 < outsz; i++)
		out[i] = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] + 32) : name[i];
	out[i] = 0;
}

/* {"type":"read","room"|"dm":target,"id":id}, new (NULL on OOM). */
static chatd_frame *read_frame(struct personal *p, int kind, const char *target, int64_t id)
{
	chatd_frame *f = p->api->frame_new("read");
	if (!f)
		return NULL;
	p->api->frame_set_str(f, kind == HSTORE_READ_DM ? "dm" : "room", target);
	p->api->frame_set_int(f, "id", id);
	return f;
}

static int deny(struct chatd_frame_event *ev, const char *code, const char *message)
{
	ev->error_code = code;
	ev->error_message = message;
	return CHATD_DENY;
}

/*
 * CHATD_EV_FRAME {"type":"read","room":R,"id":N} or {"type":"read","dm":NAME,"id":N}:
 * move the person's read position forward (to at most the newest id there)
 * and tell every connection of the person the position now; a position
 * that does not move is told to the asking connection only.
 */
static int on_read_frame(int event_id, void *event, void *userdata)
{
	struct chatd_frame_event *ev = event;
	struct personal *p = userdata;
	const struct chatd_api *api = p->api;
	const char *dm = NULL, *room_field = NULL, *target, *shown;
	char key[DM_KEY_MAX];
	int64_t id;
	int kind, found = 0;
	(void)event_id;
	if (api->frame_get_int(ev->json, "id", &id) != 1 || id < 0)
		return deny(ev, "bad_request", "'read' needs an 'id': a non-negative integer");
	int has_dm = api->frame_get_str(ev->json, "dm", &dm);
	if (has_dm < 0 || (has_dm && !dm[0]))
		return deny(ev, "bad_request", "'dm' must be the other person's name");
	if (has_dm && api->frame_get_str(ev->json, "room", &room_field))
		return deny(ev, "bad_request", "'read' takes a 'room' or a 'dm', not both");
	if (has_dm) {
		if (strlen(dm) >= sizeof key)
			return deny(ev, "bad_request", "'dm' is longer than any name");
		kind = HSTORE_READ_DM;
		dm_key(dm, key, sizeof key);
		target = key;
		shown = dm;
		if (id > p->dm_last_id)
			id = p->dm_last_id;
	} else {
		if (!ev->room)
			return deny(ev, "not_in_room", "you are not in any room (join one first)");
		kind = HSTORE_READ_ROOM;
		target = shown = api->room_name(ev->room);
		if (id > api->room_last_id(ev->room))
			id = api->room_last_id(ev->room);
	}
	const char *name = api->client_name(ev->client), *session = api->client_session(ev->client);
	chatd_frame *f;
	if (!session) { /* nobody to keep it for: answered, not stored */
		if ((f = read_frame(p, kind, shown, id))) {
			api->send(ev->client, f, CHATD_SEND_NORMAL);
			api->frame_free(f);
		}
		return CHATD_CONSUMED;
	}
	int64_t before = 0, now = 0;
	if (hstore_read_get(p->db, name, session, kind, target, &before, &found) ||
	    hstore_read_advance(p->db, name, session, kind, target, id) ||
	    hstore_read_get(p->db, name, session, kind, target, &now, &found)) {
		failed(p, "store a read position");
		return deny(ev, "internal", "read positions are unavailable");
	}
	succeeded(p);
	if (!(f = read_frame(p, kind, shown, now)))
		return deny(ev, "internal", "out of memory");
	if (now != before)
		tell_person(p, ev->client, f);
	else
		api->send(ev->client, f, CHATD_SEND_NORMAL);
	api->frame_free(f);
	return CHATD_CONSUMED;
}

/* CHATD_EV_PRIVATE, after the filters: store the message between the two
 * people (each with its session) and give it its id. Only a message whose
 * receiver is connected here (the core delivers it), or away for a moment
 * with its session (a reload: kept for it, the core then echoes it to the
 * sender; not kept, it is refused as no_such_user). */
static int on_private(int event_id, void *event, void *userdata)
{
	struct chatd_private_event *ev = event;
	struct personal *p = userdata;
	const struct chatd_api *api = p->api;
	(void)event_id;
	const char *away = ev->to_session; /* a reserved slot: NULL from an older core */
	if (!ev->target && !away)
		return CHATD_OK;
	struct hstore_dm m = { .id = p->dm_last_id + 1, .ts = ev->ts, .from = api->client_name(ev->client),
			       .from_session = api->client_session(ev->client),
			       .to = ev->target ? api->client_name(ev->target) : ev->to,
			       .to_session = ev->target ? api->client_session(ev->target) : away, .text = ev->text,
			       .text_len = ev->text_len };
	p->dm_last_id = m.id;
	if (hstore_dm_insert(p->db, &m)) {
		failed(p, "store a private message");
		if (!ev->target)
			return CHATD_OK; /* no id: nobody to deliver it to (no_such_user) */
		ev->id = m.id;
		api->send_error(ev->client, "not_stored",
				"your private message was delivered but could not be stored in history", 0);
		return CHATD_OK;
	}
	ev->id = m.id;
	succeeded(p);
	api->counter_add(p->self, "private_stored", 1);
	return CHATD_OK;
}

/* {"type":"read","room":R,"id":N,"unread":K,"mentions":M} to c: where its
 * person stopped reading room, and what came since from others. A first
 * visit starts at the room's newest message (nothing old is unread). */
static void send_room_state(struct personal *p, chatd_client *c, chatd_room *room, const char *name,
			    const char *session)
{
	const struct chatd_api *api = p->api;
	const char *target = api->room_name(room);
	int64_t id = 0, unread = 0, mentions = 0;
	int found = 0;
	if (hstore_read_get(p->db, name, session, HSTORE_READ_ROOM, target, &id, &found))
		goto fail;
	if (!found) {
		id = api->room_last_id(room);
		if (hstore_read_advance(p->db, name, session, HSTORE_READ_ROOM, target, id))
			goto fail;
	} else if (hstore_room_unread(p->db, target, id, name, &unread, &mentions)) {
		goto fail;
	}
	succeeded(p);
	chatd_frame *f = read_frame(p, HSTORE_READ_ROOM, target, id);
	if (!f)
		return;
	api->frame_set_int(f, "unread", unread);
	api->frame_set_int(f, "mentions", mentions);
	api->send(c, f, CHATD_SEND_NORMAL);
	api->frame_free(f);
	return;
fail:
	failed(p, "read the read position of a room");
}

/* {"type":"dms","conversations":[{"with":..,"last_id":..,"read_id":..,"unread":..},...]}
 * to c: its person's conversations, most recent first. */
static void send_conversations(struct personal *p, chatd_client *c, const char *name, const char *session)
{
	const struct chatd_api *api = p->api;
	struct hconv *v = NULL;
	size_t n = 0;
	if (hstore_dm_conversations(p->db, name, session, CONVERSATIONS_MAX, &v, &n)) {
		failed(p, "read the conversations");
		return;
	}
	chatd_frame *f = api->frame_new("dms");
	if (!f)
		goto done;
	api->frame_push(f, "conversations", NULL); /* the array exists even when empty */
	for (size_t i = 0; i < n; i++) {
		int64_t read_id = 0, unread = 0;
		int found;
		char key[DM_KEY_MAX];
		dm_key(v[i].with, key, sizeof key);
		if (hstore_read_get(p->db, name, session, HSTORE_READ_DM, key, &read_id, &found) ||
		    hstore_dm_unread(p->db, name, session, v[i].with, read_id, &unread)) {
			failed(p, "count unread private messages");
			api->frame_free(f);
			goto done;
		}
		chatd_frame *conv = api->frame_new("conversation");
		if (!conv)
			continue;
		api->frame_set_str(conv, "with", v[i].with);
		api->frame_set_int(conv, "last_id", v[i].last_id);
		api->frame_set_int(conv, "read_id", read_id);
		api->frame_set_int(conv, "unread", unread);
		api->frame_push(f, "conversations", conv);
	}
	succeeded(p);
	api->send(c, f, CHATD_SEND_NORMAL);
	api->frame_free(f);
done:
	hconv_free(v, n);
}

void personal_joined(struct personal *p, chatd_client *c, chatd_room *room, int first_join)
{
	const char *session = p->api->client_session(c), *name = p->api->client_name(c);
	if (!session)
		return;
	send_room_state(p, c, room, name, session);
	if (first_join)
		send_conversations(p, c, name, session);
}

int personal_dm_history(struct personal *p, struct chatd_frame_event *ev, const char *with, int64_t before,
			int64_t limit)
{
	const struct chatd_api *api = p->api;
	const char *session = api->client_session(ev->client);
	struct hrows rs = { 0 };
	if (!session)
		return deny(ev, "no_session", "private messages are read back by a connection with a session "
					      "(?session=KEY)");
	if (hstore_dm_page(p->db, api->client_name(ev->client), session, with, before, (int)limit,
			   (size_t)p->max_bytes, &rs)) {
		failed(p, "read private messages");
		hrows_free(&rs);
		return deny(ev, "internal", "history is unavailable");
	}
	succeeded(p);
	chatd_frame *f = api->frame_new("history");
	if (f) {
		api->frame_set_str(f, "dm", with);
		api->frame_push(f, "messages", NULL);
		for (size_t i = rs.n; i-- > 0;) { /* oldest first */
			chatd_frame *m = api->frame_new("private");
			if (!m)
				break;
			api->frame_set_int(m, "id", rs.v[i].id);
			api->frame_set_str(m, "from", rs.v[i].username);
			api->frame_set_str(m, "to", rs.v[i].to);
			api->frame_set_str(m, "text", rs.v[i].text);
			api->frame_set_int(m, "ts", rs.v[i].ts);
			api->frame_set_bool(m, "history", 1);
			api->frame_push(f, "messages", m);
		}
		api->frame_set_bool(f, "has_more", rs.more);
		api->send(ev->client, f, CHATD_SEND_NORMAL);
		api->frame_free(f);
	}
	hrows_free(&rs);
	return CHATD_CONSUMED;
}

struct personal *personal_new(const struct chatd_api *api, chatd_plugin *self, struct hstore *db,
			      int64_t max_bytes)
{
	if (!CHATD_API_HAS(api, private_set_text)) {
		api->option_error(self, NULL, "this chatd is older than the plugin (no private messages API)");
		return NULL;
	}
	struct personal *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->api = api;
	p->self = self;
	p->db = db;
	p->max_bytes = max_bytes;
	if (hstore_dm_max_id(db, &p->dm_last_id)) {
		api->option_error(self, NULL, "cannot read the private messages: %s", hstore_error(db));
		goto fail;
	}
	if (api->hook_register(self, CHATD_EV_PRIVATE, on_private, p, PRIVATE_STORE_PRIO)) {
		api->option_error(self, NULL, "cannot register hooks");
		goto fail;
	}
	if (api->claim_type(self, "read", on_read_frame, p)) {
		api->option_error(self, NULL, "frame type 'read' is claimed by another plugin");
		goto fail;
	}
	api->counter_add(self, "private_stored", 0);
	api->counter_add(self, "personal_failed", 0);
	return p;
fail:
	free(p);
	return NULL;
}

void personal_free(struct personal *p)
{
	free(p);
}
