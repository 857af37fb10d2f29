/* Test plugin: exports a version function but no init. */
#include <chatd/plugin.h>

CHATD_PLUGIN_DEFINE_VERSION();
