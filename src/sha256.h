/* SHA-256 (FIPS 180-4), for hashing session keys: chatd keeps only the hash. */
#ifndef CHATD_SHA256_H
#define CHATD_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_BYTES 32

/* The SHA-256 digest of data[0..len) into out. */
void sha256(const void *data, size_t len, unsigned char out[SHA256_BYTES]);

#endif
