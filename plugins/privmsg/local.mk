# plugins/privmsg: see plugins/privmsg/privmsg.c and docs/plugins/privmsg.md
plugin_PROGRAMS += plugins/privmsg/privmsg.so
plugins_privmsg_privmsg_so_SOURCES = plugins/privmsg/privmsg.c
plugins_privmsg_privmsg_so_CFLAGS = $(PLUGIN_CFLAGS)
plugins_privmsg_privmsg_so_LDFLAGS = $(PLUGIN_LINKFLAGS)

CHECK_SUITES += tests/check_privmsg
tests_check_privmsg_SOURCES = tests/check_privmsg.c
tests_check_privmsg_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_privmsg_LDADD = $(CHECK_LDADD)

TESTS += tests/integration/test_privmsg.py
