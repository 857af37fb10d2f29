#include "names.h"

#include <string.h>

int room_name_valid(const char *s, size_t len)
{
	if (len < 1 || len > ROOM_MAX_BYTES)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

void room_name_fold(const char *s, size_t len, char *out)
{
	if (len > ROOM_MAX_BYTES)
		len = ROOM_MAX_BYTES;
	for (size_t i = 0; i < len; i++)
		out[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + 32) : s[i];
	out[len] = 0;
}

size_t utf8_decode(const unsigned char *s, size_t len, unsigned *cp)
{
	if (!len)
		return 0;
	unsigned c = s[0];
	size_t n;
	unsigned min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xe0) == 0xc0) {
		n = 2, min = 0x80, c &= 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3, min = 0x800, c &= 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4, min = 0x10000, c &= 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

int utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	while (len) {
		unsigned cp;
		size_t n = utf8_decode(p, len, &cp);
		if (!n)
			return 0;
		p += n;
		len -= n;
	}
	return 1;
}

/* Code points that never belong in a nickname: controls, invisible format
 * characters (zero-width, bidi overrides and isolates), odd spaces. */
static int nick_forbidden(unsigned cp)
{
	if (cp < 0x20 || (cp >= 0x7f && cp <= 0xa0))
		return 1;
	if (cp == 0xad || cp == 0x34f || cp == 0x61c || cp == 0x115f || cp == 0x1160 ||
	    cp == 0x17b4 || cp == 0x17b5 || cp == 0x180e || cp == 0x3164 || cp == 0xffa0)
		return 1;
	if (cp >= 0x2000 && cp <= 0x200f) /* spaces, zero-width, LRM/RLM */
		return 1;
	if (cp >= 0x2028 && cp <= 0x202f) /* separators, bidi embeddings */
		return 1;
	if (cp >= 0x205f && cp <= 0x206f) /* word joiner, bidi isolates */
		return 1;
	if (cp >= 0xfe00 && cp <= 0xfe0f) /* variation selectors */
		return 1;
	if (cp == 0xfeff || (cp >= 0xfff0 && cp <= 0xfffb) || cp == 0x3000)
		return 1;
	if (cp >= 0xe0000 && cp <= 0xe0fff) /* tags */
		return 1;
	if ((cp & 0xfffe) == 0xfffe) /* non-characters */
		return 1;
	return 0;
}

const char *nick_normalize(const char *in, size_t len, char *out, size_t outsz)
{
	while (len && (*in == ' ' || *in == '\t' || *in == '\n' || *in == '\r'))
		in++, len--;
	while (len && (in[len - 1] == ' ' || in[len - 1] == '\t' || in[len - 1] == '\n' ||
		       in[len - 1] == '\r'))
		len--;
	if (!len)
		return "name is empty";
	const unsigned char *p = (const unsigned char *)in;
	size_t left = len, chars = 0;
	while (left) {
		unsigned cp;
		size_t n = utf8_decode(p, left, &cp);
		if (!n)
			return "name is not valid UTF-8";
		if (nick_forbidden(cp))
			return "name contains control, invisible or formatting characters";
		if (++chars > NICK_MAX_CHARS)
			return "name is longer than 32 characters";
		p += n;
		left -= n;
	}
	if (len + 1 > outsz)
		return "name is too long";
	memcpy(out, in, len);
	out[len] = 0;
	return NULL;
}

/* Map a code point to its folded form: lower case, look-alikes to Latin. */
static unsigned nick_fold_cp(unsigned cp)
{
	if (cp >= 'A' && cp <= 'Z')
		return cp + 32;
	if ((cp >= 0xc0 && cp <= 0xde && cp != 0xd7))
		return cp + 32;
	/* Cyrillic capitals to small */
	if (cp >= 0x410 && cp <= 0x42f)
		cp += 32;
	else if (cp >= 0x400 && cp <= 0x40f)
		cp += 80;
	/* Greek capitals to small */
	else if (cp >= 0x391 && cp <= 0x3a9)
		cp += 32;
	static const struct { unsigned from, to; } lookalike[] = {
		{ 0x430, 'a' }, { 0x435, 'e' }, { 0x43e, 'o' }, { 0x440, 'p' }, { 0x441, 'c' },
		{ 0x443, 'y' }, { 0x445, 'x' }, { 0x456, 'i' }, { 0x458, 'j' }, { 0x455, 's' },
		{ 0x432, 'b' }, { 0x43a, 'k' }, { 0x43c, 'm' }, { 0x43d, 'h' }, { 0x442, 't' },
		{ 0x4bb, 'h' }, { 0x501, 'd' }, { 0x51b, 'q' }, { 0x51d, 'w' },
		{ 0x3b1, 'a' }, { 0x3b5, 'e' }, { 0x3b9, 'i' }, { 0x3ba, 'k' }, { 0x3bd, 'v' },
		{ 0x3bf, 'o' }, { 0x3c1, 'p' }, { 0x3c4, 't' }, { 0x3c5, 'u' }, { 0x3c7, 'x' },
		{ 0x3b2, 'b' }, { 0x3b7, 'n' }, { 0x3bc, 'u' }, { 0x3c9, 'w' },
		{ 0x131, 'i' }, { 0x237, 'j' }, { 0x261, 'g' },
	};
	for (size_t i = 0; i < sizeof lookalike / sizeof lookalike[0]; i++)
		if (lookalike[i].from == cp)
			return lookalike[i].to;
	/* Fullwidth ASCII to ASCII */
	if (cp >= 0xff01 && cp <= 0xff5e) {
		cp = cp - 0xff01 + 0x21;
		if (cp >= 'A' && cp <= 'Z')
			cp += 32;
	}
	return cp;
}

static size_t utf8_encode(unsigned cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	} else if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	} else if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

void nick_fold(const char *name, char *out, size_t outsz)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t left = strlen(name), o = 0;
	while (left) {
		unsigned cp;
		size_t n = utf8_decode(p, left, &cp);
		if (!n) { /* not reached for normalised names; copy the byte */
			cp = *p;
			n = 1;
		}
		char enc[4];
		size_t m = utf8_encode(nick_fold_cp(cp), enc);
		if (o + m + 1 > outsz)
			break;
		memcpy(out + o, enc, m);
		o += m;
		p += n;
		left -= n;
	}
	out[o] = 0;
}
