/* The [plugin cluster] options (see docs/plugins/cluster.md). */
#ifndef CLUSTER_OPTIONS_H
#define CLUSTER_OPTIONS_H

#include <chatd/plugin.h>
#include <stdint.h>

#define CLUSTER_PREFIX_MAX 32
#define CLUSTER_NODE_NAME_MAX 48

struct cluster_options {
	char host[256];            /* redis = HOST:PORT */
	int port;
	char unix_path[256];       /* redis = unix:PATH ("" when TCP) */
	char prefix[CLUSTER_PREFIX_MAX + 1];      /* prefix of every key and channel */
	char node_name[CLUSTER_NODE_NAME_MAX + 1]; /* for people reading logs and Redis */
	int allow_no_persistence;
	int64_t request_timeout_ms;
	int64_t heartbeat_ms;      /* beat period; the logical clock ticks at this rate */
	int64_t lease_beats;       /* ticks without a beat before a node is fenced */
	int64_t retention;         /* messages kept per room (at least; XADD MAXLEN ~) */
	int64_t replay;            /* messages replayed on a plain join */
	int64_t max_replay;        /* at most on a ?since= join */
	int64_t max_requests;      /* Redis requests in flight */
	int64_t max_request_bytes; /* and their bytes */
	int64_t address_rate;      /* messages per second per address, cluster-wide (0: off) */
	int64_t address_burst;
};

/* Defaults, then every option; 0, or -1 after api->option_error. */
int cluster_options_parse(chatd_plugin *self, const struct chatd_api *api, const struct chatd_option *opts,
			  int nopts, struct cluster_options *out);

#endif
