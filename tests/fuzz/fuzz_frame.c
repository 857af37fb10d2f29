/*
 * libFuzzer target: client frames into the real core (testcore, fake
 * transport). The input is split at 0xff bytes (never valid UTF-8) into
 * frames sent in turn by one of three clients in two rooms, so sequences
 * (nick, join, message, who, garbage) are explored, not just single frames.
 * Frames that are not valid UTF-8 are skipped: lws closes those with 1007
 * before the core sees them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "testcore.h"

static struct testcore *tc;
static struct chatd_client *clients[3];
static const char *const rooms[3] = { "one", "one", "two" };

static void ensure_clients(void)
{
	for (int i = 0; i < 3; i++) {
		if (clients[i] && (tc_close_code(clients[i]) || clients[i]->gone)) {
			tc_disconnect(tc, clients[i]);
			clients[i] = NULL;
		}
		if (!clients[i])
			clients[i] = tc_connect(tc, rooms[i], i == 0 ? "Alice" : i == 1 ? "bob" : NULL, NULL);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	tc = tc_new("[server]\nmax_message_bytes = 512\nmax_bad_frames = 50\n"
		    "big_room_members = 3\n[plugin me]\n");
	return tc ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t start = 0, turn = 0;
	ensure_clients();
	for (size_t i = 0; i <= size; i++) {
		if (i < size && data[i] != 0xff)
			continue;
		size_t len = i - start;
		if (utf8_valid((const char *)data + start, len)) {
			char *frame = malloc(len + 1);
			memcpy(frame, data + start, len);
			frame[len] = 0;
			struct chatd_client *c = clients[turn++ % 3];
			if (c && !c->closing)
				tc_send_len(tc, c, frame, len);
			free(frame);
		}
		start = i + 1;
	}
	for (int i = 0; i < 3; i++)
		if (clients[i])
			tc_drain(clients[i]);
	return 0;
}
