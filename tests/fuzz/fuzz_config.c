/* libFuzzer target: the config parser (src/config.c) on arbitrary text. */
#include <stdint.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chatd_config cfg;
	char err[1024];
	if (config_defaults(&cfg))
		return 0;
	if (config_parse(&cfg, "fuzz.conf", (const char *)data, size, "/base", err, sizeof err) == 0) {
		/* a config that parses must be self-consistent */
		if (cfg.send_queue_soft_bytes > cfg.send_queue_bytes || cfg.max_message_bytes > cfg.max_frame_bytes)
			__builtin_trap();
	} else if (strncmp(err, "fuzz.conf", 9)) {
		__builtin_trap(); /* every error names the file */
	}
	config_free(&cfg);
	return 0;
}
