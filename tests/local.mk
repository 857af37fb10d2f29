# Tests. How to register one (a single line: `make check` runs it, `make dist` ships it):
#   TESTS += tests/integration/test_foo.py   Python (standard library only), run through
#                                            tests/pyrun.py
#   TESTS += tests/e2e/foo.test.mjs          a browser test file, run through tests/e2e/run.sh
#                                            (TAP: each test in it is counted, a skip is SKIP)
#   TESTS += tests/foo.sh                    any other executable script
#   CHECK_SUITES += tests/check_foo          a Check suite (C), with tests_check_foo_SOURCES,
#                                            _CFLAGS = $(CHECK_CFLAGS_ALL), _LDADD = $(CHECK_LDADD)
# A file that tests import or read but that is no test itself: TEST_HELPERS += path.
# Plugins register theirs in plugins/NAME/local.mk the same way.
# - Every script in TESTS and every TEST_HELPERS file is in EXTRA_DIST (never list them twice).
# - `make check` fails when a tests/integration/test_*.py or tests/e2e/*.test.mjs is in
#   neither list (check-registered), and `make distcheck` runs the suite from the tarball.
# - Exit status: 0 pass, 77 skip (print why), 99 hard error, anything else fail. A file in
#   which no test ran fails. A test that needs a file from outside this repository takes its
#   path from an environment variable (SEED_CHAT_HTML: the tutorial's chat.html) and exits 77
#   with the reason when it is not set; .ci/run sets it when the file exists.
# - Check is optional at configure time: without it the suites are not built and
#   `make check` fails at its end saying to install it.
TEST_EXTENSIONS = .py .mjs
PY_LOG_COMPILER = /usr/bin/python3
AM_PY_LOG_FLAGS = $(srcdir)/tests/pyrun.py
MJS_LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
MJS_LOG_COMPILER = $(SHELL) $(srcdir)/tests/e2e/run.sh
AM_TESTS_ENVIRONMENT = \
	CHATD=$${CHATD:-$(abs_top_builddir)/chatd}; export CHATD; \
	TOP_SRCDIR=$(abs_top_srcdir); export TOP_SRCDIR; \
	TOP_BUILDDIR=$(abs_top_builddir); export TOP_BUILDDIR; \
	PYTHONDONTWRITEBYTECODE=1; export PYTHONDONTWRITEBYTECODE; \
	CK_DEFAULT_TIMEOUT=30; export CK_DEFAULT_TIMEOUT;
TEST_HELPERS += tests/pyrun.py tests/sanitize.sh tests/valgrind-chatd tests/lsan.supp

# libtestcore.a: the test core, and the helpers every suite shares (checkutil).
tests_libtestcore_a_SOURCES = tests/testcore.c tests/testcore.h tests/checkutil.c tests/checkutil.h
tests_libtestcore_a_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CHECK_CFLAGS)

CHECK_LDADD = tests/libtestcore.a $(CORE_LIBS) $(CHECK_LIBS)
CHECK_CFLAGS_ALL = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CHECK_CFLAGS) $(LWS_CFLAGS)

CHECK_SUITES += tests/check_config tests/check_names tests/check_hooks tests/check_sendq \
	tests/check_chat tests/check_plugins tests/check_rooms tests/check_proxy tests/check_sdk tests/check_people \
	tests/check_nodes_abi

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
tests_check_people_SOURCES = tests/check_people.c
tests_check_people_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_people_LDADD = $(CHECK_LDADD)
tests_check_rooms_SOURCES = tests/check_rooms.c
tests_check_rooms_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_rooms_LDADD = $(CHECK_LDADD)
tests_check_nodes_abi_SOURCES = tests/check_nodes_abi.c
tests_check_nodes_abi_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_nodes_abi_LDADD = $(CHECK_LDADD)
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
TEST_PLUGINS = tests/plugins/probe.so tests/plugins/bad_abi.so tests/plugins/no_init.so tests/plugins/nodeprobe.so
tests_plugins_probe_so_SOURCES = tests/plugins/probe.c
tests_plugins_probe_so_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_probe_so_LDFLAGS = $(PLUGIN_LINKFLAGS)
tests_plugins_nodeprobe_so_SOURCES = tests/plugins/nodeprobe.c
tests_plugins_nodeprobe_so_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_nodeprobe_so_LDFLAGS = $(PLUGIN_LINKFLAGS)
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
	tests/plugins/sdkapi.so tests/plugins/sdkconsumer.so \
	tests/plugins/hello_oldabi.so tests/plugins/probe_oldabi.so
check_PROGRAMS += $(SDK_TEST_PLUGINS)
OLDABI_CPPFLAGS = -I$(srcdir)/tests/sdk/abi1-d964eb2
# (the old header does not declare the entry points: no -Wmissing-prototypes)
OLDABI_CFLAGS = $(AM_CFLAGS) -fPIC -fvisibility=hidden
tests_plugins_sdkprobe_so_SOURCES = tests/plugins/sdkprobe.c
tests_plugins_sdkprobe_so_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_sdkprobe_so_LDFLAGS = $(PLUGIN_LINKFLAGS)
tests_plugins_sdkapi_so_SOURCES = tests/plugins/sdkapi.c
tests_plugins_sdkapi_so_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_sdkapi_so_LDFLAGS = $(PLUGIN_LINKFLAGS) -pthread
tests_plugins_sdkconsumer_so_SOURCES = tests/plugins/sdkconsumer.c
tests_plugins_sdkconsumer_so_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_sdkconsumer_so_LDFLAGS = $(PLUGIN_LINKFLAGS)
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

# Browser end-to-end tests (Debian chromium driven by playwright-core from npm), one
# registered file each.
TESTS += \
	tests/e2e/chat.test.mjs \
	tests/e2e/cluster.test.mjs \
	tests/e2e/modules.test.mjs \
	tests/e2e/people.test.mjs \
	tests/e2e/plugins.test.mjs \
	tests/e2e/readsync.test.mjs \
	tests/e2e/reconnect.test.mjs \
	tests/e2e/rich.test.mjs \
	tests/e2e/rooms.test.mjs \
	tests/e2e/screenshot.test.mjs \
	tests/e2e/sdk.test.mjs \
	tests/e2e/search.test.mjs \
	tests/e2e/security.test.mjs \
	tests/e2e/tutorial.test.mjs \
	tests/e2e/unread.test.mjs
TEST_HELPERS += tests/e2e/run.sh tests/e2e/tap-reporter.mjs tests/e2e/helpers.mjs \
	tests/e2e/package.json tests/e2e/package-lock.json

if HAVE_CHECK
check_LIBRARIES = tests/libtestcore.a
check_PROGRAMS += $(CHECK_SUITES) $(TEST_PLUGINS)
TESTS += $(CHECK_SUITES)
check-have-check:
else
check-have-check:
	@echo "make check: the Check unit test library (https://libcheck.github.io/check/) was not" >&2; \
	echo "  found by ./configure, so the unit suites ($(CHECK_SUITES)) were not built." >&2; \
	echo "  Install it (apt-get install check libsubunit-dev, or scripts/install-deps test)," >&2; \
	echo "  then run ./configure and make check again." >&2; \
	exit 1
endif

# Every script test and helper ships; a test file on disk that is registered nowhere fails
# `make check` (skipped when TESTS is given on the command line, e.g. TESTS='one.py').
EXTRA_DIST += $(filter-out $(CHECK_SUITES) $(check_PROGRAMS),$(TESTS)) $(TEST_HELPERS)
check-registered:
	@test "$(origin TESTS)" != "command line" || exit 0; \
	missing=; cd $(srcdir) && for f in tests/integration/test_*.py tests/e2e/*.test.mjs; do \
	  case " $(TESTS) $(TEST_HELPERS) " in *" $$f "*) ;; *) missing="$$missing $$f" ;; esac; \
	done; \
	test -z "$$missing" || { echo "make check: not registered in any local.mk:$$missing" >&2; \
	  echo "  add TESTS += FILE (or TEST_HELPERS += FILE), see the top of tests/local.mk" >&2; exit 1; }
check-local: check-registered check-have-check
.PHONY: check-registered check-have-check

# The npm installs of the browser tests and of tests/clients live in the build tree; a VPATH
# build's copies go with distclean.
CLEANFILES += tests/e2e/.e2e.lock
distclean-local: distclean-e2e
distclean-e2e:
	test "$(srcdir)" = . || rm -rf tests/e2e/node_modules tests/e2e/package.json tests/e2e/package-lock.json \
	  tests/clients/node_modules tests/clients/package.json tests/clients/package-lock.json tests/clients/refusal.mjs
.PHONY: distclean-e2e
