# plugins/typing: see plugins/typing/typing.c and docs/plugins/typing.md
plugin_PROGRAMS += plugins/typing/typing.so
plugins_typing_typing_so_SOURCES = plugins/typing/typing.c
plugins_typing_typing_so_CFLAGS = $(PLUGIN_CFLAGS)
plugins_typing_typing_so_LDFLAGS = $(PLUGIN_LINKFLAGS)

CHECK_SUITES += tests/check_typing
tests_check_typing_SOURCES = tests/check_typing.c
tests_check_typing_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_typing_LDADD = $(CHECK_LDADD)

TESTS += tests/integration/test_typing.py
