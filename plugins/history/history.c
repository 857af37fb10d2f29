/*
 * history: every room message stored in SQLite, replayed on join, paged with
 * {"type":"history"} and searched with {"type":"search"}; per person (name +
 * session) read positions, unread counts and private messages (personal.c).
 *
 *   [plugin history]
 *   file = history.db          database file, relative to data_dir
 *   synchronous = normal       normal (survives kill -9) or full (survives power loss)
 *   replay = 50                messages replayed on a plain join (0 = off)
 *   max_replay = 1000          messages replayed at most on a ?since= reconnect
 *   max_replay_bytes = 524288  about how many bytes one replay or answer may queue
 *   busy_timeout = 100         ms to wait for a database locked by another process
 *   search_budget = 20         ms one search may take (then it answers what it found)
 *   check_max_mb = 64          PRAGMA quick_check at start up to this size (0 = never)
 *   commit_delay = 2           ms between two commits under sustained load (0 = no wait)
 *
 * Durability: the STORE hook holds each message (api->hold_keep) and queues
 * it; LOOP_IDLE writes the whole queue in one transaction and only then
 * releases the messages, so a message is fanned out and echoed to its sender
 * (its acknowledgement) only once it is committed. A failed commit releases
 * them with ok = 0: they are delivered and their senders get "not_stored".
 * Group commit waits only when waiting buys something: a commit costs far
 * more than a row, but a lone message gains nothing from waiting. Commits
 * draw on a budget that grows by one commit per commit_delay ms, up to
 * COMMIT_BURST commits: LOOP_IDLE commits the queue at once while the
 * budget holds a commit, so a message that comes alone (or in a burst of a
 * few) is stored and released in the iteration that read it. Only when
 * messages keep coming faster than one commit per commit_delay is the
 * budget spent; then the queue gathers until the next commit is earned (a
 * one-shot timer wakes the loop), so under sustained load commits come at
 * most once per commit_delay and many messages share each. COMMIT_BATCH_MAX
 * queued always commit at once.
 *
 * Faults at run time (full disk, a file system gone read-only, a damaged
 * file): writes fail as above, reads answer "internal"; chat goes on, each
 * burst of failures is logged once, and storing resumes by itself when the
 * fault clears. At start a database that cannot be written or fails
 * quick_check refuses to start (exit 4, naming the file).
 *
 * Search index: storing does not touch the full-text index (schema version
 * 2). LOOP_IDLE adds unindexed messages to it in batches of at most
 * INDEX_BATCH_ROWS rows and about INDEX_BATCH_US, only in a loop iteration
 * that stored nothing: at once when INDEX_BATCH_ROWS are waiting, else once
 * no message was stored for INDEX_QUIET_MS (a one-shot timer wakes the loop
 * for it); from INDEX_BACKLOG_MAX waiting, also in iterations that store.
 * Never while the loop is INDEX_MAX_LOAD_PCT busy or more (the core's
 * loop_load_pct): live chat first; the index catches up once the load
 * drops. A search first indexes what is missing, for up to half its
 * budget, and says "incomplete" when messages of its room are still not
 * indexed.
 *
 * No gap and no duplicate at a reconnect's seam: rows reach the database
 * only inside LOOP_IDLE, which commits before it returns, so any query run
 * from another hook sees committed messages only; a message still queued
 * when a client joins is fanned out to it live when released.
 *
 * See docs/plugins/history.md.
 */
#include <chatd/plugin.h>

#include "personal.h"
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HISTORY_LIMIT_DEFAULT 50
#define HISTORY_LIMIT_MAX 200
#define SEARCH_QUERY_MAX 256

/* Background indexing: see the comment at the top. */
#define INDEX_BATCH_ROWS 256   /* rows per batch at most */
#define INDEX_BATCH_US 2000    /* and no more rows after about this long (then the commit) */
#define INDEX_QUIET_MS 100     /* a smaller backlog waits until no message was stored for this long */
#define INDEX_BACKLOG_MAX 1024 /* from this many waiting, batches run in storing iterations too */
#define INDEX_RETRY_MS 1000    /* after a failed batch */
#define INDEX_MAX_LOAD_PCT 75  /* no batch while the loop is this busy or more */
#define INDEX_LOAD_RETRY_MS 100 /* then look again this much later */
#define SEARCH_INDEX_ROWS 512  /* rows per batch when a search catches the index up */
#define COMMIT_BATCH_MAX 1024  /* commit at once with this many queued, whatever commit_delay */
#define COMMIT_BURST 8         /* commits in a row at once before commit_delay spaces them */

struct history_options {
	char file[1024];
	const struct chatd_option *file_opt; /* where `file` was set, NULL by default */
	int sync_full;
	int64_t replay;
	int64_t max_replay;
	int64_t max_replay_bytes;
	int64_t busy_timeout_ms;
	int64_t search_budget_ms;
	int64_t check_max_mb;
	int64_t commit_delay_ms;
};

/* A held message waiting for the next commit. */
struct queued {
	chatd_held *held;
	int64_t id, ts;
	char *room;     /* room, username and text share this one allocation */
	char *username;
	char *text;
	size_t text_len;
};

struct history {
	const struct chatd_api *api;
	chatd_plugin *self;
	struct history_options opt;
	struct hstore *db;
	struct personal *personal; /* read positions, unread counts, private messages (personal.h) */
	struct queued *q;
	size_t nq, capq;
	int64_t failed_batches; /* in the current failure burst; 0 when healthy */
	int64_t failed_messages;
	int64_t failed_reads;   /* likewise for replays, pages, searches, last ids */
	int64_t failed_index;   /* failed index batches in the current burst */
	int64_t last_store_ms;  /* monotonic ms of the last loop iteration that stored */
	int64_t index_retry_ms; /* no background batch before this (monotonic ms) */
	chatd_timer *index_timer; /* wakes the loop for the next batch; NULL when none
				   * (one-shot: the core frees it after it fires, and
				   * cancels it before cleanup) */
	int64_t index_timer_due;  /* monotonic ms it fires at */
	int64_t commit_credit_us; /* the commit budget, in us of commit_delay: see commit_due */
	int64_t credit_at_us;     /* monotonic us it was last brought up to date */
	chatd_timer *commit_timer; /* wakes the loop for a delayed commit; NULL when none
				    * (one-shot, like index_timer) */
};

/* ---- options ---- */

/* Parse opt's value as an integer in [min, max]. Returns 0, or -1 after
 * reporting it. */
static int option_int(struct history *h, const struct chatd_option *opt, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(opt->value, &end, 10);
	if (!opt->value[0] || *end || errno || v < min || v > max) {
		h->api->option_error(h->self, opt, "must be an integer from %lld to %lld", (long long)min,
				     (long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

static int option_file(struct history *h, const struct chatd_option *opt)
{
	size_t n = strlen(opt->value);
	if (!n || n >= sizeof h->opt.file) {
		h->api->option_error(h->self, opt, "must be a file name of 1 to %zu bytes", sizeof h->opt.file - 1);
		return -1;
	}
	memcpy(h->opt.file, opt->value, n + 1);
	h->opt.file_opt = opt;
	return 0;
}

static int option_sync(struct history *h, const struct chatd_option *opt)
{
	if (!strcmp(opt->value, "normal"))
		h->opt.sync_full = 0;
	else if (!strcmp(opt->value, "full"))
		h->opt.sync_full = 1;
	else {
		h->api->option_error(h->self, opt, "must be normal or full");
		return -1;
	}
	return 0;
}

static int parse_option(struct history *h, const struct chatd_option *opt)
{
	struct history_options *o = &h->opt;
	if (!strcmp(opt->key, "file"))
		return option_file(h, opt);
	if (!strcmp(opt->key, "synchronous"))
		return option_sync(h, opt);
	if (!strcmp(opt->key, "replay"))
		return option_int(h, opt, 0, 100000, &o->replay);
	if (!strcmp(opt->key, "max_replay"))
		return option_int(h, opt, 1, 100000, &o->max_replay);
	if (!strcmp(opt->key, "max_replay_bytes"))
		return option_int(h, opt, 4096, (int64_t)1 << 30, &o->max_replay_bytes);
	if (!strcmp(opt->key, "busy_timeout"))
		return option_int(h, opt, 0, 60000, &o->busy_timeout_ms);
	if (!strcmp(opt->key, "search_budget"))
		return option_int(h, opt, 1, 10000, &o->search_budget_ms);
	if (!strcmp(opt->key, "check_max_mb"))
		return option_int(h, opt, 0, 1 << 20, &o->check_max_mb);
	if (!strcmp(opt->key, "commit_delay"))
		return option_int(h, opt, 0, 1000, &o->commit_delay_ms);
	h->api->option_error(h->self, opt, "unknown option");
	return -1;
}

static int parse_options(struct history *h, const struct chatd_option *opts, int nopts)
{
	struct history_options *o = &h->opt;
	const struct chatd_option *replay_opt = NULL;
	snprintf(o->file, sizeof o->file, "history.db");
	o->sync_full = 0;
	o->replay = 50;
	o->max_replay = 1000;
	o->max_replay_bytes = 512 * 1024;
	o->busy_timeout_ms = 100;
	o->search_budget_ms = 20;
	o->check_max_mb = 64;
	o->commit_delay_ms = 2;
	for (int i = 0; i < nopts; i++) {
		if (parse_option(h, &opts[i]))
			return -1;
		if (!strcmp(opts[i].key, "replay"))
			replay_opt = &opts[i];
	}
	if (!replay_opt && o->replay > o->max_replay)
		o->replay = o->max_replay; /* the default yields to a smaller max_replay */
	if (o->replay > o->max_replay) {
		h->api->option_error(h->self, replay_opt, "larger than max_replay (%lld)", (long long)o->max_replay);
		return -1;
	}
	return 0;
}

/* ---- the database ---- */

/* <data_dir>/<file>, or <file> itself when it is absolute. */
static int database_path(struct history *h, char *out, size_t outsz)
{
	const char *dir = h->api->data_dir(h->self);
	int n;
	if (h->opt.file[0] == '/' || !dir || !dir[0])
		n = snprintf(out, outsz, "%s", h->opt.file);
	else
		n = snprintf(out, outsz, "%s/%s", dir, h->opt.file);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

static int open_database(struct history *h)
{
	char path[2048], why[256];
	if (database_path(h, path, sizeof path)) {
		h->api->option_error(h->self, h->opt.file_opt, "history database path too long");
		return -1;
	}
	struct hstore_config cfg = { .path = path, .sync_full = h->opt.sync_full,
				     .busy_timeout_ms = (int)h->opt.busy_timeout_ms,
				     .check_max_bytes = h->opt.check_max_mb * 1024 * 1024 };
	h->db = hstore_open(&cfg, why, sizeof why);
	if (!h->db) {
		h->api->option_error(h->self, h->opt.file_opt, "history database %s: %s", path, why);
		return -1;
	}
	int64_t bytes;
	enum hstore_check check = hstore_checked(h->db, &bytes);
	if (check == HSTORE_CHECK_TOO_BIG)
		h->api->log(h->self, CHATD_LOG_NOTICE, "history database %s: %lld MB, larger than check_max_mb: "
			    "not checked at start", path, (long long)(bytes >> 20));
	h->api->log(h->self, CHATD_LOG_INFO, "history in %s (synchronous=%s, %lld kB%s)", path,
		    h->opt.sync_full ? "full" : "normal", (long long)(bytes >> 10),
		    check == HSTORE_CHECK_OK ? ", quick_check ok" : "");
	return 0;
}

/* A read failed: log it with what and room, once per burst of failures (a
 * damaged database fails every read; clients must not fill the log). */
static void note_read_failure(struct history *h, const char *what, const char *room)
{
	if (!h->failed_reads++)
		h->api->log(h->self, CHATD_LOG_ERR, "room %s: cannot %s (%s); history is unavailable", room, what,
			    hstore_error(h->db));
	h->api->counter_add(h->self, "read_failed", 1);
}

static void note_read_success(struct history *h)
{
	if (h->failed_reads)
		h->api->log(h->self, CHATD_LOG_NOTICE, "reading history again after %lld failed reads",
			    (long long)h->failed_reads);
	h->failed_reads = 0;
}

/* ---- the write batch ---- */

static int64_t monotonic_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static int queue_message(struct history *h, const struct chatd_store_event *ev, const char *room)
{
	if (h->nq == h->capq) {
		size_t ncap = h->capq ? h->capq * 2 : 64;
		struct queued *nq = realloc(h->q, ncap * sizeof *nq);
		if (!nq)
			return -1;
		h->q = nq;
		h->capq = ncap;
	}
	size_t text_len = strnlen(ev->text, ev->text_len);
	size_t room_len = strlen(room), user_len = strlen(ev->username);
	char *buf = malloc(room_len + user_len + text_len + 3);
	if (!buf)
		return -1;
	struct queued *m = &h->q[h->nq];
	m->room = buf;
	memcpy(m->room, room, room_len + 1);
	m->username = m->room + room_len + 1;
	memcpy(m->username, ev->username, user_len + 1);
	m->text = m->username + user_len + 1;
	memcpy(m->text, ev->text, text_len);
	m->text[text_len] = '\0';
	m->text_len = text_len;
	m->id = ev->id;
	m->ts = ev->ts;
	m->held = h->api->hold_keep(ev->held);
	h->nq++;
	return 0;
}

/* Log a failed batch once per burst of failures. While failing, batches do
 * not wait for a locked database: the loop must not stall on every one. */
static void note_failure(struct history *h, size_t messages)
{
	if (!h->failed_batches) {
		h->api->log(h->self, CHATD_LOG_ERR, "cannot store messages (%s); delivering them unstored",
			    hstore_error(h->db));
		hstore_set_busy_timeout(h->db, 0);
	}
	h->failed_batches++;
	h->failed_messages += (int64_t)messages;
}

static void note_success(struct history *h)
{
	if (h->failed_batches) {
		h->api->log(h->self, CHATD_LOG_NOTICE, "storing again after %lld failed batches (%lld messages not stored)",
			    (long long)h->failed_batches, (long long)h->failed_messages);
		hstore_set_busy_timeout(h->db, (int)h->opt.busy_timeout_ms);
	}
	h->failed_batches = h->failed_messages = 0;
}

/*
 * Write every queued message in one transaction. Returns 0 when committed
 * (refused[i] then says which single rows were refused), -1 when nothing was.
 */
static int write_batch(struct history *h, char *refused)
{
	if (hstore_begin(h->db))
		goto fail;
	for (size_t i = 0; i < h->nq; i++) {
		const struct queued *m = &h->q[i];
		struct hstore_msg row = { .room = m->room, .id = m->id, .ts = m->ts, .username = m->username,
					  .text = m->text, .text_len = m->text_len };
		int rc = hstore_insert(h->db, &row);
		if (rc < 0)
			goto fail;
		refused[i] = rc > 0;
		if (rc > 0)
			h->api->log(h->self, CHATD_LOG_WARN, "message %lld of room %s is already stored; not stored again",
				    (long long)m->id, m->room);
	}
	if (hstore_commit(h->db))
		goto fail;
	note_success(h);
	return 0;
fail:
	hstore_rollback(h->db);
	note_failure(h, h->nq);
	return -1;
}

/*
 * Commit the queue and release every held message (fan-out and echo), as
 * stored or, when the commit failed, as not stored.
 */
static void flush_batch(struct history *h)
{
	if (!h->nq)
		return;
	int64_t cost_us = h->opt.commit_delay_ms * 1000;
	h->commit_credit_us = h->commit_credit_us > cost_us ? h->commit_credit_us - cost_us : 0;
	char *refused = calloc(h->nq, 1);
	int committed = refused && write_batch(h, refused) == 0;
	int64_t stored = 0;
	for (size_t i = 0; i < h->nq; i++) {
		int ok = committed && !refused[i];
		stored += ok;
		h->api->hold_release(h->q[i].held, ok);
		free(h->q[i].room);
	}
	if (!refused)
		h->api->log(h->self, CHATD_LOG_ERR, "out of memory: %zu messages not stored", h->nq);
	if (committed)
		h->api->counter_add(h->self, "batches", 1);
	h->api->counter_add(h->self, "stored", stored);
	h->api->counter_add(h->self, "store_failed", (int64_t)h->nq - stored);
	h->nq = 0;
	free(refused);
}

/* ---- the search index ---- */

/* An index batch failed: back off, log once per burst of failures. */
static void note_index_failure(struct history *h)
{
	h->index_retry_ms = h->api->monotonic_ms() + INDEX_RETRY_MS;
	if (!h->failed_index++)
		h->api->log(h->self, CHATD_LOG_WARN, "cannot update the search index (%s); trying again every %d ms "
			    "and before each search", hstore_error(h->db), INDEX_RETRY_MS);
	h->api->counter_add(h->self, "index_failed", 1);
}

static void note_index_success(struct history *h, int rows)
{
	if (h->failed_index)
		h->api->log(h->self, CHATD_LOG_NOTICE, "search index updated again after %lld failed batches",
			    (long long)h->failed_index);
	h->failed_index = 0;
	h->index_retry_ms = 0;
	h->api->counter_add(h->self, "indexed", rows);
}

/* One batch (hstore_index), counted. Returns its rows or -1. */
static int index_batch(struct history *h, int max_rows, int budget_us)
{
	int n = hstore_index(h->db, max_rows, budget_us);
	if (n < 0)
		note_index_failure(h);
	else
		note_index_success(h, n);
	return n;
}

static void on_index_timer(chatd_timer *t, void *userdata)
{
	struct history *h = userdata;
	(void)t;
	/* Nothing else: waking the loop is the point; the LOOP_IDLE hook of this
	 * iteration runs the batch. */
	h->index_timer = NULL;
}

/* Make sure the loop wakes up within delay_ms (an idle loop sleeps). */
static void wake_in(struct history *h, int64_t now, int64_t delay_ms)
{
	int64_t due = now + delay_ms;
	if (h->index_timer) {
		if (h->index_timer_due <= due)
			return;
		h->api->timer_cancel(h->index_timer);
		h->index_timer = NULL;
	}
	/* NULL without a loop (chatd -t): LOOP_IDLE alone then */
	h->index_timer = h->api->timer_add(h->self, delay_ms, 0, on_index_timer, h);
	h->index_timer_due = due;
}

/*
 * After the write batch of a loop iteration (stored: whether it had
 * messages; load_pct: how busy the loop is): index one batch when one is
 * due, and have the loop woken for the next one. Live chat goes first: no
 * batch while the loop is INDEX_MAX_LOAD_PCT busy; a batch runs in an
 * iteration that stored nothing, unless INDEX_BACKLOG_MAX are waiting;
 * fewer than INDEX_BATCH_ROWS wait for INDEX_QUIET_MS without messages.
 */
static void index_in_background(struct history *h, int stored, int64_t load_pct)
{
	int64_t now = h->api->monotonic_ms();
	if (stored)
		h->last_store_ms = now;
	int64_t backlog = hstore_unindexed(h->db);
	if (!backlog)
		return;
	if (load_pct >= INDEX_MAX_LOAD_PCT) {
		/* a loop this busy wakes up by itself; the timer covers the
		 * case where the load stops right after this iteration */
		wake_in(h, now, INDEX_LOAD_RETRY_MS);
		return;
	}
	if (now >= h->index_retry_ms && (!stored || backlog >= INDEX_BACKLOG_MAX) &&
	    (backlog >= INDEX_BATCH_ROWS || now - h->last_store_ms >= INDEX_QUIET_MS)) {
		index_batch(h, INDEX_BATCH_ROWS, INDEX_BATCH_US);
		now = h->api->monotonic_ms();
		if (!(backlog = hstore_unindexed(h->db)))
			return;
	}
	int64_t delay = 0;
	if (now < h->index_retry_ms)
		delay = h->index_retry_ms - now;
	else if (backlog < INDEX_BATCH_ROWS && now - h->last_store_ms < INDEX_QUIET_MS)
		delay = INDEX_QUIET_MS - (now - h->last_store_ms);
	wake_in(h, now, delay);
}

/*
 * Before a search in room: index what is not indexed yet, for up to half of
 * the search budget (a failure to write just ends that). Sets *behind when
 * messages of room are still missing from the index. Returns the ms left for
 * the query (at least 1), or -1 when the database cannot be read.
 */
static int64_t index_for_search(struct history *h, const char *room, int *behind)
{
	int64_t budget_us = h->opt.search_budget_ms * 1000, t0 = monotonic_us(), backlog, missing = 0;
	*behind = 0;
	if (hstore_refresh_unindexed(h->db, &backlog))
		return -1;
	while (backlog > 0) {
		int64_t left = budget_us / 2 - (monotonic_us() - t0);
		if (left <= 0 || index_batch(h, SEARCH_INDEX_ROWS, (int)left) < 0)
			break;
		backlog = hstore_unindexed(h->db);
	}
	if (backlog > 0) {
		if (hstore_unindexed_in_room(h->db, room, &missing))
			return -1;
		*behind = missing > 0;
	}
	int64_t left_ms = (budget_us - (monotonic_us() - t0)) / 1000;
	return left_ms > 1 ? left_ms : 1;
}

/* ---- frames ---- */

/* A {"type":"message",...,"history":true} frame for r (new), NULL on OOM. */
static chatd_frame *message_frame(const struct history *h, const char *room, const struct hrow *r)
{
	const struct chatd_api *api = h->api;
	chatd_frame *f = api->frame_new("message");
	if (!f)
		return NULL;
	api->frame_set_int(f, "id", r->id);
	api->frame_set_str(f, "room", room);
	api->frame_set_str(f, "username", r->username);
	api->frame_set_str(f, "text", r->text);
	api->frame_set_int(f, "ts", r->ts);
	api->frame_set_bool(f, "history", 1);
	if (!r->username[0]) /* a plugin's notice (api->room_notice): no person wrote it */
		api->frame_set_bool(f, "notice", 1);
	return f;
}

/* Push rs (newest first) into f's "messages" array oldest first. */
static void push_rows(const struct history *h, chatd_frame *f, const char *room, const struct hrows *rs)
{
	h->api->frame_push(f, "messages", NULL); /* the array exists even when empty */
	for (size_t i = rs->n; i-- > 0;) {
		chatd_frame *m = message_frame(h, room, &rs->v[i]);
		if (m)
			h->api->frame_push(f, "messages", m);
	}
}

/* Send rs (newest first) to c as single message frames, oldest first; the
 * first one says "truncated":true when older ones were left out. Returns
 * how many were sent. */
static int64_t send_rows(const struct history *h, chatd_client *c, const char *room, const struct hrows *rs,
			 int truncated)
{
	int64_t sent = 0;
	for (size_t i = rs->n; i-- > 0;) {
		chatd_frame *f = message_frame(h, room, &rs->v[i]);
		if (!f)
			break;
		if (truncated && i == rs->n - 1)
			h->api->frame_set_bool(f, "truncated", 1);
		int rc = h->api->send(c, f, CHATD_SEND_NORMAL);
		h->api->frame_free(f);
		if (rc < 0)
			break; /* closing (e.g. its queue overflowed) */
		sent++;
	}
	return sent;
}

static int deny(struct chatd_frame_event *ev, const char *code, const char *message)
{
	ev->error_code = code;
	ev->error_message = message;
	return CHATD_DENY;
}

/* Read the optional integer `key` of a claimed frame into *out when present
 * and within [min, max]. Returns 0, or -1 when wrong. */
static int frame_int(const struct history *h, const struct chatd_frame_event *ev, const char *key, int64_t min,
		     int64_t max, int64_t *out)
{
	int64_t v;
	int found = h->api->frame_get_int(ev->json, key, &v);
	if (found < 0 || (found && (v < min || v > max)))
		return -1;
	if (found)
		*out = v;
	return 0;
}

/* ---- hooks ---- */

static int on_store(int event_id, void *event, void *userdata)
{
	struct chatd_store_event *ev = event;
	struct history *h = userdata;
	(void)event_id;
	if (queue_message(h, ev, h->api->room_name(ev->room)) == 0)
		return CHATD_HOLD;
	/* Out of memory: deliver it now, its sender told it was not stored. */
	h->api->hold_release(h->api->hold_keep(ev->held), 0);
	h->api->counter_add(h->self, "store_failed", 1);
	return CHATD_OK;
}

static void on_commit_timer(chatd_timer *t, void *userdata)
{
	struct history *h = userdata;
	(void)t;
	h->commit_timer = NULL; /* waking the loop is the point: LOOP_IDLE commits */
}

/*
 * Whether the queue is committed in this iteration: when the commit budget
 * holds a commit, or the queue is full. The budget is time: it grows by the
 * time that passes, up to COMMIT_BURST * commit_delay, and each commit
 * spends commit_delay (flush_batch). Otherwise the queue gathers until the
 * budget holds a commit again, and a timer makes sure the loop wakes then.
 */
static int commit_due(struct history *h)
{
	if (!h->nq)
		return 0;
	int64_t now = monotonic_us(), cost_us = h->opt.commit_delay_ms * 1000;
	h->commit_credit_us += now - h->credit_at_us;
	h->credit_at_us = now;
	if (h->commit_credit_us > COMMIT_BURST * cost_us)
		h->commit_credit_us = COMMIT_BURST * cost_us;
	if (h->commit_credit_us >= cost_us || h->nq >= COMMIT_BATCH_MAX)
		return 1;
	if (!h->commit_timer)
		h->commit_timer = h->api->timer_add(h->self, (cost_us - h->commit_credit_us + 999) / 1000, 0,
						    on_commit_timer, h);
	return !h->commit_timer; /* NULL without a loop (chatd -t) */
}

static int on_loop_idle(int event_id, void *event, void *userdata)
{
	struct history *h = userdata;
	const struct chatd_plain_event *ev = event;
	(void)event_id;
	int stored = commit_due(h);
	if (stored) {
		if (h->commit_timer) {
			h->api->timer_cancel(h->commit_timer);
			h->commit_timer = NULL;
		}
		flush_batch(h);
	} else if (h->nq) {
		return CHATD_OK; /* the commit timer wakes the loop; indexing waits for it */
	}
	index_in_background(h, stored, ev->loop_load_pct);
	return CHATD_OK;
}

static int on_room_create(int event_id, void *event, void *userdata)
{
	struct chatd_room_create_event *ev = event;
	struct history *h = userdata;
	const char *room = h->api->room_name(ev->room);
	int64_t max_id;
	(void)event_id;
	if (hstore_max_id(h->db, room, &max_id)) {
		/* Stored ids are counters, far below the clock in ms: going on from
		 * the clock gives no stored id again (the ids stay that large). */
		note_read_failure(h, "read its last id, ids go on from the clock", room);
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
		if (now_ms > ev->last_id)
			ev->last_id = now_ms;
		return CHATD_OK;
	}
	note_read_success(h);
	if (max_id > ev->last_id)
		ev->last_id = max_id;
	return CHATD_OK;
}

/*
 * Replay on join: with since >= 0 every stored message after it (the newest
 * max_replay of them), else the newest `replay` ones. Only committed rows
 * exist in the database here, so a message still queued reaches the joiner
 * live when it is released: no gap, no duplicate.
 */
static int on_join(int event_id, void *event, void *userdata)
{
	struct chatd_room_event *ev = event;
	struct history *h = userdata;
	const char *room = h->api->room_name(ev->room);
	int since = ev->since >= 0;
	int64_t limit = since ? h->opt.max_replay : h->opt.replay;
	struct hrows rs = { 0 };
	(void)event_id;
	if (!limit)
		goto personal;
	if (hstore_newest(h->db, room, since ? ev->since : 0, INT64_MAX, (int)limit, (size_t)h->opt.max_replay_bytes,
			  &rs)) {
		note_read_failure(h, "replay history", room);
		h->api->send_error(ev->client, "internal", "history is unavailable", 0);
		goto done;
	}
	note_read_success(h);
	h->api->counter_add(h->self, "replayed", send_rows(h, ev->client, room, &rs, since && rs.more));
personal: /* then where its person stopped reading, and what is unread */
	personal_joined(h->personal, ev->client, ev->room, ev->first_join);
done:
	hrows_free(&rs);
	return CHATD_OK;
}

/* {"type":"history","before":ID,"limit":N}: a page of older messages of a
 * room, or with "dm":NAME of the conversation with NAME (personal.c). */
static int on_history_frame(int event_id, void *event, void *userdata)
{
	struct chatd_frame_event *ev = event;
	struct history *h = userdata;
	int64_t before = INT64_MAX, limit = HISTORY_LIMIT_DEFAULT;
	struct hrows rs = { 0 };
	const char *dm = NULL, *room_field = NULL;
	(void)event_id;
	int has_dm = h->api->frame_get_str(ev->json, "dm", &dm);
	if (has_dm < 0 || (has_dm && !dm[0]))
		return deny(ev, "bad_request", "'dm' must be the other person's name");
	if (has_dm && h->api->frame_get_str(ev->json, "room", &room_field))
		return deny(ev, "bad_request", "'history' takes a 'room' or a 'dm', not both");
	if (!has_dm && !ev->room)
		return deny(ev, "not_in_room", "you are not in any room (join one first)");
	if (frame_int(h, ev, "before", 1, INT64_MAX, &before))
		return deny(ev, "bad_request", "'before' must be a positive integer");
	if (frame_int(h, ev, "limit", 1, HISTORY_LIMIT_MAX, &limit))
		return deny(ev, "bad_request", "'limit' must be an integer from 1 to 200");
	h->api->counter_add(h->self, "history_requests", 1);
	if (has_dm)
		return personal_dm_history(h->personal, ev, dm, before, limit);
	const char *room = h->api->room_name(ev->room);
	if (hstore_newest(h->db, room, 0, before, (int)limit, (size_t)h->opt.max_replay_bytes, &rs)) {
		note_read_failure(h, "read history", room);
		hrows_free(&rs);
		return deny(ev, "internal", "history is unavailable");
	}
	note_read_success(h);
	chatd_frame *f = h->api->frame_new("history");
	if (f) {
		h->api->frame_set_str(f, "room", room);
		push_rows(h, f, room, &rs);
		h->api->frame_set_bool(f, "has_more", rs.more);
		h->api->send(ev->client, f, CHATD_SEND_NORMAL);
		h->api->frame_free(f);
	}
	hrows_free(&rs);
	return CHATD_CONSUMED;
}

/* {"type":"search","q":"words","limit":N}: full-text search in the room. */
static int on_search_frame(int event_id, void *event, void *userdata)
{
	struct chatd_frame_event *ev = event;
	struct history *h = userdata;
	const char *q = NULL;
	int64_t limit = HISTORY_LIMIT_DEFAULT;
	struct hrows rs = { 0 };
	(void)event_id;
	if (!ev->room)
		return deny(ev, "not_in_room", "you are not in any room (join one first)");
	if (h->api->frame_get_str(ev->json, "q", &q) != 1 || !q[0] || strlen(q) > SEARCH_QUERY_MAX)
		return deny(ev, "bad_request", "'q' must be a string of 1 to 256 bytes");
	if (frame_int(h, ev, "limit", 1, HISTORY_LIMIT_MAX, &limit))
		return deny(ev, "bad_request", "'limit' must be an integer from 1 to 200");
	h->api->counter_add(h->self, "searches", 1);
	const char *room = h->api->room_name(ev->room);
	int behind;
	int64_t left_ms = index_for_search(h, room, &behind);
	int rc = left_ms < 0 ? -1
			     : hstore_search(h->db, room, q, (int)limit, (size_t)h->opt.max_replay_bytes, (int)left_ms,
					     &rs);
	if (rc) {
		static const char bad[] = "bad search query: ";
		char msg[sizeof bad + 200];
		snprintf(msg, sizeof msg, "%s%.200s", bad, hstore_error(h->db));
		hrows_free(&rs);
		if (rc == -2) {
			h->api->send_error(ev->client, "bad_request", msg, 0);
			return CHATD_CONSUMED;
		}
		note_read_failure(h, "search", room);
		return deny(ev, "internal", "history is unavailable");
	}
	note_read_success(h);
	if (behind) /* the newest messages are the unindexed ones: some may match */
		rs.incomplete = rs.more = 1;
	chatd_frame *f = h->api->frame_new("search");
	if (f) {
		h->api->frame_set_str(f, "room", room);
		h->api->frame_set_str(f, "q", q);
		push_rows(h, f, room, &rs);
		h->api->frame_set_bool(f, "has_more", rs.more);
		if (rs.incomplete)
			h->api->frame_set_bool(f, "incomplete", 1);
		h->api->send(ev->client, f, CHATD_SEND_NORMAL);
		h->api->frame_free(f);
	}
	hrows_free(&rs);
	return CHATD_CONSUMED;
}

/* ---- entry points ---- */

static int register_hooks(struct history *h)
{
	const struct chatd_api *api = h->api;
	static const char *const counters[] = { "stored", "store_failed", "replayed", "history_requests",
						"batches", "searches", "read_failed", "indexed",
						"index_failed" };
	if (api->hook_register(h->self, CHATD_EV_STORE, on_store, h, CHATD_PRIO_DEFAULT) ||
	    api->hook_register(h->self, CHATD_EV_LOOP_IDLE, on_loop_idle, h, CHATD_PRIO_DEFAULT) ||
	    api->hook_register(h->self, CHATD_EV_ROOM_CREATE, on_room_create, h, CHATD_PRIO_DEFAULT) ||
	    api->hook_register(h->self, CHATD_EV_JOIN, on_join, h, CHATD_PRIO_DEFAULT)) {
		api->option_error(h->self, NULL, "cannot register hooks");
		return -1;
	}
	if (api->claim_type(h->self, "history", on_history_frame, h) ||
	    api->claim_type(h->self, "search", on_search_frame, h)) {
		api->option_error(h->self, NULL, "frame type 'history' or 'search' is claimed by another plugin");
		return -1;
	}
	if (!(h->personal = personal_new(api, h->self, h->db, h->opt.max_replay_bytes)))
		return -1;
	for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++)
		api->counter_add(h->self, counters[i], 0); /* listed on /metrics from the start */
	return 0;
}

/* Release everything still queued, close the database, free h. */
static void history_free(struct history *h)
{
	if (!h)
		return;
	if (h->db)
		flush_batch(h);
	personal_free(h->personal);
	hstore_close(h->db);
	free(h->q);
	free(h);
}

CHATD_PLUGIN_DEFINE_VERSION();

/* Parse the options, open (create, migrate) the database and register the
 * hooks. Non-zero, with a message naming the option or the file, on failure. */
CHATD_EXPORT int chatd_plugin_init(chatd_plugin *self, const struct chatd_api *api,
				   const struct chatd_option *opts, int nopts, void **userdata)
{
	struct history *h = calloc(1, sizeof *h);
	if (!h)
		return -1;
	h->api = api;
	h->self = self;
	if (parse_options(h, opts, nopts) || open_database(h) || register_hooks(h))
		goto fail;
	*userdata = h;
	return 0;
fail:
	history_free(h);
	return -1;
}

/* Commit and release whatever is still queued, then close the database. */
CHATD_EXPORT void chatd_plugin_cleanup(void *userdata)
{
	history_free(userdata);
}
