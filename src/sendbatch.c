#include "sendbatch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#ifdef HAVE_LIBURING
#include <liburing.h>
#include <unistd.h>

struct sendbatch_entry {
	void *tag;
	unsigned char *buf;
	size_t len;
	int fd;
};

struct sendbatch {
	struct io_uring ring;
	int broken;                 /* io_uring failed once: the ring is gone, reserve says no */
	unsigned entries;           /* most sends in one batch */
	unsigned queued;            /* sends prepared since the last run */
	struct sendbatch_entry *sends;
	unsigned char *reported;    /* sendbatch_run: which sends got their result */
	unsigned char *arena;
	size_t arena_bytes, arena_used, pre;
};

/*
 * Whether this kernel completes a send that would block with -EAGAIN at once
 * when it carries MSG_DONTWAIT, instead of waiting for the socket to drain.
 * sendbatch_run waits for every result, so a send that waited would stall
 * the whole loop behind one slow client. Checked once on a socket pair
 * whose buffer is full. 1 yes, 0 no or unknown.
 */
static int sendbatch_dontwait_works(struct io_uring *ring)
{
	int sv[2], ok = 0;
	static char fill[4096]; /* only read: its content does not matter */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv))
		return 0;
	while (send(sv[0], fill, sizeof fill, MSG_DONTWAIT) > 0)
		;
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	if (!sqe)
		goto done;
	io_uring_prep_send(sqe, sv[0], fill, sizeof fill, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (io_uring_submit(ring) != 1)
		goto done;
	struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 200 * 1000 * 1000 };
	struct io_uring_cqe *cqe;
	if (io_uring_wait_cqe_timeout(ring, &cqe, &ts) == 0) {
		ok = cqe->res == -EAGAIN;
		io_uring_cqe_seen(ring, cqe);
	} else {
		/* still waiting: draining the other end lets it finish */
		static char sink[65536];
		while (recv(sv[1], sink, sizeof sink, MSG_DONTWAIT) > 0)
			;
		if (io_uring_wait_cqe(ring, &cqe) == 0)
			io_uring_cqe_seen(ring, cqe);
	}
done:
	close(sv[0]);
	close(sv[1]);
	return ok;
}

struct sendbatch *sendbatch_new(unsigned entries, size_t arena_bytes, size_t pre, char *err, size_t errsz)
{
	struct sendbatch *b = calloc(1, sizeof *b);
	const char *why = "out of memory";
	if (!b)
		goto fail;
	b->sends = calloc(entries, sizeof *b->sends);
	b->reported = calloc(entries, 1);
	b->arena = malloc(arena_bytes);
	if (!b->sends || !b->reported || !b->arena)
		goto fail;
	int r = io_uring_queue_init(entries, &b->ring, 0);
	if (r < 0) {
		why = strerror(-r);
		goto fail;
	}
	if (!sendbatch_dontwait_works(&b->ring)) {
		io_uring_queue_exit(&b->ring);
		why = "this kernel's io_uring waits on a full socket even with MSG_DONTWAIT";
		goto fail;
	}
	b->entries = entries;
	b->arena_bytes = arena_bytes;
	b->pre = pre;
	return b;
fail:
	if (err)
		snprintf(err, errsz, "%s", why);
	if (b) {
		free(b->sends);
		free(b->reported);
		free(b->arena);
		free(b);
	}
	return NULL;
}

void sendbatch_free(struct sendbatch *b)
{
	if (!b)
		return;
	if (!b->broken)
		io_uring_queue_exit(&b->ring);
	free(b->sends);
	free(b->reported);
	free(b->arena);
	free(b);
}

unsigned char *sendbatch_reserve(struct sendbatch *b, size_t len)
{
	if (b->broken || b->queued == b->entries || b->arena_used + b->pre + len > b->arena_bytes)
		return NULL;
	return b->arena + b->arena_used + b->pre;
}

void sendbatch_add(struct sendbatch *b, int fd, unsigned char *buf, size_t len, void *tag)
{
	/* the ring has at least `entries` slots and reserve stops there, and
	 * every run empties it: a slot is always free here */
	struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);
	unsigned i = b->queued++;
	b->sends[i] = (struct sendbatch_entry){ tag, buf, len, fd };
	b->arena_used = (size_t)(buf - b->arena) + len;
	io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	io_uring_sqe_set_data64(sqe, i);
}

unsigned sendbatch_queued(const struct sendbatch *b)
{
	return b->queued;
}

int sendbatch_run(struct sendbatch *b, sendbatch_done_fn done, void *arg)
{
	unsigned n = b->queued, submitted, seen = 0;
	int rc = 0, r;
	if (!n)
		return 0;
	do
		r = io_uring_submit_and_wait(&b->ring, n);
	while (r == -EINTR);
	submitted = r < 0 ? 0 : (unsigned)r > n ? n : (unsigned)r;
	/* sends are completed in order of submission: entries [0, submitted)
	 * reached the kernel, and each of them gets exactly one result */
	unsigned char *reported = b->reported;
	memset(reported, 0, n);
	while (seen < submitted) {
		struct io_uring_cqe *cqe;
		r = io_uring_wait_cqe(&b->ring, &cqe);
		if (r == -EINTR)
			continue;
		if (r < 0)
			break;
		unsigned i = (unsigned)io_uring_cqe_get_data64(cqe);
		long res = cqe->res;
		io_uring_cqe_seen(&b->ring, cqe);
		seen++;
		if (i >= n || reported[i])
			continue;
		reported[i] = 1;
		done(b->sends[i].tag, b->sends[i].buf, b->sends[i].len, res, arg);
	}
	if (seen < submitted || submitted < n) {
		/* io_uring failed: give it up for good (unsubmitted entries go with
		 * the ring, so nothing is sent twice), send what never reached the
		 * kernel directly, and fail what may have (its result is unknown) */
		rc = -1;
		io_uring_queue_exit(&b->ring);
		b->broken = 1;
		for (unsigned i = 0; i < n; i++) {
			if (reported[i])
				continue;
			struct sendbatch_entry *e = &b->sends[i];
			long res = -EIO;
			if (i >= submitted) {
				ssize_t w = send(e->fd, e->buf, e->len, MSG_NOSIGNAL | MSG_DONTWAIT);
				res = w < 0 ? -(long)errno : (long)w;
			}
			done(e->tag, e->buf, e->len, res, arg);
		}
	}
	b->queued = 0;
	b->arena_used = 0;
	return rc;
}

#else /* !HAVE_LIBURING */

struct sendbatch *sendbatch_new(unsigned entries, size_t arena_bytes, size_t pre, char *err, size_t errsz)
{
	(void)entries;
	(void)arena_bytes;
	(void)pre;
	if (err)
		snprintf(err, errsz, "built without liburing");
	return NULL;
}

void sendbatch_free(struct sendbatch *b)
{
	(void)b;
}

unsigned char *sendbatch_reserve(struct sendbatch *b, size_t len)
{
	(void)b;
	(void)len;
	return NULL;
}

void sendbatch_add(struct sendbatch *b, int fd, unsigned char *buf, size_t len, void *tag)
{
	(void)b;
	(void)fd;
	(void)buf;
	(void)len;
	(void)tag;
}

unsigned sendbatch_queued(const struct sendbatch *b)
{
	(void)b;
	return 0;
}

int sendbatch_run(struct sendbatch *b, sendbatch_done_fn done, void *arg)
{
	(void)b;
	(void)done;
	(void)arg;
	return 0;
}

#endif
