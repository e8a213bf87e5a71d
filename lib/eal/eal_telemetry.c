/* SPDX-License-Identifier: BSD-3-Clause */
/* eal_telemetry.c - the EAL's side of telemetry (doc/telemetry.md): start
 * the server from the options, and the commands the EAL can answer itself:
 * "info" (version, program, arguments), "lcores" (poll counts, sleeps), "maps"
 * (memory segments, the default map's mappings and IOVA space) and
 * "devices" (the -a devices).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eal_internal.h"
#include "udk_telemetry.h"
#include "udk_util.h"
#include "udk_version.h"

#define ARGS_MAX 4096

static struct {
	bool serving;
	bool registered;
	char *args;      /* argv, NUL-separated, copied */
	size_t nb_args;
	time_t started;
} tm;

static int info_cmd(struct udk_json *j, void *unused)
{
	const char *a = tm.args;

	(void)unused;
	udk_json_obj_open(j, NULL);
	udk_json_u64(j, "protocol", UDK_TELEMETRY_VERSION);
	udk_json_str(j, "version", UDK_VERSION_STRING);
	udk_json_i64(j, "pid", (int64_t)getpid());
	udk_json_u64(j, "uid", (uint64_t)geteuid());
	udk_json_str(j, "prog", a);
	udk_json_arr_open(j, "args");
	for (size_t i = 0; i < tm.nb_args; i++, a += strlen(a) + 1)
		udk_json_str(j, NULL, a);
	udk_json_arr_close(j);
	udk_json_u64(j, "lcores", udk_lcore_count());
	udk_json_i64(j, "start_time", (int64_t)tm.started);
	udk_json_i64(j, "uptime_s", (int64_t)(time(NULL) - tm.started));
	udk_json_str(j, "socket", udk_telemetry_path());
	udk_json_obj_close(j);
	return 0;
}

static int lcores_cmd(struct udk_json *j, void *unused)
{
	struct udk_lcore_info li;

	(void)unused;
	udk_json_arr_open(j, NULL);
	for (unsigned int i = 0; udk_lcore_info(i, &li) == 0; i++) {
		udk_json_obj_open(j, NULL);
		udk_json_u64(j, "lcore", i);
		udk_json_u64(j, "cpu", li.cpu);
		udk_json_bool(j, "running", li.running);
		udk_json_u64(j, "busy_polls", li.busy_polls);
		udk_json_u64(j, "idle_polls", li.idle_polls);
		udk_json_u64(j, "sleeps", li.sleeps);
		udk_json_u64(j, "wakeups", li.wakeups);
		udk_json_u64(j, "sleep_ns", li.sleep_ns);
		udk_json_obj_close(j);
	}
	udk_json_arr_close(j);
	return 0;
}

static int segment(const struct udk_memseg *seg, void *arg)
{
	struct udk_json *j = arg;

	udk_json_obj_open(j, NULL);
	udk_json_u64(j, "va", (uint64_t)(uintptr_t)seg->va);
	udk_json_u64(j, "len", seg->len);
	udk_json_u64(j, "page_size", seg->page_size);
	udk_json_i64(j, "socket", seg->socket);
	if (seg->iova == UDK_IOVA_BAD)
		udk_json_str(j, "iova", NULL);
	else
		udk_json_u64(j, "iova", seg->iova);
	udk_json_obj_close(j);
	return 0;
}

static int maps_cmd(struct udk_json *j, void *unused)
{
	struct udk_dmamap *map = udk_eal_dmamap();
	struct udk_mem *mem = udk_eal_mem();
	struct udk_iova_range r[16];
	struct udk_dmamap_info mi;
	struct udk_dma_buf_stats bs;
	struct udk_mem_stats ms;
	size_t nr = 0;
	int rc;

	(void)unused;
	if (map == NULL || mem == NULL)
		return -ENODEV;
	udk_mem_stats(mem, &ms);
	udk_json_obj_open(j, NULL);
	udk_json_obj_open(j, "memory");
	udk_json_u64(j, "segments", ms.segments);
	udk_json_u64(j, "bytes_reserved", ms.bytes_reserved);
	udk_json_u64(j, "bytes_in_use", ms.bytes_in_use);
	udk_json_arr_open(j, "segment");
	udk_mem_walk(mem, segment, j);
	udk_json_arr_close(j);
	udk_json_obj_close(j);

	rc = udk_dmamap_info(map, &mi);
	if (rc < 0)
		return rc;
	udk_json_arr_open(j, "maps");
	udk_json_obj_open(j, NULL);
	udk_json_str(j, "name", udk_dmamap_name(map));
	udk_json_str(j, "backend", udk_dmamap_backend_name(mi.backend));
	udk_json_bool(j, "live", mi.live);
	udk_json_u64(j, "devices", mi.nb_devices);
	udk_json_u64(j, "mappings", mi.nb_mappings);
	udk_json_u64(j, "bytes_mapped", mi.bytes_mapped);
	udk_json_u64(j, "iova_pgsizes", mi.iova_pgsizes);
	udk_json_arr_open(j, "iova_ranges");
	if (udk_dmamap_iova_ranges(map, r, UDK_ARRAY_SIZE(r), &nr) == 0) {
		for (size_t i = 0; i < nr && i < UDK_ARRAY_SIZE(r); i++) {
			udk_json_obj_open(j, NULL);
			udk_json_u64(j, "start", r[i].start);
			udk_json_u64(j, "last", r[i].last);
			udk_json_obj_close(j);
		}
	}
	udk_json_arr_close(j);
	udk_json_u64(j, "iova_used", udk_iova_space_used(udk_dmamap_iova_space(map)));
	udk_dma_buf_stats(map, &bs);
	udk_json_obj_open(j, "per_io");
	udk_json_u64(j, "maps", bs.maps);
	udk_json_u64(j, "unmaps", bs.unmaps);
	udk_json_u64(j, "unmap_calls", bs.unmap_calls);
	udk_json_u64(j, "flushes", bs.flushes);
	udk_json_obj_close(j);
	udk_json_obj_close(j);
	udk_json_arr_close(j);
	udk_json_obj_close(j);
	return 0;
}

static int devices_cmd(struct udk_json *j, void *unused)
{
	(void)unused;
	udk_json_arr_open(j, NULL);
	for (size_t i = 0; i < udk_eal_nb_devices(); i++) {
		struct udk_pci_dev *pdev = udk_eal_device(i);
		struct udk_device *dev = pdev ? udk_pci_dev_device(pdev) : NULL;
		struct udk_pci_addr addr;
		struct udk_pci_info pi;
		struct udk_dmamap *map;

		if (dev == NULL)
			continue;
		udk_json_obj_open(j, NULL);
		udk_json_str(j, "bdf", udk_device_name(dev));
		if (udk_pci_addr_parse(udk_device_name(dev), &addr) == 0 &&
		    udk_pci_info_get(&addr, &pi) == 0) {
			char id[16];

			snprintf(id, sizeof(id), "%04x:%04x", pi.vendor_id, pi.device_id);
			udk_json_str(j, "id", id);
			udk_json_str(j, "driver", pi.driver);
			udk_json_i64(j, "numa_node", pi.numa_node);
		}
		udk_json_i64(j, "iommu_group", udk_device_iommu_group(dev));
		map = udk_device_map(dev);
		udk_json_str(j, "map", map ? udk_dmamap_name(map) : NULL);
		udk_json_obj_close(j);
	}
	udk_json_arr_close(j);
	return 0;
}

static const struct {
	const char *cmd, *help;
	udk_telemetry_fn fn;
} cmds[] = {
	{"info", "version, program, arguments, pid", info_cmd},
	{"lcores", "lcores with their busy and idle poll counts", lcores_cmd},
	{"maps", "memory segments, the default map, its IOVA ranges and use", maps_cmd},
	{"devices", "the PCI devices opened with -a", devices_cmd},
};

static void copy_args(int argc, char **argv)
{
	size_t len = 0;

	free(tm.args);
	tm.args = calloc(1, ARGS_MAX);
	tm.nb_args = 0;
	if (tm.args == NULL)
		return;
	for (int i = 0; i < argc && argv[i] != NULL; i++) {
		size_t n = strlen(argv[i]) + 1;

		if (len + n > ARGS_MAX)
			break;
		memcpy(tm.args + len, argv[i], n);
		len += n;
		tm.nb_args++;
	}
}

int eal_telemetry_start(const struct udk_eal_args *args, int argc, char **argv)
{
	struct udk_telemetry_opts o;
	int rc;

	copy_args(argc, argv);
	tm.started = time(NULL);
	if (args->no_telemetry)
		return 0;
	udk_telemetry_opts_init(&o, sizeof(o));
	o.path = args->telemetry_path;
	o.prog = argc > 0 && argv[0] != NULL ? argv[0] : "udk";
	rc = udk_telemetry_start(&o);
	if (rc < 0 && args->telemetry_path != NULL)
		return rc;
	if (rc < 0)
		udk_log(UDK_LOG_WARN, "eal", "running without telemetry (see the line above; "
			"--no-telemetry silences this)");
	tm.serving = rc == 0;
	return 0;
}

void eal_telemetry_register(void)
{
	for (size_t i = 0; i < UDK_ARRAY_SIZE(cmds); i++)
		udk_telemetry_register(cmds[i].cmd, cmds[i].help, cmds[i].fn, NULL);
	tm.registered = true;
}

void eal_telemetry_stop(void)
{
	if (tm.registered) {
		for (size_t i = 0; i < UDK_ARRAY_SIZE(cmds); i++)
			udk_telemetry_unregister(cmds[i].cmd);
		tm.registered = false;
	}
	if (tm.serving)
		udk_telemetry_stop();
	tm.serving = false;
	free(tm.args);
	tm.args = NULL;
	tm.nb_args = 0;
}
