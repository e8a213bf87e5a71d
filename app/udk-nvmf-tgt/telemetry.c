/* SPDX-License-Identifier: BSD-3-Clause */
/* telemetry.c - the target's telemetry command "nvmf" (doc/nvmf.md,
 * "Telemetry"): connections, and per subsystem its controllers, queues,
 * commands, I/O and bytes.  The provider runs on the telemetry thread and
 * reads only what does not change after start (the subsystems' NQNs) and
 * counters the poll thread keeps with udk_counter_add(). */
#include "nvmf.h"
#include "udk_telemetry.h"

static int nvmf_cmd(struct udk_json *j, void *arg)
{
	const struct nvmf_tgt *t = arg;
	uint64_t opened = udk_counter_read(&t->stats.conns_total);
	uint64_t closed = udk_counter_read(&t->stats.conns_closed);

	udk_json_obj_open(j, NULL);
	udk_json_u64(j, "connections", opened - closed);
	udk_json_u64(j, "connections_total", opened);
	udk_json_arr_open(j, "subsystems");
	for (unsigned int i = 0; i < t->nsubsys; i++) {
		const struct nvmf_subsys *ss = &t->subsys[i];
		const struct nvmf_subsys_stats *s = &ss->stats;

		udk_json_obj_open(j, NULL);
		udk_json_str(j, "nqn", ss->nqn);
		udk_json_bool(j, "discovery", ss->discovery);
		udk_json_u64(j, "controllers", udk_counter_read(&s->controllers));
		udk_json_u64(j, "queues", udk_counter_read(&s->queues));
		udk_json_u64(j, "connects", udk_counter_read(&s->connects));
		udk_json_u64(j, "commands", udk_counter_read(&s->commands));
		udk_json_u64(j, "errors", udk_counter_read(&s->errors));
		udk_json_u64(j, "ios", udk_counter_read(&s->ios));
		udk_json_u64(j, "reads", udk_counter_read(&s->reads));
		udk_json_u64(j, "writes", udk_counter_read(&s->writes));
		udk_json_u64(j, "bytes_read", udk_counter_read(&s->bytes_read));
		udk_json_u64(j, "bytes_written", udk_counter_read(&s->bytes_written));
		udk_json_obj_close(j);
	}
	udk_json_arr_close(j);
	udk_json_obj_close(j);
	return 0;
}

int nvmf_telemetry_register(struct nvmf_tgt *t)
{
	return udk_telemetry_register("nvmf", "NVMe/TCP target: connections, per subsystem its "
				      "controllers, queues, commands, I/O and bytes", nvmf_cmd, t);
}

void nvmf_telemetry_unregister(void)
{
	udk_telemetry_unregister("nvmf");
}
