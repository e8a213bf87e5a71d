/* SPDX-License-Identifier: BSD-3-Clause */
/* bdev_telemetry.c - the "bdevs" telemetry command (doc/telemetry.md): every
 * bdev with its geometry, state and counters summed over its channels, read
 * the way udk_bdev_stats() reads them. */
#include "bdev_internal.h"
#include "udk_telemetry.h"

static int one_bdev(struct udk_bdev *b, void *arg)
{
	struct udk_json *j = arg;
	struct udk_bdev_stats st;

	udk_bdev_stats(b, &st);
	udk_json_obj_open(j, NULL);
	udk_json_str(j, "name", b->name);
	udk_json_str(j, "backend", b->ops->name);
	udk_json_u64(j, "block_size", b->info.block_size);
	udk_json_u64(j, "num_blocks", b->info.num_blocks);
	udk_json_bool(j, "read_only", b->info.read_only);
	udk_json_bool(j, "removed", __atomic_load_n(&b->removed, __ATOMIC_RELAXED));
	udk_json_u64(j, "channels", st.channels);
	udk_json_obj_open(j, "ops");
	for (int t = 0; t < UDK_BDEV_IO_TYPE_COUNT; t++)
		udk_json_u64(j, udk_bdev_io_type_name(t), st.ops[t]);
	udk_json_obj_close(j);
	udk_json_u64(j, "bytes_read", st.bytes_read);
	udk_json_u64(j, "bytes_written", st.bytes_written);
	udk_json_u64(j, "errors", st.errors);
	udk_json_u64(j, "bounced", st.bounced);
	udk_json_obj_close(j);
	return 0;
}

static int bdevs_cmd(struct udk_json *j, void *arg)
{
	(void)arg;
	udk_json_arr_open(j, NULL);
	udk_bdev_walk(one_bdev, j);
	udk_json_arr_close(j);
	return 0;
}

void bdev_telemetry_init(void)
{
	udk_telemetry_register("bdevs", "block devices: geometry, state, I/O counters", bdevs_cmd,
			       NULL);
}
