# Tests: Check unit suites (tests/check_*.c, built on the real core with a
# fake transport: tests/testcore.c) and integration tests against a running
# chatd (tests/integration/*.py, /usr/bin/python3, standard library only).
TEST_EXTENSIONS = .py
PY_LOG_COMPILER = /usr/bin/python3
AM_TESTS_ENVIRONMENT = \
	CHATD=$${CHATD:-$(abs_top_builddir)/chatd}; export CHATD; \
	TOP_SRCDIR=$(abs_top_srcdir); export TOP_SRCDIR; \
	TOP_BUILDDIR=$(abs_top_builddir); export TOP_BUILDDIR; \
	PYTHONDONTWRITEBYTECODE=1; export PYTHONDONTWRITEBYTECODE; \
	CK_DEFAULT_TIMEOUT=30; export CK_DEFAULT_TIMEOUT;

# libtestcore.a: the test core, and the helpers every suite shares (checkutil).
noinst_LIBRARIES += tests/libtestcore.a
tests_libtestcore_a_SOURCES = tests/testcore.c tests/testcore.h tests/checkutil.c tests/checkutil.h
tests_libtestcore_a_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CHECK_CFLAGS)

CHECK_LDADD = tests/libtestcore.a $(CORE_LIBS) $(CHECK_LIBS)
CHECK_CFLAGS_ALL = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CHECK_CFLAGS) $(LWS_CFLAGS)

CORE_CHECKS = tests/check_config tests/check_names tests/check_hooks tests/check_sendq \
	tests/check_chat tests/check_plugins tests/check_rooms tests/check_proxy tests/check_sdk
check_PROGRAMS += $(CORE_CHECKS)
TESTS += $(CORE_CHECKS)

tests_check_config_SOURCES = tests/check_config.c
tests_check_config_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_config_LDADD = $(CHECK_LDADD)
tests_check_names_SOURCES = tests/check_names.c
tests_check_names_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_names_LDADD = $(CHECK_LDADD)
tests_check_hooks_SOURCES = tests/check_hooks.c
tests_check_hooks_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_hooks_LDADD = $(CHECK_LDADD)
tests_check_sendq_SOURCES = tests/check_sendq.c
tests_check_sendq_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_sendq_LDADD = $(CHECK_LDADD)
tests_check_chat_SOURCES = tests/check_chat.c
tests_check_chat_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_chat_LDADD = $(CHECK_LDADD)
tests_check_rooms_SOURCES = tests/check_rooms.c
tests_check_rooms_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_rooms_LDADD = $(CHECK_LDADD)
tests_check_plugins_SOURCES = tests/check_plugins.c
tests_check_plugins_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_plugins_LDADD = $(CHECK_LDADD)
tests_check_proxy_SOURCES = tests/check_proxy.c
tests_check_proxy_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_proxy_LDADD = $(CHECK_LDADD)
tests_check_sdk_SOURCES = tests/check_sdk.c
tests_check_sdk_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_sdk_LDADD = $(CHECK_LDADD)

# Deliberately good and broken plugins for the loader tests (never installed).
TEST_PLUGINS = tests/plugins/probe.so tests/plugins/bad_abi.so tests/plugins/no_init.so
check_PROGRAMS += $(TEST_PLUGINS)
tests_plugins_probe_so_SOURCES = tests/plugins/probe.c
tests_plugins_probe_so_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_probe_so_LDFLAGS = $(PLUGIN_LINKFLAGS)
tests_plugins_bad_abi_so_SOURCES = tests/plugins/bad_abi.c
tests_plugins_bad_abi_so_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_bad_abi_so_LDFLAGS = $(PLUGIN_LINKFLAGS)
tests_plugins_no_init_so_SOURCES = tests/plugins/no_init.c
tests_plugins_no_init_so_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_no_init_so_LDFLAGS = $(PLUGIN_LINKFLAGS)

# The SDK's test plugins (tests/check_sdk.c). *_oldabi.so are built against
# the header of ABI 1 as first released (tests/sdk/abi1-d964eb2, a copy of
# include/chatd/plugin.h at commit d964eb2): they must keep working.
SDK_TEST_PLUGINS = tests/plugins/sdkprobe.so tests/plugins/built_abi7.so tests/plugins/refuses.so \
	tests/plugins/hello_oldabi.so tests/plugins/probe_oldabi.so
check_PROGRAMS += $(SDK_TEST_PLUGINS)
OLDABI_CPPFLAGS = -I$(srcdir)/tests/sdk/abi1-d964eb2
# (the old header does not declare the entry points: no -Wmissing-prototypes)
OLDABI_CFLAGS = $(AM_CFLAGS) -fPIC -fvisibility=hidden
tests_plugins_sdkprobe_so_SOURCES = tests/plugins/sdkprobe.c
tests_plugins_sdkprobe_so_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_sdkprobe_so_LDFLAGS = $(PLUGIN_LINKFLAGS)
tests_plugins_built_abi7_so_SOURCES = tests/plugins/built_abi7.c
tests_plugins_built_abi7_so_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_built_abi7_so_LDFLAGS = $(PLUGIN_LINKFLAGS)
tests_plugins_refuses_so_SOURCES = tests/plugins/refuses.c
tests_plugins_refuses_so_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_refuses_so_LDFLAGS = $(PLUGIN_LINKFLAGS)
tests_plugins_hello_oldabi_so_SOURCES = examples/hello/hello.c
tests_plugins_hello_oldabi_so_CPPFLAGS = $(OLDABI_CPPFLAGS)
tests_plugins_hello_oldabi_so_CFLAGS = $(OLDABI_CFLAGS)
tests_plugins_hello_oldabi_so_LDFLAGS = $(PLUGIN_LINKFLAGS)
tests_plugins_probe_oldabi_so_SOURCES = tests/sdk/abi1-d964eb2/probe.c
tests_plugins_probe_oldabi_so_CPPFLAGS = $(OLDABI_CPPFLAGS)
tests_plugins_probe_oldabi_so_CFLAGS = $(OLDABI_CFLAGS)
tests_plugins_probe_oldabi_so_LDFLAGS = $(PLUGIN_LINKFLAGS)
EXTRA_DIST += tests/sdk/abi1-d964eb2/chatd/plugin.h

include tests/integration/local.mk

# Browser end-to-end tests (Debian chromium driven by playwright-core from npm).
TESTS += tests/e2e/run.sh
EXTRA_DIST += tests/e2e/run.sh tests/e2e/package.json tests/e2e/package-lock.json
