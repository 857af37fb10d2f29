/* Test plugin: asks for an ABI the core does not speak. */
#include <chatd/plugin.h>

CHATD_EXPORT int chatd_plugin_version(int count, const int *supported)
{
	(void)count;
	(void)supported;
	return 999;
}

CHATD_EXPORT int chatd_plugin_init(chatd_plugin *self, const struct chatd_api *api,
				   const struct chatd_option *opts, int nopts, void **userdata)
{
	(void)self, (void)api, (void)opts, (void)nopts, (void)userdata;
	return 0;
}
