/* Test plugin: built for a plugin ABI this chatd does not speak (7), with
 * CHATD_PLUGIN_DEFINE_VERSION: it refuses (-1) and says which ABI it wants. */
#include <chatd/plugin.h>

#undef CHATD_PLUGIN_ABI
#define CHATD_PLUGIN_ABI 7

CHATD_PLUGIN_DEFINE_VERSION();

int chatd_plugin_init(chatd_plugin *self, const struct chatd_api *api, const struct chatd_option *opts, int nopts,
		      void **userdata)
{
	(void)self, (void)api, (void)opts, (void)nopts, (void)userdata;
	return 0;
}
