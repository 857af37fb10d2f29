# plugins/cluster: many nodes on Redis; see plugins/cluster/cluster.c,
# docs/scaling.md and docs/plugins/cluster.md. Built only when configure
# found hiredis.
if HAVE_HIREDIS
plugin_PROGRAMS += plugins/cluster/cluster.so
plugins_cluster_cluster_so_SOURCES = plugins/cluster/cluster.c plugins/cluster/cluster.h \
	plugins/cluster/options.c plugins/cluster/options.h \
	plugins/cluster/redis.c plugins/cluster/redis.h \
	plugins/cluster/node.c \
	plugins/cluster/proto.c plugins/cluster/proto.h \
	plugins/cluster/strvec.c plugins/cluster/strvec.h \
	plugins/cluster/croom.c plugins/cluster/croom.h \
	plugins/cluster/send.c plugins/cluster/send.h \
	plugins/cluster/people.c plugins/cluster/people.h \
	plugins/cluster/hist.c plugins/cluster/hist.h \
	plugins/cluster/dm.c plugins/cluster/dm.h \
	plugins/cluster/rooms.c plugins/cluster/rooms.h \
	src/strmap.c src/strmap.h
nodist_plugins_cluster_cluster_so_SOURCES = plugins/cluster/functions.h
plugins_cluster_cluster_so_CFLAGS = $(PLUGIN_CFLAGS) $(HIREDIS_CFLAGS) -I$(builddir)/plugins/cluster -I$(srcdir)/src
plugins_cluster_cluster_so_LDFLAGS = $(PLUGIN_LINKFLAGS)
plugins_cluster_cluster_so_LDADD = $(HIREDIS_LIBS) $(EV_LIBS)
BUILT_SOURCES += plugins/cluster/functions.h
CLEANFILES += plugins/cluster/functions.h
endif

# The Lua library as a C string literal (one line per line, escaped).
plugins/cluster/functions.h: $(srcdir)/plugins/cluster/functions.lua
	$(AM_V_GEN)$(MKDIR_P) plugins/cluster && \
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $(srcdir)/plugins/cluster/functions.lua > $@.tmp && \
	mv $@.tmp $@

EXTRA_DIST += plugins/cluster/functions.lua

# Against a redis-server each test starts itself (skipped, 77, without
# redis-server or without the plugin): the footing, items 1-5, items 6-9.
TEST_HELPERS += tests/integration/clustertest.py
TESTS += tests/integration/test_cluster_infra.py
TESTS += tests/integration/test_cluster.py
TESTS += tests/integration/test_cluster_faults.py
