/* bench/loadgen.c: chatd's load generator.
 *
 * One thread, epoll, no WebSocket library: a minimal RFC 6455 client (HTTP
 * upgrade with a checked Sec-WebSocket-Accept, masked frames out, unmasked
 * frames in, partial and fragmented frames, ping -> pong, close).
 *
 * Three modes:
 *   load (default)  R rooms x M members; member 0 of each room (or members 0..K-1
 *                   in turn, --publishers K) publishes at a fixed open-loop rate. Each message carries its intended send
 *                   time (CLOCK_MONOTONIC ns); every receiver records
 *                   receive time - intended time, so a late sender or a slow
 *                   server both show up as latency (no coordinated omission).
 *   --connect-only  open N idle sockets, report connects/s and server RSS per socket.
 *   --join-storm    N clients join one room at once: time to every welcome and
 *                   until the join notices stopped arriving.
 *
 * Output: one JSON line on stdout per run, a human summary on stderr.
 * Frame shapes understood: chatd and the tutorial server ({"type":"message",
 * ...,"text":"..."}), lws-mirror-protocol (the text itself, raw), and Socket.IO
 * v4 over a plain WebSocket (engine.io v4 packets: open `0{..}`, the namespace
 * connect `40` answered by `40{..}`, events `42["message",{..}]`, ping `2` -> pong `3`).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hist.h"
#include "sha1.h"

#define VERSION "1"
#define MAX_FRAME (16u << 20)
#define RDBUF (256u << 10)
/* Socket.IO v4's engine.io v4 straight over a WebSocket, the room in the query */
#define SIO_PATH "/socket.io/?EIO=4&transport=websocket&room=room%d"

enum { P_CHATD, P_TUTORIAL, P_MIRROR, P_SOCKETIO };
enum { M_LOAD, M_CONNECT, M_STORM };
enum { ST_IDLE, ST_CONNECTING, ST_HANDSHAKE, ST_OPEN, ST_CLOSED };

static const char *proto_names[] = {"chatd", "tutorial", "mirror", "socketio"};
static const char *mode_names[] = {"load", "connect", "storm"};

static struct opts {
	const char *host;
	int port;
	const char *path_tmpl;
	const char *subproto;
	int proto;
	int mode;
	int rooms, members;
	int publishers;  /* members 0..publishers-1 of a room send its messages in turn */
	int poisson;     /* random (exponential) gaps between a room's messages, same mean rate */
	int port2;       /* > 0: members with an odd index connect here (a second node) */
	int nextra;      /* other processes whose CPU is reported (--extra-pid NAME:PID) */
	char extra_name[4][32];
	int extra_pid[4];
	double rate;     /* messages/s per room */
	double duration; /* measured seconds */
	double warmup;
	double drain;
	int size;
	int server_pid;
	int src_addrs;
	int concurrency;
	int settle_ms;
	double settle_max;
	double connect_timeout;
	double hold;
	double storm_quiet;
	double storm_timeout;
	int names;
	int busy_poll; /* never sleep in epoll: no wake-up latency of our own */
	int serve;     /* keep the sockets; run steps read from stdin */
	int ready_upgrade; /* ready at 101 rather than at the welcome frame */
	const char *label;
	int quiet;
} o = {
	.host = "127.0.0.1",
	.port = 0,
	.path_tmpl = "/ws/room%d",
	.proto = P_CHATD,
	.mode = M_LOAD,
	.rooms = 1,
	.members = 2,
	.publishers = 1,
	.rate = 10,
	.duration = 5,
	.warmup = 1,
	.drain = 2,
	.size = 100,
	.src_addrs = 1,
	.concurrency = 256,
	.settle_ms = 300,
	.settle_max = 30,
	.connect_timeout = 60,
	.hold = 1,
	.storm_quiet = 1,
	.storm_timeout = 30,
	.names = -1,
	.ready_upgrade = -1,
	.label = "",
};

struct conn {
	int fd;
	uint8_t state;
	uint8_t ready;
	uint8_t closing;   /* we sent a close */
	uint8_t want_out;  /* EPOLLOUT registered */
	uint8_t in_frag;
	uint8_t fop;
	uint8_t on_port2;  /* connected to --port2 */
	uint8_t sio_open;  /* --proto socketio: engine.io open packet seen, namespace connect sent */
	uint32_t room;
	char *rbuf;
	uint32_t rlen, rcap;
	char *wbuf;
	uint32_t wlen, woff, wcap;
	char *fbuf;
	uint32_t flen, fcap;
	uint64_t delivered; /* messages of the window received */
	uint64_t last_seq;
	uint64_t t_start;
	char accept[32]; /* expected Sec-WebSocket-Accept */
};

struct errcount {
	char what[48];
	uint64_t n;
};

static struct g {
	int ep;
	int n;
	struct conn *c;
	struct sockaddr_in dst;
	uint64_t rng;
	/* connect */
	int next_conn;
	int inflight;
	int ready;
	int failed;
	uint64_t t_connect_start, t_first_ready, t_last_ready;
	struct hist h_connect;
	/* frames */
	uint64_t frames_in, bytes_in, msgs_in, system_in, welcome_in, error_in, other_in, foreign, ooo;
	uint64_t late_or_early; /* B1 messages outside the window */
	uint64_t last_frame_ns, last_system_ns;
	uint64_t pings, server_closes, eofs;
	uint64_t sio_pings; /* engine.io pings (`2`) answered with `3` */
	struct errcount errs[16];
	int nerrs;
	uint16_t close_codes[8];
	uint64_t close_code_n[8];
	int nclose_codes;
	/* schedule */
	uint64_t t0, win_start, win_end, period_ns;
	uint64_t *next_seq;
	uint64_t *due;      /* --poisson: each room's next due time */
	uint64_t *step_seq0;
	uint64_t *sent_win;
	/* --serve: commands on stdin */
	char cmd[256];
	size_t cmdlen;
	int cmd_ready, stdin_eof, stdin_paused;
	double settle_s;
	uint64_t sent_total, sent_window;
	uint64_t delivered_win;
	struct hist h_lat, h_lag, h_warm; /* h_warm: messages sent during the warm-up */
	struct hist h_lat2;        /* receivers on --port2 only */
	struct sockaddr_in dst2;
	/* stats */
	int stop;
} g;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(void)
{
	/* xorshift64* */
	g.rng ^= g.rng >> 12;
	g.rng ^= g.rng << 25;
	g.rng ^= g.rng >> 27;
	return g.rng * 0x2545F4914F6CDD1Dull;
}

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "loadgen: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (!q)
		die("out of memory");
	return q;
}

static void count_err(const char *what)
{
	for (int i = 0; i < g.nerrs; i++)
		if (!strcmp(g.errs[i].what, what)) {
			g.errs[i].n++;
			return;
		}
	if (g.nerrs < (int)(sizeof g.errs / sizeof g.errs[0])) {
		snprintf(g.errs[g.nerrs].what, sizeof g.errs[0].what, "%s", what);
		g.errs[g.nerrs++].n = 1;
	}
}

static void count_close_code(unsigned code)
{
	for (int i = 0; i < g.nclose_codes; i++)
		if (g.close_codes[i] == code) {
			g.close_code_n[i]++;
			return;
		}
	if (g.nclose_codes < 8) {
		g.close_codes[g.nclose_codes] = (uint16_t)code;
		g.close_code_n[g.nclose_codes++] = 1;
	}
}

/* ---- server /proc stats ---- */

struct pstat {
	int ok;
	double cpu_s;
	long rss_kb, hwm_kb;
};

static struct pstat proc_stat(int pid)
{
	struct pstat s = {0};
	if (pid <= 0)
		return s;
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return s;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* comm may hold spaces */
	if (!p)
		return s;
	unsigned long ut = 0, st = 0;
	/* after ')': state(3) ppid ... utime is field 14, stime 15 */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return s;
	s.cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return s;
	while (fgets(buf, sizeof buf, f)) {
		if (!strncmp(buf, "VmRSS:", 6))
			s.rss_kb = atol(buf + 6);
		else if (!strncmp(buf, "VmHWM:", 6))
			s.hwm_kb = atol(buf + 6);
	}
	fclose(f);
	s.ok = 1;
	return s;
}

/* Busy seconds of the whole machine (all CPUs), from /proc/stat. */
static double machine_busy(void)
{
	FILE *f = fopen("/proc/stat", "r");
	if (!f)
		return 0;
	unsigned long long v[10] = {0};
	int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		       &v[6], &v[7]);
	fclose(f);
	if (n < 5)
		return 0;
	unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
	return (double)busy / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

/* ---- output buffer of a connection ---- */

static void set_out(struct conn *c, int on)
{
	if (c->fd < 0 || c->want_out == on)
		return;
	struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0)};
	ev.data.u32 = (uint32_t)(c - g.c);
	epoll_ctl(g.ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->want_out = (uint8_t)on;
}

static void conn_close(struct conn *c, int failed);

static void flush_out(struct conn *c)
{
	while (c->fd >= 0 && c->woff < c->wlen) {
		ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
		if (n > 0) {
			c->woff += (uint32_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			set_out(c, 1);
			return;
		}
		count_err(n < 0 ? strerror(errno) : "send returned 0");
		conn_close(c, 1);
		return;
	}
	if (c->fd >= 0) {
		c->wlen = c->woff = 0;
		if (c->state != ST_CONNECTING)
			set_out(c, 0);
	}
}

static char *out_reserve(struct conn *c, size_t n)
{
	if (c->woff && c->woff == c->wlen)
		c->wlen = c->woff = 0;
	if (c->wlen + n > c->wcap) {
		if (c->woff) {
			memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
			c->wlen -= c->woff;
			c->woff = 0;
		}
		if (c->wlen + n > c->wcap) {
			size_t cap = c->wcap ? c->wcap : 256;
			while (cap < c->wlen + n)
				cap *= 2;
			c->wbuf = xrealloc(c->wbuf, cap);
			c->wcap = (uint32_t)cap;
		}
	}
	char *p = c->wbuf + c->wlen;
	c->wlen += (uint32_t)n;
	return p;
}

/* Queue one masked frame (FIN set) and try to send it. */
static void ws_send(struct conn *c, int opcode, const void *data, size_t len)
{
	if (c->fd < 0 || c->state != ST_OPEN)
		return;
	size_t hl = 2 + (len < 126 ? 0 : len < 65536 ? 2 : 8) + 4;
	unsigned char *p = (unsigned char *)out_reserve(c, hl + len);
	p[0] = (unsigned char)(0x80 | opcode);
	size_t i = 2;
	if (len < 126) {
		p[1] = (unsigned char)(0x80 | len);
	} else if (len < 65536) {
		p[1] = 0x80 | 126;
		p[2] = (unsigned char)(len >> 8);
		p[3] = (unsigned char)len;
		i = 4;
	} else {
		p[1] = 0x80 | 127;
		for (int k = 0; k < 8; k++)
			p[2 + k] = (unsigned char)((uint64_t)len >> (56 - 8 * k));
		i = 10;
	}
	uint32_t mask = (uint32_t)rnd();
	unsigned char mk[4] = {(unsigned char)(mask >> 24), (unsigned char)(mask >> 16), (unsigned char)(mask >> 8),
			       (unsigned char)mask};
	memcpy(p + i, mk, 4);
	i += 4;
	const unsigned char *d = data;
	for (size_t k = 0; k < len; k++)
		p[i + k] = d[k] ^ mk[k & 3];
	if (!c->want_out)
		flush_out(c);
}

static void conn_close(struct conn *c, int failed)
{
	if (c->fd < 0)
		return;
	epoll_ctl(g.ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	if (c->state != ST_OPEN || !c->ready) {
		/* never got to ready: a failed connect */
		if (c->state != ST_IDLE && c->state != ST_CLOSED) {
			if (c->state == ST_OPEN)
				count_err("closed before the welcome");
			g.failed++;
			g.inflight--;
		}
	} else if (failed) {
		g.eofs++;
	}
	c->state = ST_CLOSED;
	c->rlen = 0;
}

static void mark_ready(struct conn *c, uint64_t now)
{
	if (c->ready)
		return;
	c->ready = 1;
	g.ready++;
	g.inflight--;
	if (!g.t_first_ready)
		g.t_first_ready = now;
	g.t_last_ready = now;
	hist_record(&g.h_connect, now - c->t_start);
}

/* ---- connect and handshake ---- */

static void conn_start(int i)
{
	struct conn *c = &g.c[i];
	c->t_start = now_ns();
	c->room = (uint32_t)(i / o.members);
	c->on_port2 = o.port2 > 0 && (i % o.members) % 2 == 1;
	c->fd = -1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	g.inflight++;
	c->state = ST_CONNECTING;
	if (fd < 0) {
		count_err(strerror(errno));
		g.failed++;
		g.inflight--;
		c->state = ST_CLOSED;
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (o.src_addrs > 1) {
		struct sockaddr_in src = {.sin_family = AF_INET};
		src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(i % o.src_addrs));
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
		if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
			count_err(strerror(errno));
			close(fd);
			g.failed++;
			g.inflight--;
			c->state = ST_CLOSED;
			return;
		}
	}
	const struct sockaddr_in *dst = c->on_port2 ? &g.dst2 : &g.dst;
	if (connect(fd, (const struct sockaddr *)dst, sizeof *dst) < 0 && errno != EINPROGRESS) {
		count_err(strerror(errno));
		close(fd);
		g.failed++;
		g.inflight--;
		c->state = ST_CLOSED;
		return;
	}
	c->fd = fd;
	c->want_out = 1;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT};
	ev.data.u32 = (uint32_t)i;
	epoll_ctl(g.ep, EPOLL_CTL_ADD, fd, &ev);
}

static void send_handshake(struct conn *c)
{
	int i = (int)(c - g.c);
	unsigned char nonce[16];
	for (int k = 0; k < 16; k += 8) {
		uint64_t r = rnd();
		memcpy(nonce + k, &r, 8);
	}
	char key[32];
	base64(nonce, 16, key);
	char cat[96];
	int cl = snprintf(cat, sizeof cat, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
	unsigned char dig[20];
	sha1(cat, (size_t)cl, dig);
	base64(dig, 20, c->accept);

	char path[512];
	snprintf(path, sizeof path, o.path_tmpl, (int)c->room);
	char namebuf[64] = "";
	if (o.names)
		snprintf(namebuf, sizeof namebuf, "%cname=u%d", strchr(path, '?') ? '&' : '?', i);
	char req[1024];
	int n = snprintf(req, sizeof req,
			 "GET %s%s HTTP/1.1\r\n"
			 "Host: %s:%d\r\n"
			 "Upgrade: websocket\r\n"
			 "Connection: Upgrade\r\n"
			 "Sec-WebSocket-Key: %s\r\n"
			 "Sec-WebSocket-Version: 13\r\n"
			 "%s%s%s"
			 "Origin: http://%s:%d\r\n"
			 "User-Agent: chatd-loadgen/" VERSION "\r\n"
			 "\r\n",
			 path, namebuf, o.host, o.port, key, o.subproto ? "Sec-WebSocket-Protocol: " : "",
			 o.subproto ? o.subproto : "", o.subproto ? "\r\n" : "", o.host, o.port);
	memcpy(out_reserve(c, (size_t)n), req, (size_t)n);
	c->state = ST_HANDSHAKE;
	c->want_out = 1; /* flush_out decides */
	flush_out(c);
}

/* 0 ok, -1 refused. hdr is the response head, NUL not guaranteed. */
static int check_handshake(struct conn *c, const char *hdr, size_t len)
{
	char buf[4096];
	if (len >= sizeof buf)
		len = sizeof buf - 1;
	memcpy(buf, hdr, len);
	buf[len] = 0;
	int status = 0;
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
		count_err("bad http response");
		return -1;
	}
	if (status != 101) {
		char what[48];
		snprintf(what, sizeof what, "http %d", status);
		count_err(what);
		return -1;
	}
	for (char *line = strstr(buf, "\r\n"); line; line = strstr(line, "\r\n")) {
		line += 2;
		if (!strncasecmp(line, "Sec-WebSocket-Accept:", 21)) {
			char *v = line + 21;
			while (*v == ' ' || *v == '\t')
				v++;
			if (strncmp(v, c->accept, strlen(c->accept))) {
				count_err("bad Sec-WebSocket-Accept");
				return -1;
			}
			return 0;
		}
	}
	count_err("no Sec-WebSocket-Accept");
	return -1;
}

/* ---- inbound messages ---- */

static const char *parse_u64(const char *p, const char *end, uint64_t *v)
{
	uint64_t x = 0;
	const char *s = p;
	while (p < end && *p >= '0' && *p <= '9')
		x = x * 10 + (uint64_t)(*p++ - '0');
	if (p == s || p >= end || *p != ':')
		return NULL;
	*v = x;
	return p + 1;
}

/* The first letter of a JSON frame's "type" value ('w'elcome, 's'ystem,
 * 'e'rror, 'm'essage...), white space allowed around the colon; 0 if none. */
static int msg_type(const char *m, size_t len)
{
	const char *end = m + len, *p = memmem(m, len, "\"type\"", 6);
	if (!p)
		return 0;
	p += 6;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	if (p >= end || *p++ != ':')
		return 0;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	if (p + 1 >= end || *p != '"')
		return 0;
	return (unsigned char)p[1];
}

static void on_typed(struct conn *c, int type, const char *m, size_t len, uint64_t now);
static int on_sio_packet(struct conn *c, const char *m, size_t len, uint64_t now);

static void on_message(struct conn *c, const char *m, size_t len, uint64_t now)
{
	g.msgs_in++;
	/* an engine.io ping is no traffic: settle() would never see the server quiet */
	if (o.proto == P_SOCKETIO && len == 1 && m[0] == '2') {
		g.sio_pings++;
		ws_send(c, 0x1, "3", 1);
		return;
	}
	g.last_frame_ns = now;
	if (o.proto == P_SOCKETIO && on_sio_packet(c, m, len, now))
		return;
	const char *b = memmem(m, len, "B1:", 3);
	if (b) {
		const char *end = m + len;
		uint64_t room, seq, ts;
		const char *p = parse_u64(b + 3, end, &room);
		if (p)
			p = parse_u64(p, end, &seq);
		if (p)
			p = parse_u64(p, end, &ts);
		if (!p) {
			g.other_in++;
			return;
		}
		if (room != c->room) {
			g.foreign++;
			return;
		}
		if (seq <= c->last_seq && c->last_seq)
			g.ooo++;
		c->last_seq = seq;
		if (ts >= g.win_start && ts < g.win_end) {
			hist_record(&g.h_lat, now > ts ? now - ts : 0);
			if (c->on_port2)
				hist_record(&g.h_lat2, now > ts ? now - ts : 0);
			c->delivered++;
			g.delivered_win++;
		} else {
			if (ts >= g.t0 && ts < g.win_start)
				hist_record(&g.h_warm, now > ts ? now - ts : 0);
			g.late_or_early++;
		}
		return;
	}
	on_typed(c, msg_type(m, len), m, len, now);
}

/* Count a frame that carries no B1 message by its type's first letter. */
static void on_typed(struct conn *c, int type, const char *m, size_t len, uint64_t now)
{
	switch (type) {
	case 'w':
		g.welcome_in++;
		if (!o.ready_upgrade)
			mark_ready(c, now);
		break;
	case 's':
		g.system_in++;
		g.last_system_ns = now;
		break;
	case 'e':
		g.error_in++;
		if (g.error_in <= 3 && !o.quiet)
			fprintf(stderr, "loadgen: server error frame: %.*s\n", (int)(len > 200 ? 200 : len), m);
		break;
	default:
		g.other_in++;
	}
}

/* The first letter of a Socket.IO event's name: p points after `42` (default
 * namespace), at `["name",...]`, possibly after an ack id; 0 if none. */
static int sio_event(const char *p, const char *end)
{
	while (p < end && *p >= '0' && *p <= '9')
		p++; /* ack id */
	if (end - p < 3 || p[0] != '[' || p[1] != '"')
		return 0;
	return (unsigned char)p[2];
}

/* --proto socketio: handle one engine.io packet m (one WebSocket message).
 * Returns 1 when the packet was handled here, 0 when it is an event the
 * caller reads for its B1 message ("message" events). Borrows m. */
static int on_sio_packet(struct conn *c, const char *m, size_t len, uint64_t now)
{
	const char *end = m + len;
	if (len == 0) {
		g.other_in++;
		return 1;
	}
	switch (m[0]) {
	case '0': /* engine.io open {"sid",...,"pingInterval"...}: connect to the default namespace */
		if (!c->sio_open) {
			c->sio_open = 1;
			ws_send(c, 0x1, "40", 2);
		}
		return 1;
	case '1': /* engine.io close */
		g.server_closes++;
		count_close_code(1000);
		conn_close(c, 1);
		return 1;
	case '2': /* engine.io ping with a payload (plain `2`: on_message): pong with it */
		g.sio_pings++;
		{
			char pong[64];
			size_t pl = len < sizeof pong ? len : sizeof pong;
			memcpy(pong, m, pl);
			pong[0] = '3';
			ws_send(c, 0x1, pong, pl);
		}
		return 1;
	case '4':
		break;
	default: /* pong, upgrade, noop: not expected over a plain WebSocket */
		g.other_in++;
		return 1;
	}
	if (len < 2) {
		g.other_in++;
		return 1;
	}
	switch (m[1]) {
	case '0': /* namespace connect answered {"sid":...}: joined, the welcome of Socket.IO */
		g.welcome_in++;
		mark_ready(c, now);
		return 1;
	case '1': /* namespace disconnect */
		g.server_closes++;
		count_close_code(1000);
		conn_close(c, 1);
		return 1;
	case '2': { /* event ["name", data] */
		int ev = sio_event(m + 2, end);
		if (ev == 'm')
			return 0; /* "message": the caller reads its B1 text */
		on_typed(c, ev, m, len, now);
		return 1;
	}
	case '4': /* connect_error */
		on_typed(c, 'e', m, len, now);
		return 1;
	default:
		g.other_in++;
		return 1;
	}
}

static void on_frame(struct conn *c, int fin, int op, char *p, size_t len, uint64_t now)
{
	g.frames_in++;
	switch (op) {
	case 0x8: { /* close */
		unsigned code = len >= 2 ? ((unsigned char)p[0] << 8 | (unsigned char)p[1]) : 1005;
		g.server_closes++;
		count_close_code(code);
		if (!c->closing) {
			unsigned char cb[2] = {(unsigned char)(code >> 8), (unsigned char)code};
			c->closing = 1;
			ws_send(c, 0x8, cb, code == 1005 ? 0 : 2);
		}
		conn_close(c, 1);
		return;
	}
	case 0x9:
		g.pings++;
		ws_send(c, 0xA, p, len);
		return;
	case 0xA:
		return;
	case 0x1:
	case 0x2:
		if (c->in_frag)
			count_err("new message inside a fragmented one");
		if (fin) {
			c->in_frag = 0;
			on_message(c, p, len, now);
			return;
		}
		c->in_frag = 1;
		c->fop = (uint8_t)op;
		c->flen = 0;
		/* store the first fragment like a continuation */
		__attribute__((fallthrough));
	case 0x0:
		if (!c->in_frag) {
			count_err("continuation without a start");
			return;
		}
		if (c->flen + len > MAX_FRAME) {
			count_err("message too big");
			conn_close(c, 1);
			return;
		}
		if (c->flen + len > c->fcap) {
			size_t cap = c->fcap ? c->fcap : 1024;
			while (cap < c->flen + len)
				cap *= 2;
			c->fbuf = xrealloc(c->fbuf, cap);
			c->fcap = (uint32_t)cap;
		}
		memcpy(c->fbuf + c->flen, p, len);
		c->flen += (uint32_t)len;
		if (fin && op == 0x0) {
			c->in_frag = 0;
			on_message(c, c->fbuf, c->flen, now);
			c->flen = 0;
		}
		return;
	default:
		count_err("unknown opcode");
		conn_close(c, 1);
	}
}

/* Parse whole frames from p; returns bytes consumed. */
static size_t parse_frames(struct conn *c, char *p, size_t len, uint64_t now)
{
	size_t off = 0;
	while (len - off >= 2 && c->fd >= 0) {
		unsigned char *h = (unsigned char *)p + off;
		int fin = h[0] & 0x80, op = h[0] & 0x0f, masked = h[1] & 0x80;
		uint64_t plen = h[1] & 0x7f;
		size_t hl = 2;
		if (plen == 126) {
			if (len - off < 4)
				break;
			plen = (uint64_t)h[2] << 8 | h[3];
			hl = 4;
		} else if (plen == 127) {
			if (len - off < 10)
				break;
			plen = 0;
			for (int k = 0; k < 8; k++)
				plen = plen << 8 | h[2 + k];
			hl = 10;
		}
		if (plen > MAX_FRAME) {
			count_err("frame too big");
			conn_close(c, 1);
			return off;
		}
		if (masked)
			hl += 4;
		if (len - off < hl + plen)
			break;
		char *pl = p + off + hl;
		if (masked) {
			unsigned char *mk = h + hl - 4;
			for (uint64_t k = 0; k < plen; k++)
				pl[k] = (char)(pl[k] ^ mk[k & 3]);
		}
		off += hl + (size_t)plen;
		on_frame(c, fin, op, pl, (size_t)plen, now);
	}
	return off;
}

static void rbuf_append(struct conn *c, const char *d, size_t n)
{
	if (c->rlen + n > c->rcap) {
		size_t cap = c->rcap ? c->rcap : 512;
		while (cap < c->rlen + n)
			cap *= 2;
		c->rbuf = xrealloc(c->rbuf, cap);
		c->rcap = (uint32_t)cap;
	}
	memcpy(c->rbuf + c->rlen, d, n);
	c->rlen += (uint32_t)n;
}

static void feed(struct conn *c, char *data, size_t n, uint64_t now)
{
	char *p = data;
	size_t len = n;
	g.bytes_in += n;
	if (c->rlen) {
		rbuf_append(c, data, n);
		p = c->rbuf;
		len = c->rlen;
	}
	size_t used = 0;
	if (c->state == ST_HANDSHAKE) {
		char *end = memmem(p, len, "\r\n\r\n", 4);
		if (!end) {
			if (len > 16384) {
				count_err("http response too long");
				conn_close(c, 1);
			} else if (p != c->rbuf) {
				rbuf_append(c, p, len);
			}
			return;
		}
		used = (size_t)(end + 4 - p);
		if (check_handshake(c, p, used) < 0) {
			conn_close(c, 1);
			return;
		}
		c->state = ST_OPEN;
		if (o.ready_upgrade)
			mark_ready(c, now);
	}
	if (c->state == ST_OPEN)
		used += parse_frames(c, p + used, len - used, now);
	if (c->fd < 0)
		return;
	size_t rest = len - used;
	if (p == c->rbuf) {
		if (rest && used)
			memmove(c->rbuf, c->rbuf + used, rest);
		c->rlen = (uint32_t)rest;
	} else if (rest) {
		c->rlen = 0;
		rbuf_append(c, p + used, rest);
	}
}

static char rdbuf[RDBUF];

static void on_event(struct conn *c, uint32_t ev)
{
	if (c->fd < 0)
		return;
	if (c->state == ST_CONNECTING) {
		if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		int err = 0;
		socklen_t el = sizeof err;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err || (ev & (EPOLLERR | EPOLLHUP))) {
			count_err(err ? strerror(err) : "connect hangup");
			conn_close(c, 1);
			return;
		}
		send_handshake(c);
		return;
	}
	if (ev & EPOLLOUT) {
		flush_out(c);
		if (c->fd < 0)
			return;
	}
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		for (;;) {
			ssize_t n = read(c->fd, rdbuf, sizeof rdbuf);
			if (n > 0) {
				feed(c, rdbuf, (size_t)n, now_ns());
				if (c->fd < 0 || (size_t)n < sizeof rdbuf)
					break;
				continue;
			}
			if (n == 0) {
				if (c->state == ST_HANDSHAKE)
					count_err("closed during handshake");
				conn_close(c, 1);
				break;
			}
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				count_err(strerror(errno));
				conn_close(c, 1);
			}
			break;
		}
	}
}

/* ---- the loop ---- */

static int epoll_wait_ns(struct epoll_event *evs, int max, uint64_t timeout_ns)
{
	struct timespec ts = {.tv_sec = (time_t)(timeout_ns / 1000000000ull),
			      .tv_nsec = (long)(timeout_ns % 1000000000ull)};
	int n = epoll_pwait2(g.ep, evs, max, &ts, NULL);
	if (n < 0 && errno == ENOSYS)
		n = epoll_wait(g.ep, evs, max, (int)((timeout_ns + 999999) / 1000000));
	return n;
}

#define STDIN_TAG UINT32_MAX

static void on_stdin(void)
{
	for (;;) {
		if (g.cmd_ready) {
			/* one command at a time: stop polling stdin until it is taken */
			if (!g.stdin_paused && !g.stdin_eof)
				epoll_ctl(g.ep, EPOLL_CTL_DEL, 0, NULL);
			g.stdin_paused = 1;
			return;
		}
		char ch;
		ssize_t n = read(0, &ch, 1);
		if (n == 1) {
			if (ch == '\n') {
				g.cmd[g.cmdlen] = 0;
				g.cmd_ready = 1;
				g.cmdlen = 0;
				return;
			}
			if (g.cmdlen < sizeof g.cmd - 1)
				g.cmd[g.cmdlen++] = ch;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			g.stdin_eof = 1;
			epoll_ctl(g.ep, EPOLL_CTL_DEL, 0, NULL);
		}
		return;
	}
}

static void poll_once(uint64_t timeout_ns)
{
	struct epoll_event evs[256];
	int n = epoll_wait_ns(evs, 256, o.busy_poll ? 0 : timeout_ns);
	for (int i = 0; i < n; i++) {
		if (evs[i].data.u32 == STDIN_TAG)
			on_stdin();
		else
			on_event(&g.c[evs[i].data.u32], evs[i].events);
	}
}

static void top_up_connects(uint64_t deadline)
{
	while (g.next_conn < g.n && g.inflight < o.concurrency && now_ns() < deadline)
		conn_start(g.next_conn++);
}

static int connecting(void)
{
	return g.ready + g.failed < g.n;
}

/* Connect every socket; returns when all are ready or failed, or at the timeout. */
static void connect_all(void)
{
	g.t_connect_start = now_ns();
	uint64_t deadline = g.t_connect_start + (uint64_t)(o.connect_timeout * 1e9);
	while (connecting() && !g.stop) {
		top_up_connects(deadline);
		uint64_t now = now_ns();
		if (now >= deadline)
			break;
		poll_once(20000000ull);
	}
	if (connecting()) {
		/* timed out: close whatever is still on its way */
		for (int i = 0; i < g.n; i++) {
			struct conn *c = &g.c[i];
			if (c->state == ST_IDLE) {
				g.failed++;
				count_err("connect timeout (not started)");
				c->state = ST_CLOSED;
			} else if (c->fd >= 0 && !c->ready) {
				count_err("connect timeout");
				conn_close(c, 1);
			}
		}
	}
}

/* Wait until nothing arrived for quiet_ns (join notices drained), at most max_ns. */
static double settle(uint64_t quiet_ns, uint64_t max_ns)
{
	uint64_t start = now_ns();
	if (g.last_frame_ns < start)
		g.last_frame_ns = start;
	for (;;) {
		uint64_t now = now_ns();
		if (now - g.last_frame_ns >= quiet_ns || now - start >= max_ns || g.stop)
			break;
		poll_once(quiet_ns / 4 + 1);
	}
	return (double)(g.last_frame_ns - start) / 1e9;
}

/* A random gap with the mean of the period (exponential): a room's messages
 * then arrive as a Poisson process, bursts included. */
static uint64_t poisson_gap(void)
{
	double u = (double)((rnd() >> 11) + 1) / 9007199254740992.0; /* (0, 1] */
	return (uint64_t)(-log(u) * (double)g.period_ns);
}

static uint64_t due_time(int r)
{
	if (o.poisson)
		return g.due[r];
	return g.t0 + (uint64_t)r * g.period_ns / (uint64_t)o.rooms + (g.next_seq[r] - g.step_seq0[r]) * g.period_ns;
}

static void publish_due(uint64_t now)
{
	static char *text, *msg;
	size_t tcap = (size_t)o.size + 128;
	if (!text) {
		text = xrealloc(NULL, tcap);
		msg = xrealloc(NULL, tcap + 64);
	}
	for (int r = 0; r < o.rooms; r++) {
		for (;;) {
			uint64_t due = due_time(r);
			if (due > now || due >= g.win_end)
				break;
			uint64_t seq = ++g.next_seq[r]; /* seq starts at 1 */
			if (o.poisson)
				g.due[r] += poisson_gap();
			g.sent_total++;
			if (due >= g.win_start) {
				g.sent_win[r]++;
				g.sent_window++;
			}
			hist_record(&g.h_lag, now - due);
			/* in turn: a room's rate is shared by its publishers */
			struct conn *c = &g.c[r * o.members + (int)((seq - 1) % (uint64_t)o.publishers)];
			if (c->fd < 0 || c->state != ST_OPEN)
				continue; /* a dead publisher: its receivers see the loss */
			int tl = snprintf(text, tcap, "B1:%d:%" PRIu64 ":%" PRIu64 ":", r, seq, due);
			int want = o.size;
			if (tl < want) {
				memset(text + tl, 'x', (size_t)(want - tl));
				tl = want;
			}
			if (o.proto == P_MIRROR) {
				ws_send(c, 0x1, text, (size_t)tl);
			} else if (o.proto == P_SOCKETIO) {
				int ml = snprintf(msg, tcap + 64, "42[\"message\",{\"text\":\"%.*s\"}]", tl, text);
				ws_send(c, 0x1, msg, (size_t)ml);
			} else {
				int ml = snprintf(msg, tcap + 64, "{\"type\":\"message\",\"text\":\"%.*s\"}", tl, text);
				ws_send(c, 0x1, msg, (size_t)ml);
			}
		}
	}
}

static uint64_t next_due(void)
{
	uint64_t m = UINT64_MAX;
	for (int r = 0; r < o.rooms; r++) {
		uint64_t d = due_time(r);
		if (d < g.win_end && d < m)
			m = d;
	}
	return m;
}

static void close_all(void)
{
	for (int i = 0; i < g.n; i++) {
		struct conn *c = &g.c[i];
		if (c->fd < 0)
			continue;
		if (c->state == ST_OPEN && !c->closing) {
			unsigned char cb[2] = {0x03, 0xe8}; /* 1000 */
			c->closing = 1;
			ws_send(c, 0x8, cb, 2);
		}
		c->ready = 0; /* not a failure */
		c->state = ST_CLOSED;
		epoll_ctl(g.ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
}

/* ---- JSON ---- */

static void json_hist(FILE *f, const char *name, const struct hist *h)
{
	fprintf(f, ",\"%s\":{\"n\":%" PRIu64, name, h->n);
	if (h->n) {
		fprintf(f, ",\"mean\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f",
			h->sum / (double)h->n / 1e3, hist_pct(h, 50) / 1e3, hist_pct(h, 90) / 1e3, hist_pct(h, 99) / 1e3,
			hist_pct(h, 99.9) / 1e3, h->max / 1e3);
	}
	fprintf(f, "}");
}

static void json_common(FILE *f, const char *mode)
{
	fprintf(f, "{\"tool\":\"chatd-loadgen\",\"version\":" VERSION ",\"label\":\"%s\",\"mode\":\"%s\",\"proto\":\"%s\"",
		o.label, mode, proto_names[o.proto]);
	fprintf(f, ",\"busy_poll\":%s", o.busy_poll ? "true" : "false");
	fprintf(f, ",\"host\":\"%s\",\"port\":%d,\"path_template\":\"%s\",\"rooms\":%d,\"members\":%d,\"publishers\":%d,\"poisson\":%s,\"sockets\":%d",
		o.host, o.port, o.path_tmpl, o.rooms, o.members, o.publishers, o.poisson ? "true" : "false", g.n);
	double cs = g.t_last_ready > g.t_connect_start ? (double)(g.t_last_ready - g.t_connect_start) / 1e9 : 0;
	fprintf(f, ",\"connect\":{\"ok\":%d,\"failed\":%d,\"seconds\":%.3f,\"per_s\":%.1f,\"concurrency\":%d", g.ready,
		g.failed, cs, cs > 0 ? g.ready / cs : 0, o.concurrency);
	json_hist(f, "latency_us", &g.h_connect);
	fprintf(f, "}");
}

static void json_tail(FILE *f)
{
	fprintf(f,
		",\"frames\":{\"in\":%" PRIu64 ",\"bytes_in\":%" PRIu64 ",\"system\":%" PRIu64 ",\"welcome\":%" PRIu64
		",\"error\":%" PRIu64 ",\"other\":%" PRIu64 ",\"foreign\":%" PRIu64 ",\"out_of_order\":%" PRIu64
		",\"pings\":%" PRIu64 ",\"sio_pings\":%" PRIu64 "}",
		g.frames_in, g.bytes_in, g.system_in, g.welcome_in, g.error_in, g.other_in, g.foreign, g.ooo, g.pings,
		g.sio_pings);
	fprintf(f, ",\"server_closes\":{\"n\":%" PRIu64 ",\"codes\":{", g.server_closes);
	for (int i = 0; i < g.nclose_codes; i++)
		fprintf(f, "%s\"%u\":%" PRIu64, i ? "," : "", g.close_codes[i], g.close_code_n[i]);
	fprintf(f, "}},\"dropped\":%" PRIu64 ",\"errors\":{", g.eofs);
	for (int i = 0; i < g.nerrs; i++)
		fprintf(f, "%s\"%s\":%" PRIu64, i ? "," : "", g.errs[i].what, g.errs[i].n);
	fprintf(f, "}}\n");
}

static void json_server(FILE *f, const char *name, struct pstat a, struct pstat b, double secs)
{
	if (!a.ok || !b.ok) {
		fprintf(f, ",\"%s\":null", name);
		return;
	}
	double cpu = b.cpu_s - a.cpu_s;
	fprintf(f, ",\"%s\":{\"pid\":%d,\"cpu_s\":%.2f,\"cpu_pct\":%.1f,\"rss_kb\":%ld,\"hwm_kb\":%ld", name,
		o.server_pid, cpu, secs > 0 ? 100.0 * cpu / secs : 0, b.rss_kb, b.hwm_kb);
}

static void json_machine(FILE *f, double mach0, double mach1, double gen0, double gen1, struct pstat a, struct pstat b,
			 double secs)
{
	/* CPU used by everything else on the machine meanwhile: a benchmark next
	 * to a busy test suite is not a benchmark */
	double other = (mach1 - mach0) - (gen1 - gen0) - (a.ok && b.ok ? b.cpu_s - a.cpu_s : 0);
	fprintf(f, ",\"machine\":{\"busy_pct\":%.1f,\"other_pct\":%.1f}", secs > 0 ? 100 * (mach1 - mach0) / secs : 0,
		secs > 0 && other > 0 ? 100 * other / secs : 0);
}

/* ---- modes ---- */

/* One measured step at o.rate over the open sockets; prints its JSON line. */
static void load_step(int step)
{
	double settle_s = g.settle_s;
	/* per-step counters */
	for (int r = 0; r < o.rooms; r++) {
		g.step_seq0[r] = g.next_seq[r];
		g.sent_win[r] = 0;
	}
	for (int i = 0; i < g.n; i++)
		g.c[i].delivered = 0;
	g.sent_total = g.sent_window = g.delivered_win = 0;
	g.frames_in = g.bytes_in = g.msgs_in = g.system_in = g.welcome_in = g.error_in = g.other_in = 0;
	g.foreign = g.ooo = g.late_or_early = g.pings = g.sio_pings = g.server_closes = g.eofs = 0;
	g.nerrs = g.nclose_codes = 0;
	hist_init(&g.h_lat);
	hist_init(&g.h_lat2);
	hist_init(&g.h_lag);
	hist_init(&g.h_warm);
	g.period_ns = (uint64_t)(1e9 / o.rate);
	g.t0 = now_ns() + 5000000ull;
	g.win_start = g.t0 + (uint64_t)(o.warmup * 1e9);
	for (int r = 0; o.poisson && r < o.rooms; r++)
		g.due[r] = g.t0 + poisson_gap();
	g.win_end = g.win_start + (uint64_t)(o.duration * 1e9);
	uint64_t drain_end = g.win_end + (uint64_t)(o.drain * 1e9);
	struct pstat s0 = {0}, s1 = {0}, x0[4] = {{0}}, x1[4] = {{0}};
	double gen0 = 0, gen1 = 0, mach0 = 0, mach1 = 0;
	int have0 = 0, have1 = 0;
	uint64_t expected = 0, t_drained = 0;
	for (;;) {
		uint64_t now = now_ns();
		publish_due(now);
		if (!have0 && now >= g.win_start) {
			for (int k = 0; k < o.nextra; k++)
				x0[k] = proc_stat(o.extra_pid[k]);
			s0 = proc_stat(o.server_pid);
			gen0 = self_cpu();
			mach0 = machine_busy();
			have0 = 1;
		}
		if (!have1 && now >= g.win_end) {
			for (int k = 0; k < o.nextra; k++)
				x1[k] = proc_stat(o.extra_pid[k]);
			s1 = proc_stat(o.server_pid);
			gen1 = self_cpu();
			mach1 = machine_busy();
			have1 = 1;
			expected = g.sent_window * (uint64_t)o.members;
		}
		if (have1 && (g.delivered_win >= expected || now >= drain_end || g.stop)) {
			t_drained = now;
			break;
		}
		uint64_t wake = have1 ? drain_end : next_due();
		if (!have0 && g.win_start < wake)
			wake = g.win_start;
		if (!have1 && g.win_end < wake)
			wake = g.win_end;
		now = now_ns();
		uint64_t to = wake > now ? wake - now : 0;
		if (to > 50000000ull)
			to = 50000000ull;
		poll_once(to);
	}
	/* per-receiver loss */
	uint64_t lost = 0, dup = 0, recv_short = 0;
	for (int i = 0; i < g.n; i++) {
		uint64_t want = g.sent_win[g.c[i].room];
		if (g.c[i].delivered < want) {
			lost += want - g.c[i].delivered;
			recv_short++;
		} else {
			dup += g.c[i].delivered - want;
		}
	}
	int open = 0;
	for (int i = 0; i < g.n; i++)
		open += g.c[i].fd >= 0 && g.c[i].ready;

	double dur = o.duration;
	double secs = (double)(g.win_end - g.win_start) / 1e9;
	FILE *f = stdout;
	json_common(f, "load");
	fprintf(f, ",\"step\":%d,\"open\":%d", step, open);
	fprintf(f, ",\"rate_per_room\":%.3f,\"size\":%d,\"duration\":%.3f,\"warmup\":%.3f,\"settle_s\":%.3f", o.rate,
		o.size, dur, o.warmup, settle_s);
	fprintf(f, ",\"offered_msgs_per_s\":%.1f,\"offered_deliveries_per_s\":%.1f", o.rate * o.rooms,
		o.rate * o.rooms * o.members);
	fprintf(f,
		",\"sent\":%" PRIu64 ",\"expected\":%" PRIu64 ",\"delivered\":%" PRIu64 ",\"lost\":%" PRIu64
		",\"duplicates\":%" PRIu64 ",\"receivers_short\":%" PRIu64 ",\"loss_ratio\":%.6f",
		g.sent_window, expected, g.delivered_win, lost, dup, recv_short,
		expected ? (double)lost / (double)expected : 0.0);
	fprintf(f, ",\"deliveries_per_s\":%.1f,\"drain_s\":%.3f", secs > 0 ? g.delivered_win / secs : 0,
		(double)(t_drained - g.win_end) / 1e9);
	json_hist(f, "latency_us", &g.h_lat);
	if (o.port2 > 0)
		json_hist(f, "latency_port2_us", &g.h_lat2);
	json_hist(f, "send_lag_us", &g.h_lag);
	json_hist(f, "warmup_latency_us", &g.h_warm);
	json_server(f, "server", s0, s1, secs);
	if (s0.ok && s1.ok)
		fprintf(f, ",\"cpu_us_per_delivery\":%.2f}",
			g.delivered_win ? (s1.cpu_s - s0.cpu_s) * 1e6 / (double)g.delivered_win : 0);
	if (o.nextra) { /* other processes of the run (a second node, Redis): CPU over the window */
		fprintf(f, ",\"extra\":{");
		for (int k = 0; k < o.nextra; k++) {
			double cpu = x0[k].ok && x1[k].ok ? x1[k].cpu_s - x0[k].cpu_s : -1;
			fprintf(f, "%s\"%s\":{\"pid\":%d,\"cpu_s\":%.3f,\"cpu_pct\":%.1f,\"rss_kb\":%ld}", k ? "," : "",
				o.extra_name[k], o.extra_pid[k], cpu, secs > 0 && cpu >= 0 ? 100.0 * cpu / secs : 0,
				x1[k].rss_kb);
		}
		fprintf(f, "}");
	}
	double gcpu = secs > 0 ? 100.0 * (gen1 - gen0) / secs : 0;
	fprintf(f, ",\"generator\":{\"cpu_pct\":%.1f,\"saturated\":%s}", gcpu, gcpu > 90 ? "true" : "false");
	json_machine(f, mach0, mach1, gen0, gen1, s0, s1, secs);
	json_tail(f);
	fflush(f);

	if (!o.quiet) {
		fprintf(stderr,
			"loadgen %s [%s] %d rooms x %d, %.1f msg/s/room, %ds: offered %.0f deliveries/s, delivered %.0f/s, "
			"lost %" PRIu64 "/%" PRIu64 "\n",
			o.label, proto_names[o.proto], o.rooms, o.members, o.rate, (int)dur, o.rate * o.rooms * o.members,
			secs > 0 ? g.delivered_win / secs : 0, lost, expected);
		fprintf(stderr,
			"  latency p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms; warm-up p99 %.2f ms; "
			"send lag p99 %.2f ms; connect %d ok %d failed (%.0f/s)",
			hist_pct(&g.h_lat, 50) / 1e6, hist_pct(&g.h_lat, 99) / 1e6, hist_pct(&g.h_lat, 99.9) / 1e6,
			g.h_lat.max / 1e6, hist_pct(&g.h_warm, 99) / 1e6, hist_pct(&g.h_lag, 99) / 1e6, g.ready, g.failed,
			g.t_last_ready > g.t_connect_start ? g.ready / ((g.t_last_ready - g.t_connect_start) / 1e9) : 0);
		if (s0.ok && s1.ok)
			fprintf(stderr, "; server cpu %.0f%%, rss %ld KB", 100 * (s1.cpu_s - s0.cpu_s) / secs, s1.rss_kb);
		fprintf(stderr, "; generator cpu %.0f%%\n", gcpu);
	}
}

static int run_load(void)
{
	connect_all();
	g.settle_s = settle((uint64_t)o.settle_ms * 1000000ull, (uint64_t)(o.settle_max * 1e9));
	if (!o.serve) {
		load_step(0);
		close_all();
		return 0;
	}
	/* --serve: say we are ready, then run "run RATE DURATION WARMUP" lines
	 * until "quit" or the end of stdin; the sockets are read meanwhile */
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	struct epoll_event ev = {.events = EPOLLIN};
	ev.data.u32 = STDIN_TAG;
	if (epoll_ctl(g.ep, EPOLL_CTL_ADD, 0, &ev) < 0)
		die("--serve: stdin cannot be polled: %s", strerror(errno));
	json_common(stdout, "ready");
	fprintf(stdout, ",\"settle_s\":%.3f", g.settle_s);
	json_tail(stdout);
	fflush(stdout);
	int step = 0;
	while (!g.stop) {
		on_stdin();
		while (!g.cmd_ready && !g.stdin_eof && !g.stop)
			poll_once(50000000ull);
		if (!g.cmd_ready)
			break;
		g.cmd_ready = 0;
		if (g.stdin_paused && !g.stdin_eof) {
			g.stdin_paused = 0;
			epoll_ctl(g.ep, EPOLL_CTL_ADD, 0, &ev);
		}
		double rate, dur, warm;
		if (!strncmp(g.cmd, "quit", 4))
			break;
		if (sscanf(g.cmd, "run %lf %lf %lf", &rate, &dur, &warm) != 3 || rate <= 0 || dur <= 0 || warm < 0) {
			printf("{\"error\":\"bad command\"}\n");
			fflush(stdout);
			continue;
		}
		o.rate = rate;
		o.duration = dur;
		o.warmup = warm;
		load_step(++step);
	}
	close_all();
	return 0;
}

static int run_connect(void)
{
	struct pstat s0 = proc_stat(o.server_pid);
	double mach0 = machine_busy(), gen0 = self_cpu();
	connect_all();
	double mach1 = machine_busy(), gen1 = self_cpu();
	struct pstat sc = proc_stat(o.server_pid);
	settle((uint64_t)o.settle_ms * 1000000ull, (uint64_t)(o.settle_max * 1e9));
	uint64_t hold_end = now_ns() + (uint64_t)(o.hold * 1e9);
	while (now_ns() < hold_end && !g.stop)
		poll_once(50000000ull);
	struct pstat s1 = proc_stat(o.server_pid);
	uint64_t dropped = g.eofs;
	close_all();
	FILE *f = stdout;
	json_common(f, "connect");
	double cs = g.t_last_ready > g.t_connect_start ? (double)(g.t_last_ready - g.t_connect_start) / 1e9 : 0;
	json_server(f, "server", s0, s1, cs);
	if (s0.ok && s1.ok) {
		fprintf(f, ",\"rss_before_kb\":%ld,\"rss_per_socket_bytes\":%.0f,\"cpu_us_per_connect\":%.1f}", s0.rss_kb,
			g.ready ? (double)(s1.rss_kb - s0.rss_kb) * 1024.0 / g.ready : 0,
			g.ready ? (s1.cpu_s - s0.cpu_s) * 1e6 / g.ready : 0);
	}
	json_machine(f, mach0, mach1, gen0, gen1, s0, sc, cs);
	json_tail(f);
	fflush(f);
	if (!o.quiet) {
		fprintf(stderr, "loadgen %s [%s] connect-only: %d sockets ok, %d failed, %" PRIu64 " dropped, %.0f connects/s",
			o.label, proto_names[o.proto], g.ready, g.failed, dropped, cs > 0 ? g.ready / cs : 0);
		if (s0.ok && s1.ok && g.ready)
			fprintf(stderr, ", server rss %ld -> %ld KB = %.0f bytes/socket", s0.rss_kb, s1.rss_kb,
				(double)(s1.rss_kb - s0.rss_kb) * 1024.0 / g.ready);
		fprintf(stderr, "\n");
	}
	return 0;
}

static int run_storm(void)
{
	struct pstat s0 = proc_stat(o.server_pid);
	double mach0 = machine_busy(), gen0 = self_cpu();
	connect_all();
	uint64_t quiet = (uint64_t)(o.storm_quiet * 1e9);
	uint64_t end = g.t_connect_start + (uint64_t)(o.storm_timeout * 1e9);
	for (;;) {
		uint64_t now = now_ns();
		uint64_t last = g.last_frame_ns > g.t_last_ready ? g.last_frame_ns : g.t_last_ready;
		if (now - last >= quiet || now >= end || g.stop)
			break;
		poll_once(20000000ull);
	}
	struct pstat s1 = proc_stat(o.server_pid);
	double mach1 = machine_busy(), gen1 = self_cpu();
	uint64_t tm1 = now_ns();
	uint64_t lastsys = g.last_system_ns > g.t_last_ready ? g.last_system_ns : g.t_last_ready;
	double welcome_s = g.t_last_ready ? (double)(g.t_last_ready - g.t_connect_start) / 1e9 : -1;
	double drained_s = g.t_last_ready ? (double)(lastsys - g.t_connect_start) / 1e9 : -1;
	int timed_out = now_ns() >= end;
	close_all();
	uint64_t n = (uint64_t)g.n;
	FILE *f = stdout;
	json_common(f, "storm");
	fprintf(f,
		",\"storm\":{\"welcome_all_s\":%.3f,\"drained_s\":%.3f,\"system_frames\":%" PRIu64
		",\"system_frames_if_every_join_to_every_member\":%" PRIu64 ",\"timed_out\":%s}",
		welcome_s, drained_s, g.system_in, n * (n + 1) / 2, timed_out ? "true" : "false");
	json_server(f, "server", s0, s1, drained_s > 0 ? drained_s : 1);
	if (s0.ok && s1.ok)
		fprintf(f, "}");
	json_machine(f, mach0, mach1, gen0, gen1, s0, s1, (double)(tm1 - g.t_connect_start) / 1e9);
	json_tail(f);
	fflush(f);
	if (!o.quiet)
		fprintf(stderr,
			"loadgen %s [%s] join storm: %d clients (%d failed), every welcome after %.3f s, join notices "
			"drained after %.3f s (%" PRIu64 " system frames)%s\n",
			o.label, proto_names[o.proto], g.ready, g.failed, welcome_s, drained_s, g.system_in,
			timed_out ? " TIMED OUT" : "");
	return 0;
}

static void on_sig(int s)
{
	(void)s;
	g.stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: loadgen --port P [options]\n"
		"  --host H              server address (default 127.0.0.1; loopback only)\n"
		"  --port P              server port\n"
		"  --path-template T     request path, %%d = room index (default /ws/room%%d; \"/\" for lws-mirror;\n"
		"                        with --proto socketio /socket.io/?EIO=4&transport=websocket&room=room%%d)\n"
		"  --subprotocol S       Sec-WebSocket-Protocol to request (e.g. lws-mirror-protocol)\n"
		"  --proto chatd|tutorial|mirror|socketio   frame shapes (default chatd; mirror: raw text, ready at\n"
		"                        101; tutorial: ready at 101 as it sends no welcome; socketio: Socket.IO v4\n"
		"                        over a WebSocket, ready at the namespace's connect answer 40{...}, room in\n"
		"                        the query, events 42[\"message\",{\"text\":...}], engine.io pings answered)\n"
		"  --rooms R --members M R rooms of M members; member 0 of each room publishes\n"
		"  --port2 P             members with an odd index connect to port P (a second node)\n"
		"  --extra-pid NAME:PID  also report PID's CPU over the window (up to 4; e.g. node2, redis)\n"
		"  --publishers K        members 0..K-1 of each room publish in turn (default 1): each sends\n"
		"                        rate/K messages/s, e.g. to stay under a per-connection rate limit\n"
		"  --rate X              messages/s per room, open loop (default 10)\n"
		"  --poisson             random gaps between a room's messages (a Poisson process of that\n"
		"                        mean rate: bursts and lulls) instead of a fixed schedule\n"
		"  --duration S          measured seconds (default 5)  --warmup S (default 1)  --drain S (default 2)\n"
		"  --size B              payload text bytes (default 100)\n"
		"  --server-pid PID      read the server's CPU and RSS from /proc\n"
		"  --connect-only        W4: open rooms x members idle sockets, report connects/s and RSS/socket\n"
		"  --join-storm          W6: every socket joins at once; time to all welcomes and to drained notices\n"
		"  --src-addrs N         spread sockets over 127.0.0.1..127.0.0.N (default 1)\n"
		"  --concurrency N       handshakes in flight (default 256; --join-storm: all)\n"
		"  --settle-ms MS        quiet time before the load starts (default 300)\n"
		"  --connect-timeout S   (default 60)  --hold S idle hold in --connect-only (default 1)\n"
		"  --storm-quiet S       quiet time that ends a storm (default 1)  --storm-timeout S (default 30)\n"
		"  --busy-poll           never sleep in epoll_wait (one core at 100%%): the generator's own\n"
		"                        wake-up latency stays out of the figures (latency workloads)\n"
		"  --serve               load mode: connect once, print a \"ready\" line, then run one step per\n"
		"                        stdin line \"run RATE DURATION WARMUP\" (one JSON line each) until \"quit\"\n"
		"  --no-names            do not add ?name=uN to the path\n"
		"  --label L             copied to the JSON line\n"
		"  --quiet               no summary on stderr\n");
}

int main(int argc, char **argv)
{
	enum {
		OPT_HOST = 256, OPT_PORT, OPT_PATH, OPT_SUB, OPT_PROTO, OPT_ROOMS, OPT_MEMBERS, OPT_RATE, OPT_DUR, OPT_WARM, OPT_DRAIN, OPT_SIZE,
		OPT_PID, OPT_CONN, OPT_STORM, OPT_SRC, OPT_CONC, OPT_SETTLE, OPT_CTO, OPT_HOLD, OPT_SQ, OPT_STO, OPT_NONAMES, OPT_LABEL, OPT_QUIET, OPT_BUSY, OPT_SERVE,
		OPT_PUBS, OPT_POISSON, OPT_PORT2, OPT_EXTRA, OPT_HELP
	};
	static const struct option lo[] = {
		{"host", 1, 0, OPT_HOST},         {"port", 1, 0, OPT_PORT},           {"path-template", 1, 0, OPT_PATH},
		{"subprotocol", 1, 0, OPT_SUB},   {"proto", 1, 0, OPT_PROTO},         {"rooms", 1, 0, OPT_ROOMS},
		{"members", 1, 0, OPT_MEMBERS},   {"rate", 1, 0, OPT_RATE},           {"duration", 1, 0, OPT_DUR},
		{"warmup", 1, 0, OPT_WARM},       {"drain", 1, 0, OPT_DRAIN},         {"size", 1, 0, OPT_SIZE},
		{"server-pid", 1, 0, OPT_PID},    {"connect-only", 0, 0, OPT_CONN},   {"join-storm", 0, 0, OPT_STORM},
		{"src-addrs", 1, 0, OPT_SRC},     {"concurrency", 1, 0, OPT_CONC},    {"settle-ms", 1, 0, OPT_SETTLE},
		{"connect-timeout", 1, 0, OPT_CTO}, {"hold", 1, 0, OPT_HOLD},         {"storm-quiet", 1, 0, OPT_SQ},
		{"storm-timeout", 1, 0, OPT_STO}, {"no-names", 0, 0, OPT_NONAMES},    {"label", 1, 0, OPT_LABEL},
		{"busy-poll", 0, 0, OPT_BUSY},   {"serve", 0, 0, OPT_SERVE},   {"quiet", 0, 0, OPT_QUIET},       {"publishers", 1, 0, OPT_PUBS},
		{"poisson", 0, 0, OPT_POISSON},
		{"port2", 1, 0, OPT_PORT2},      {"extra-pid", 1, 0, OPT_EXTRA},
		{"help", 0, 0, OPT_HELP},           {0, 0, 0, 0},
	};
	int conc_set = 0, path_set = 0, opt;
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case OPT_HOST: o.host = optarg; break;
		case OPT_PORT: o.port = atoi(optarg); break;
		case OPT_PATH: o.path_tmpl = optarg; path_set = 1; break;
		case OPT_SUB: o.subproto = optarg; break;
		case OPT_PROTO:
			if (!strcmp(optarg, "chatd")) o.proto = P_CHATD;
			else if (!strcmp(optarg, "tutorial")) o.proto = P_TUTORIAL;
			else if (!strcmp(optarg, "mirror")) o.proto = P_MIRROR;
			else if (!strcmp(optarg, "socketio")) o.proto = P_SOCKETIO;
			else die("--proto: chatd, tutorial, mirror or socketio");
			break;
		case OPT_ROOMS: o.rooms = atoi(optarg); break;
		case OPT_MEMBERS: o.members = atoi(optarg); break;
		case OPT_PUBS: o.publishers = atoi(optarg); break;
		case OPT_POISSON: o.poisson = 1; break;
		case OPT_PORT2: o.port2 = atoi(optarg); break;
		case OPT_EXTRA: {
			const char *colon = strchr(optarg, ':');
			if (!colon || o.nextra == 4 || colon - optarg >= 32)
				die("--extra-pid NAME:PID (at most 4)");
			memcpy(o.extra_name[o.nextra], optarg, (size_t)(colon - optarg));
			o.extra_name[o.nextra][colon - optarg] = 0;
			o.extra_pid[o.nextra++] = atoi(colon + 1);
			break;
		}
		case OPT_RATE: o.rate = atof(optarg); break;
		case OPT_DUR: o.duration = atof(optarg); break;
		case OPT_WARM: o.warmup = atof(optarg); break;
		case OPT_DRAIN: o.drain = atof(optarg); break;
		case OPT_SIZE: o.size = atoi(optarg); break;
		case OPT_PID: o.server_pid = atoi(optarg); break;
		case OPT_CONN: o.mode = M_CONNECT; break;
		case OPT_STORM: o.mode = M_STORM; break;
		case OPT_SRC: o.src_addrs = atoi(optarg); break;
		case OPT_CONC: o.concurrency = atoi(optarg); conc_set = 1; break;
		case OPT_SETTLE: o.settle_ms = atoi(optarg); break;
		case OPT_CTO: o.connect_timeout = atof(optarg); break;
		case OPT_HOLD: o.hold = atof(optarg); break;
		case OPT_SQ: o.storm_quiet = atof(optarg); break;
		case OPT_STO: o.storm_timeout = atof(optarg); break;
		case OPT_NONAMES: o.names = 0; break;
		case OPT_LABEL: o.label = optarg; break;
		case OPT_QUIET: o.quiet = 1; break;
		case OPT_BUSY: o.busy_poll = 1; break;
		case OPT_SERVE: o.serve = 1; break;
		case 'h':
		case OPT_HELP: usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc || o.port <= 0 || o.port > 65535)
		usage(stderr), exit(2);
	if (o.rooms < 1 || o.members < 1 || (long)o.rooms * o.members > 1000000)
		die("--rooms and --members must be >= 1 (at most 1e6 sockets)");
	if (o.publishers < 1 || o.publishers > o.members)
		die("--publishers: 1..members");
	if (o.rate <= 0 || o.rate > 1e6 || o.duration <= 0 || o.warmup < 0 || o.drain < 0)
		die("bad --rate/--duration/--warmup/--drain");
	if (o.size < 0 || o.size > 1000000)
		die("--size: 0..1000000");
	if (o.src_addrs < 1 || o.src_addrs > 254)
		die("--src-addrs: 1..254");
	if (o.concurrency < 1)
		die("--concurrency: >= 1");
	for (const char *p = o.label; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			die("--label: no quotes, backslashes or control characters");
	if (o.mode == M_STORM) {
		o.rooms = 1;
		if (!conc_set)
			o.concurrency = o.members;
	}
	if (o.names < 0)
		o.names = o.proto != P_MIRROR;
	if (o.ready_upgrade < 0)
		o.ready_upgrade = o.proto != P_CHATD && o.proto != P_SOCKETIO;
	if (o.proto == P_SOCKETIO && !path_set)
		o.path_tmpl = SIO_PATH;
	{
		/* the only place traffic goes: refuse anything outside 127.0.0.0/8 */
		struct in_addr a;
		if (!strcmp(o.host, "localhost"))
			o.host = "127.0.0.1";
		if (inet_pton(AF_INET, o.host, &a) != 1 || (ntohl(a.s_addr) >> 24) != 127)
			die("--host must be an IPv4 loopback address (127.0.0.0/8)");
		g.dst.sin_family = AF_INET;
		g.dst.sin_addr = a;
		g.dst.sin_port = htons((uint16_t)o.port);
		g.dst2 = g.dst;
		g.dst2.sin_port = htons((uint16_t)(o.port2 > 0 ? o.port2 : o.port));
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	g.rng = now_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ull;
	g.n = o.rooms * o.members;
	g.c = calloc((size_t)g.n, sizeof *g.c);
	g.next_seq = calloc((size_t)o.rooms, sizeof *g.next_seq);
	g.sent_win = calloc((size_t)o.rooms, sizeof *g.sent_win);
	g.step_seq0 = calloc((size_t)o.rooms, sizeof *g.step_seq0);
	g.due = calloc((size_t)o.rooms, sizeof *g.due);
	if (!g.c || !g.next_seq || !g.sent_win || !g.step_seq0 || !g.due)
		die("out of memory");
	for (int i = 0; i < g.n; i++)
		g.c[i].fd = -1;
	hist_init(&g.h_lat);
	hist_init(&g.h_lag);
	hist_init(&g.h_connect);
	g.ep = epoll_create1(EPOLL_CLOEXEC);
	if (g.ep < 0)
		die("epoll_create1: %s", strerror(errno));
	struct rlimit rl;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY && (rlim_t)g.n + 16 > rl.rlim_cur)
		fprintf(stderr, "loadgen: warning: %d sockets but the fd limit is %lu\n", g.n,
			(unsigned long)rl.rlim_cur);
	(void)mode_names;
	int rc;
	if (o.mode == M_CONNECT)
		rc = run_connect();
	else if (o.mode == M_STORM)
		rc = run_storm();
	else
		rc = run_load();
	return rc;
}
