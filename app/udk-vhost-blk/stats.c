/* SPDX-License-Identifier: BSD-3-Clause */
/* stats.c - udk-vhost-blk's counters for telemetry (doc/telemetry.md, the
 * "vhost_blk" command; udk-top's vhost-blk table).  The I/O thread bumps
 * them with udk_counter_add(); the telemetry thread reads them here and
 * nothing else of the device, so no lock is taken on either side. */
#include "udk_bdev.h"
#include "udk_telemetry.h"
#include "vhost_blk.h"

const char *const vb_type_names[VB_T_COUNT] = {
	[VB_T_IN] = "in", [VB_T_OUT] = "out", [VB_T_FLUSH] = "flush", [VB_T_GET_ID] = "get_id",
	[VB_T_DISCARD] = "discard", [VB_T_WRITE_ZEROES] = "write_zeroes",
	[VB_T_OTHER] = "unsupported",
};

void vb_stats_started(struct vb_dev *dev, uint32_t q, bool on)
{
	if (q < VU_MAX_QUEUES)
		__atomic_store_n(&dev->stats.queue_started[q], on ? 1 : 0, __ATOMIC_RELAXED);
}

int vb_stats_json(struct udk_json *j, void *arg)
{
	const struct vb_dev *dev = arg;
	const struct vb_stats *s = &dev->stats;
	struct udk_bdev_info info;
	uint64_t started = 0;

	/* dev->bdev, block_size and num_blocks are set once before the
	 * provider is registered. */
	udk_json_arr_open(j, NULL);
	udk_json_obj_open(j, NULL);
	udk_json_str(j, "name", udk_bdev_info(dev->bdev, &info) == 0 ? info.name : NULL);
	udk_json_u64(j, "block_size", dev->block_size);
	udk_json_u64(j, "num_blocks", dev->num_blocks);
	udk_json_bool(j, "connected", udk_counter_read(&s->connected) != 0);
	udk_json_u64(j, "connections", udk_counter_read(&s->connections));
	udk_json_u64(j, "requests", udk_counter_read(&s->requests));
	udk_json_obj_open(j, "ops");
	for (int t = 0; t < VB_T_COUNT; t++)
		udk_json_u64(j, vb_type_names[t], udk_counter_read(&s->by_type[t]));
	udk_json_obj_close(j);
	udk_json_u64(j, "bytes_read", udk_counter_read(&s->bytes_read));
	udk_json_u64(j, "bytes_written", udk_counter_read(&s->bytes_written));
	udk_json_u64(j, "errors", udk_counter_read(&s->errors));
	udk_json_u64(j, "bad_chains", udk_counter_read(&s->bad_chains));
	udk_json_u64(j, "in_flight", udk_counter_read(&s->in_flight));
	udk_json_u64(j, "resubmitted", udk_counter_read(&s->resubmitted));
	udk_json_arr_open(j, "queues");
	for (uint32_t q = 0; q < VU_MAX_QUEUES; q++) {
		uint64_t on = udk_counter_read(&s->queue_started[q]);
		uint64_t n = udk_counter_read(&s->queue_requests[q]);
		if (!on && !n)
			continue;
		started += on;
		udk_json_obj_open(j, NULL);
		udk_json_u64(j, "queue", q);
		udk_json_bool(j, "started", on);
		udk_json_u64(j, "requests", n);
		udk_json_obj_close(j);
	}
	udk_json_arr_close(j);
	udk_json_u64(j, "queues_started", started);
	udk_json_obj_close(j);
	udk_json_arr_close(j);
	return 0;
}
