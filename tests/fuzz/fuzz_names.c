/* libFuzzer target: UTF-8 decoding, nickname normalisation and folding,
 * room-name validation (src/names.c). */
#include <stdint.h>
#include <string.h>

#include "names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[NICK_MAX_BYTES + 1], key[NICK_MAX_BYTES * 2 + 1], key2[NICK_MAX_BYTES * 2 + 1];
	const char *in = (const char *)data;
	room_name_valid(in, size);
	int valid = utf8_valid(in, size);
	if (!nick_normalize(in, size, out, sizeof out)) {
		if (!valid || !utf8_valid(out, strlen(out)))
			__builtin_trap(); /* only valid UTF-8 becomes a name */
		nick_fold(out, key, sizeof key);
		if (!utf8_valid(key, strlen(key)))
			__builtin_trap();
		nick_fold(key, key2, sizeof key2);
		if (strcmp(key, key2))
			__builtin_trap(); /* folding is idempotent */
	}
	return 0;
}
