/* Test plugin: its own version function refuses every ABI and it exports
 * no chatd_plugin_built_abi. */
#include <chatd/plugin.h>

int chatd_plugin_version(int count, const int *supported)
{
	(void)count, (void)supported;
	return -1;
}

int chatd_plugin_init(chatd_plugin *self, const struct chatd_api *api, const struct chatd_option *opts, int nopts,
		      void **userdata)
{
	(void)self, (void)api, (void)opts, (void)nopts, (void)userdata;
	return 0;
}
