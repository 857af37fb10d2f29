/* Test plugin: exports a version function but no init. */
#include <chatd/plugin.h>

CHATD_EXPORT int chatd_plugin_version(int count, const int *supported)
{
	(void)count;
	(void)supported;
	return CHATD_PLUGIN_ABI;
}
