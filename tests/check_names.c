/* Unit tests: room names, nicknames, folding, UTF-8 (src/names.c). */
#include <check.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "checkutil.h"
#include "names.h"

static const char *norm(const char *in, char *out)
{
	return nick_normalize(in, strlen(in), out, NICK_MAX_BYTES + 1);
}

static const char *fold(const char *in)
{
	static char out[NICK_MAX_BYTES * 2 + 1];
	nick_fold(in, out, sizeof out);
	return out;
}

START_TEST(room_names)
{
	ck_assert(room_name_valid("general", 7));
	ck_assert(room_name_valid("a.b_c-D9", 8));
	ck_assert(!room_name_valid("", 0));
	ck_assert(!room_name_valid("has space", 9));
	ck_assert(!room_name_valid("a/b", 3));
	ck_assert(!room_name_valid("caf\xc3\xa9", 5));
	char long_name[66];
	memset(long_name, 'x', 65);
	long_name[65] = 0;
	ck_assert(room_name_valid(long_name, 64));
	ck_assert(!room_name_valid(long_name, 65));
}
END_TEST

START_TEST(nick_trim_and_limits)
{
	char out[NICK_MAX_BYTES + 1];
	ck_assert_ptr_null(norm("  Alice \t", out));
	ck_assert_str_eq(out, "Alice");
	ck_assert_ptr_nonnull(norm("   ", out));
	ck_assert_ptr_nonnull(norm("", out));
	ck_assert_ptr_null(norm("abcdefghijabcdefghijabcdefghijab", out)); /* 32 */
	ck_assert_ptr_nonnull(norm("abcdefghijabcdefghijabcdefghijabc", out)); /* 33 */
	/* 32 two-byte characters are 32 characters */
	char wide[65] = "";
	for (int i = 0; i < 32; i++)
		strcat(wide, "\xc3\xa9");
	ck_assert_ptr_null(norm(wide, out));
	ck_assert_ptr_null(norm("J\xc3\xbcrgen \xf0\x9f\x98\x80", out)); /* umlaut, emoji */
	ck_assert_ptr_null(norm("Ann Lee", out));
}
END_TEST

START_TEST(nick_rejects_invisible_and_controls)
{
	char out[NICK_MAX_BYTES + 1];
	ck_assert_ptr_nonnull(norm("Al\x01ice", out));
	ck_assert_ptr_nonnull(norm("Al\nice", out));
	ck_assert_ptr_nonnull(norm("Al\xe2\x80\x8bice", out));      /* zero-width space */
	ck_assert_ptr_nonnull(norm("Al\xe2\x80\xaeice", out));      /* right-to-left override */
	ck_assert_ptr_nonnull(norm("Al\xe2\x81\xa6ice", out));      /* left-to-right isolate */
	ck_assert_ptr_nonnull(norm("Al\xef\xbb\xbfice", out));      /* BOM */
	ck_assert_ptr_nonnull(norm("Al\xc2\xa0ice", out));          /* no-break space */
	ck_assert_ptr_nonnull(norm("Al\xc0\xafice", out));          /* overlong */
}
END_TEST

START_TEST(nick_folding)
{
	ck_assert_str_eq(fold("Alice"), "alice");
	ck_assert_str_eq(fold("ALICE"), fold("alice"));
	ck_assert_str_eq(fold("\xd0\x90lice"), "alice");      /* Cyrillic capital A */
	ck_assert_str_eq(fold("B\xd0\xbe\xd0\xb2"), "bob");     /* Cyrillic o and v-looking b */
	ck_assert_str_eq(fold("\xef\xbc\xa1lice"), "alice");   /* fullwidth A */
	ck_assert_str_eq(fold("J\xc3\x9crgen"), fold("j\xc3\xbcrgen"));
	char one[NICK_MAX_BYTES * 2 + 1];
	snprintf(one, sizeof one, "%s", fold("alice"));
	ck_assert_str_ne(one, fold("alicf"));
}
END_TEST

START_TEST(utf8_edges)
{
	ck_assert(utf8_valid("\xf4\x8f\xbf\xbf", 4));   /* U+10FFFF */
	ck_assert(!utf8_valid("\xf4\x90\x80\x80", 4));  /* above U+10FFFF */
	ck_assert(!utf8_valid("\xed\xa0\x80", 3));      /* surrogate */
	ck_assert(!utf8_valid("\xc0\x80", 2));          /* overlong NUL */
	ck_assert(!utf8_valid("\xe2\x82", 2));          /* truncated */
	ck_assert(utf8_valid("plain", 5));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("names");
	TCase *tc = tcase_create("names");
	tcase_add_test(tc, room_names);
	tcase_add_test(tc, nick_trim_and_limits);
	tcase_add_test(tc, nick_rejects_invisible_and_controls);
	tcase_add_test(tc, nick_folding);
	tcase_add_test(tc, utf8_edges);
	suite_add_tcase(s, tc);
	return checkutil_run(s);
}
