plugin_PROGRAMS += plugins/me/me.so
plugins_me_me_so_SOURCES = plugins/me/me.c
plugins_me_me_so_CFLAGS = $(PLUGIN_CFLAGS)
plugins_me_me_so_LDFLAGS = $(PLUGIN_LINKFLAGS)
