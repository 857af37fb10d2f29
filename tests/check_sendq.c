/* Unit tests: refcounted buffers and the bounded send queue (src/sendq.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "chatd/plugin.h"
#include "checkutil.h"
#include "sendq.h"

static struct outbuf *buf_of(size_t len)
{
	char *p = malloc(len);
	memset(p, 'x', len);
	struct outbuf *b = outbuf_new(p, len);
	free(p);
	return b;
}

START_TEST(fifo_and_refcounts)
{
	struct sendq q;
	sendq_init(&q);
	struct outbuf *a = buf_of(10), *b = buf_of(20);
	ck_assert_int_eq(sendq_push(&q, a, CHATD_SEND_NORMAL, 1000, 2000), SENDQ_QUEUED);
	ck_assert_int_eq(sendq_push(&q, b, CHATD_SEND_NORMAL, 1000, 2000), SENDQ_QUEUED);
	ck_assert_int_eq(sendq_push(&q, a, CHATD_SEND_NORMAL, 1000, 2000), SENDQ_QUEUED);
	ck_assert_uint_eq(a->refs, 3);
	ck_assert_uint_eq(q.bytes, 40);
	ck_assert_ptr_eq(sendq_peek(&q)->buf, a);
	sendq_pop(&q);
	ck_assert_ptr_eq(sendq_peek(&q)->buf, b);
	ck_assert_ptr_eq(sendq_at(&q, 1)->buf, a);
	ck_assert_ptr_null(sendq_at(&q, 2));
	sendq_clear(&q);
	ck_assert_uint_eq(a->refs, 1);
	ck_assert_uint_eq(b->refs, 1);
	outbuf_unref(a);
	outbuf_unref(b);
}
END_TEST

START_TEST(grows_past_initial_ring)
{
	struct sendq q;
	sendq_init(&q);
	struct outbuf *bufs[100];
	for (int i = 0; i < 100; i++) {
		bufs[i] = buf_of(1);
		ck_assert_int_eq(sendq_push(&q, bufs[i], 0, 1000, 2000), SENDQ_QUEUED);
	}
	for (int i = 0; i < 100; i++) {
		ck_assert_ptr_eq(sendq_peek(&q)->buf, bufs[i]);
		sendq_pop(&q);
		outbuf_unref(bufs[i]);
	}
	ck_assert_uint_eq(q.count, 0);
	sendq_clear(&q);
}
END_TEST

START_TEST(droppable_then_presence_then_overflow)
{
	struct sendq q;
	sendq_init(&q);
	struct outbuf *big = buf_of(100), *small = buf_of(10);
	/* soft 100, hard 300: presence limit is 200 */
	ck_assert_int_eq(sendq_push(&q, big, CHATD_SEND_NORMAL, 100, 300), SENDQ_QUEUED);        /* 100 */
	ck_assert_int_eq(sendq_push(&q, small, CHATD_SEND_DROPPABLE, 100, 300), SENDQ_DROPPED);  /* 110 > soft */
	ck_assert_int_eq(sendq_push(&q, small, CHATD_SEND_PRESENCE, 100, 300), SENDQ_QUEUED);    /* 110 */
	ck_assert_int_eq(sendq_push(&q, big, CHATD_SEND_NORMAL, 100, 300), SENDQ_QUEUED);        /* 210 */
	ck_assert_int_eq(sendq_push(&q, small, CHATD_SEND_PRESENCE, 100, 300), SENDQ_DROPPED);   /* 220 > 200 */
	ck_assert_int_eq(sendq_push(&q, big, CHATD_SEND_NORMAL, 100, 300), SENDQ_OVERFLOW);      /* 310 > hard */
	ck_assert_uint_eq(q.bytes, 210);
	ck_assert_uint_eq(q.count, 3);
	sendq_clear(&q);
	outbuf_unref(big);
	outbuf_unref(small);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sendq");
	TCase *tc = tcase_create("queue");
	tcase_add_test(tc, fifo_and_refcounts);
	tcase_add_test(tc, grows_past_initial_ring);
	tcase_add_test(tc, droppable_then_presence_then_overflow);
	suite_add_tcase(s, tc);
	return checkutil_run(s);
}
