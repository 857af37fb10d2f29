# plugins/origin: see plugins/origin/origin.c and docs/plugins/origin.md
plugin_PROGRAMS += plugins/origin/origin.so
plugins_origin_origin_so_SOURCES = plugins/origin/origin.c
plugins_origin_origin_so_CFLAGS = $(PLUGIN_CFLAGS)
plugins_origin_origin_so_LDFLAGS = $(PLUGIN_LINKFLAGS)

CHECK_SUITES += tests/check_origin
tests_check_origin_SOURCES = tests/check_origin.c
tests_check_origin_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_origin_LDADD = $(CHECK_LDADD)

TESTS += tests/integration/test_origin.py
