# plugins/history: see plugins/history/history.c and docs/plugins/history.md
plugin_PROGRAMS += plugins/history/history.so
plugins_history_history_so_SOURCES = plugins/history/history.c plugins/history/store.c plugins/history/store.h \
	plugins/history/personal.c plugins/history/personal.h \
	plugins/history/checkpointer.c plugins/history/checkpointer.h
plugins_history_history_so_CFLAGS = $(PLUGIN_CFLAGS) $(SQLITE_CFLAGS) -pthread
plugins_history_history_so_LDFLAGS = $(PLUGIN_LINKFLAGS) -pthread
plugins_history_history_so_LDADD = $(SQLITE_LIBS)

CHECK_SUITES += tests/check_history
tests_check_history_SOURCES = tests/check_history.c
tests_check_history_CFLAGS = $(CHECK_CFLAGS_ALL) $(SQLITE_CFLAGS)
tests_check_history_LDADD = $(CHECK_LDADD) $(SQLITE_LIBS)
CHECK_SUITES += tests/check_personal
tests_check_personal_SOURCES = tests/check_personal.c
tests_check_personal_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_personal_LDADD = $(CHECK_LDADD)

TESTS += tests/integration/test_history.py
