#ifndef CHATD_SENDBATCH_H
#define CHATD_SENDBATCH_H

#include <stddef.h>

/*
 * Batched socket sends: many send()s, each to its own socket, handed to the
 * kernel with one system call through io_uring. On this project's machine a
 * system call costs about 1 us, a sixth of a delivery in rooms of 100, and
 * the fan-out writes one frame per socket. Without liburing at build time,
 * or where the kernel refuses io_uring (io_uring_disabled, a seccomp
 * profile), sendbatch_new returns NULL and the caller sends directly.
 *
 * A batch owns an arena for the bytes of its sends, so a send's buffer lives
 * until its result is known. Every send is non-blocking (MSG_DONTWAIT): the
 * kernel takes what fits and the result says how much.
 */

struct sendbatch;

/* The result of one send: tag and buf as given to sendbatch_add, result = bytes
 * the kernel took (possibly fewer than len) or -errno. buf stays valid during
 * the call (and LWS_PRE-style headroom, `pre` bytes, before it). */
typedef void (*sendbatch_done_fn)(void *tag, unsigned char *buf, size_t len, long result, void *arg);

/* A batch of at most `entries` sends and `arena_bytes` of data, each buffer
 * with `pre` writable bytes before it. Returns a new batch, or NULL when io_uring
 * is unavailable (why is written to err when err is not NULL). Free with
 * sendbatch_free. */
struct sendbatch *sendbatch_new(unsigned entries, size_t arena_bytes, size_t pre, char *err, size_t errsz);

/* Frees b (NULL is fine). Sends still queued are dropped unsent. */
void sendbatch_free(struct sendbatch *b);

/* A buffer of up to len bytes (with the batch's headroom before it) to fill
 * for the next send, or NULL when the batch is full: run it, then ask again.
 * Borrowed from the batch until sendbatch_run returns. */
unsigned char *sendbatch_reserve(struct sendbatch *b, size_t len);

/* Queue the send of len bytes at buf (from sendbatch_reserve, len at most what
 * was reserved) to fd; tag comes back with the result. */
void sendbatch_add(struct sendbatch *b, int fd, unsigned char *buf, size_t len, void *tag);

/* Number of sends queued and not yet run. */
unsigned sendbatch_queued(const struct sendbatch *b);

/* Submit every queued send with one system call and wait for their results;
 * done is called once per send, in no particular order. The batch is empty
 * afterwards. Returns 0, or -1 when io_uring failed: then the batch gives it
 * up for good (reserve returns NULL from then on), the sends that never
 * reached the kernel are made with send() and report its result, and those
 * whose result was lost report -EIO. */
int sendbatch_run(struct sendbatch *b, sendbatch_done_fn done, void *arg);

#endif
