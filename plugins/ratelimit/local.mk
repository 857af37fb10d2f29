# plugins/ratelimit: see plugins/ratelimit/ratelimit.c and docs/plugins/ratelimit.md
plugin_PROGRAMS += plugins/ratelimit/ratelimit.so
plugins_ratelimit_ratelimit_so_SOURCES = plugins/ratelimit/ratelimit.c
plugins_ratelimit_ratelimit_so_CFLAGS = $(PLUGIN_CFLAGS)
plugins_ratelimit_ratelimit_so_LDFLAGS = $(PLUGIN_LINKFLAGS)

CHECK_SUITES += tests/check_ratelimit
tests_check_ratelimit_SOURCES = tests/check_ratelimit.c
tests_check_ratelimit_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_ratelimit_LDADD = $(CHECK_LDADD)

TESTS += tests/integration/test_ratelimit.py
