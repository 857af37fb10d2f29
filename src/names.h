/* Validation of nicknames and room names, and the folding that makes
 * nicknames compare case-insensitively (and resist look-alike spoofing). */
#ifndef CHATD_NAMES_H
#define CHATD_NAMES_H

#include <stddef.h>

#define NICK_MAX_CHARS 32
#define NICK_MAX_BYTES (NICK_MAX_CHARS * 4)
#define ROOM_MAX_BYTES 64

/* 1 when s[0..len) is a valid room name: 1-64 bytes of [A-Za-z0-9._-]. */
int room_name_valid(const char *s, size_t len);

/* The canonical form of a valid room name s[0..len): lower case. Room names
 * compare case-insensitively (`Lounge` is `lounge`). Writes a NUL-terminated
 * copy to out (at least ROOM_MAX_BYTES + 1 bytes; longer input is cut). */
void room_name_fold(const char *s, size_t len, char *out);

/*
 * Normalise a requested nickname: trims surrounding white space, then
 * requires 1-32 code points of valid UTF-8 with no control, format
 * (zero-width, bidi) or white space other than a plain space.
 * Writes the NUL-terminated result to out (at least NICK_MAX_BYTES + 1).
 * Returns NULL on success, else a static human-readable reason.
 */
const char *nick_normalize(const char *in, size_t len, char *out, size_t outsz);

/*
 * The uniqueness key of a valid nickname: lower case (ASCII and Latin-1),
 * with common Cyrillic/Greek look-alikes mapped to their Latin letter.
 * Writes a NUL-terminated key to out (at least NICK_MAX_BYTES + 1).
 */
void nick_fold(const char *name, char *out, size_t outsz);

/* Decode one UTF-8 code point at s (len bytes left); returns bytes used, 0 if invalid. */
size_t utf8_decode(const unsigned char *s, size_t len, unsigned *cp);

/* 1 when s[0..len) is valid UTF-8. */
int utf8_valid(const char *s, size_t len);

#endif
