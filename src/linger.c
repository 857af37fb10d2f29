#include "linger.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* At most this many sockets linger at once (each holds a descriptor). */
#define LINGER_MAX 512
/* A peer that neither reads nor closes is cut off after this long. */
#define LINGER_TIMEOUT_S 2.0

struct lingering {
	ev_io io;
	ev_timer timeout;
	int fd;
	struct chatd_server *srv;
	struct lingering *prev, *next;
};

static void linger_done(struct lingering *l)
{
	struct chatd_server *srv = l->srv;
	ev_io_stop(srv->loop, &l->io);
	ev_timer_stop(srv->loop, &l->timeout);
	close(l->fd);
	if (l->prev)
		l->prev->next = l->next;
	else
		srv->lingering = l->next;
	if (l->next)
		l->next->prev = l->prev;
	srv->nlingering--;
	free(l);
}

static void on_linger_read(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct lingering *l = w->data;
	char sink[4096];
	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(l->fd, sink, sizeof sink, MSG_DONTWAIT);
		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		linger_done(l); /* the peer closed too, or the socket failed */
		return;
	}
}

static void on_linger_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	linger_done(w->data);
}

void linger_socket(struct chatd_server *srv, int fd)
{
	if (fd < 0 || srv->nlingering >= LINGER_MAX || !srv->loop)
		return;
	struct lingering *l = calloc(1, sizeof *l);
	if (!l)
		return;
	l->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (l->fd < 0)
		goto fail;
	/* queued bytes, then FIN, go out; lws closing its descriptor no
	 * longer closes the socket, so no reset */
	if (shutdown(l->fd, SHUT_WR))
		goto fail;
	l->srv = srv;
	ev_io_init(&l->io, on_linger_read, l->fd, EV_READ);
	ev_timer_init(&l->timeout, on_linger_timeout, LINGER_TIMEOUT_S, 0);
	l->io.data = l->timeout.data = l;
	ev_io_start(srv->loop, &l->io);
	ev_timer_start(srv->loop, &l->timeout);
	l->next = srv->lingering;
	if (l->next)
		l->next->prev = l;
	srv->lingering = l;
	srv->nlingering++;
	return;
fail:
	if (l->fd >= 0)
		close(l->fd);
	free(l);
}

void linger_close_all(struct chatd_server *srv)
{
	while (srv->lingering)
		linger_done(srv->lingering);
}
