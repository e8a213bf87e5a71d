/* SPDX-License-Identifier: BSD-3-Clause */
/* eal.c - the one process context (DESIGN.md): udk_eal_init() sets up memory,
 * the default map that follows the heap through memory events, the lcores and
 * the -a devices, in that order; udk_eal_cleanup() undoes it in reverse.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "broker_client.h"
#include "eal_internal.h"
#include "udk_util.h"

static struct {
	bool up;
	bool help;
	struct udk_eal_args args;
	struct udk_mem *mem;
	struct udk_dmamap *map;
	struct udk_pci_dev *devs[UDK_MAX_ALLOW];
	size_t nb_devs;
} eal;

/* Keeps the default map equal to the heap: every segment is mapped before
 * any of it is handed out, and unmapped before it is released. */
int eal_map_follows_heap(enum udk_mem_event ev, struct udk_memseg *seg, void *arg)
{
	struct udk_dmamap *map = arg;
	uint64_t iova;
	int ret;

	if (ev == UDK_MEM_EVENT_ALLOC) {
		ret = udk_dmamap_map(map, seg->va, seg->len, &iova);
		if (ret < 0)
			return ret;
		seg->iova = iova;
		return 0;
	}
	if (seg->iova != UDK_IOVA_BAD) {
		/* The segment goes away whatever the map says; the map logged. */
		udk_dmamap_unmap(map, seg->va, seg->len);
		seg->iova = UDK_IOVA_BAD;
	}
	return 0;
}

/* Say which step of init failed.  The layer below usually logged the real
 * reason with its remedy already; that line stays the last error, and this
 * one only adds the step.  If nothing was logged, this is the error line. */
static int step_failed(const char *step, int ret)
{
	if (udk_last_error()[0] == '\0')
		udk_log(UDK_LOG_ERR, "eal", "init failed at step '%s': %s", step, udk_strerror(ret));
	else
		udk_log(UDK_LOG_WARN, "eal", "init failed at step '%s' (%s); undoing the steps "
			"before it", step, udk_strerror_name(ret));
	return ret;
}

static void close_devices(void)
{
	while (eal.nb_devs > 0) {
		eal.nb_devs--;
		udk_pci_dev_close(eal.devs[eal.nb_devs]);
		eal.devs[eal.nb_devs] = NULL;
	}
}

/* The memory options of the command line (all defaults when udk runs inside
 * another environment): every heap of the process is made with them. */
static void mem_opts(const struct udk_eal_args *a, struct udk_mem_opts *mo)
{
	udk_mem_opts_init(mo, sizeof(*mo));
	mo->huge_dir = a->huge_dir;
	mo->no_huge = a->no_huge;
	mo->total_limit = a->total_mem;
	memcpy(mo->socket_limit, a->socket_mem, sizeof(mo->socket_limit));
}

void eal_mem_opts(struct udk_mem_opts *mo)
{
	static const struct udk_eal_args none;

	mem_opts(eal.up ? &eal.args : &none, mo);
}

bool eal_brokered(void)
{
	return eal.up && eal.args.broker != NULL;
}

int udk_eal_init(int argc, char **argv)
{
	struct udk_mem_opts mo;
	struct udk_dmamap_opts dmo;
	char bdf[UDK_PCI_ADDR_STRLEN], step[32];
	int consumed, ret;

	eal.help = false;
	if (eal.up) {
		udk_log(UDK_LOG_ERR, "eal", "init: the EAL is already initialised; call "
			"udk_eal_cleanup() first");
		return -EBUSY;
	}
	if (eal.mem != NULL) {
		udk_log(UDK_LOG_ERR, "eal", "init: udk runs inside another environment "
			"(udk_eal_adopt()); detach from it first");
		return -EBUSY;
	}
	consumed = udk_eal_parse(argc, argv, &eal.args);
	if (consumed < 0)
		return consumed;
	if (eal.args.help) {
		eal.help = true; /* the app prints udk_eal_usage(): a library never writes stdout */
		return consumed;
	}
	udk_log_set_level(eal.args.log_level);

	udk_last_error_clear();
	mem_opts(&eal.args, &mo);
	if (eal.args.broker != NULL) {
		/* Memory and devices come from udk-broker (broker_client.c). */
		ret = eal_broker_connect(&eal.args);
		if (ret < 0)
			return step_failed("broker", ret);
		mo.source = eal_broker_mem_source();
	}
	ret = udk_mem_create(&mo, &eal.mem);
	if (ret < 0) {
		step_failed("memory", ret);
		goto err_broker;
	}

	udk_last_error_clear();
	udk_dmamap_opts_init(&dmo, sizeof(dmo));
	dmo.backend = eal.args.broker != NULL ? UDK_DMAMAP_BROKERED : eal.args.backend;
	dmo.name = "default";
	ret = udk_dmamap_create(&dmo, &eal.map);
	if (ret == 0 && eal.args.broker != NULL && (ret = eal_broker_adopt_map(eal.map)) < 0)
		udk_dmamap_put(eal.map);
	if (ret < 0) {
		step_failed("default map", ret);
		goto err_mem;
	}

	udk_last_error_clear();
	ret = udk_mem_event_register(eal.mem, eal.args.broker != NULL ? eal_broker_seg_event
					      : eal_map_follows_heap, eal.map);
	if (ret < 0) {
		step_failed("map the heap", ret);
		goto err_map;
	}
	/* udk_virt2iova() finds registered buffers of the default map too. */
	udk_mem_set_xlate_fallback(eal.mem, udk_dmamap_xlate(eal.map));
	udk_mem_set_default(eal.mem);

	udk_last_error_clear();
	ret = eal_telemetry_start(&eal.args, argc, argv);
	if (ret < 0) {
		step_failed("telemetry", ret);
		goto err_default;
	}

	udk_last_error_clear();
	ret = eal_lcores_start(eal.args.lcore_cpu, eal.args.nb_lcores);
	if (ret < 0) {
		step_failed("lcores", ret);
		goto err_telemetry;
	}

	for (eal.nb_devs = 0; eal.nb_devs < eal.args.nb_allow; eal.nb_devs++) {
		udk_last_error_clear();
		if (eal.args.broker != NULL)
			ret = eal_broker_open_device(&eal.args.allow[eal.nb_devs], eal.map,
						     &eal.devs[eal.nb_devs]);
		else
			ret = udk_pci_dev_open(&eal.args.allow[eal.nb_devs], eal.map,
					       &eal.devs[eal.nb_devs]);
		if (ret < 0) {
			udk_pci_addr_format(&eal.args.allow[eal.nb_devs], bdf, sizeof(bdf));
			snprintf(step, sizeof(step), "open -a %s", bdf);
			step_failed(step, ret);
			goto err_devices;
		}
	}
	eal.up = true;
	eal_telemetry_register();
	return consumed;

err_devices:
	close_devices();
	eal_lcores_stop();
err_telemetry:
	eal_telemetry_stop();
err_default:
	udk_mem_set_default(NULL);
err_map:
	/* Destroying the memory sends FREE, which unmaps from the map. */
	udk_mem_destroy(eal.mem);
	eal.mem = NULL;
	udk_dmamap_put(eal.map);
	eal.map = NULL;
	eal_broker_close();
	return ret;
err_mem:
	udk_mem_destroy(eal.mem);
	eal.mem = NULL;
err_broker:
	eal_broker_close();
	return ret;
}

bool udk_eal_help_requested(void)
{
	return eal.help;
}

void udk_eal_cleanup(void)
{
	if (!eal.up)
		return;
	eal_telemetry_stop();
	/* Devices first: nothing may DMA into memory that is about to go. */
	close_devices();
	udk_pci_hotplug_fini();
	eal_lcores_stop();
	udk_mem_set_default(NULL);
	udk_mem_destroy(eal.mem);
	eal.mem = NULL;
	udk_dmamap_put(eal.map);
	eal.map = NULL;
	eal_broker_close(); /* the broker resets our devices when the socket closes */
	eal.up = false;
}

int udk_eal_adopt(struct udk_mem *mem, struct udk_dmamap *map)
{
	if (eal.up) {
		udk_log(UDK_LOG_ERR, "eal", "adopt: udk_eal_init() is in effect; udk runs either "
			"with its own EAL or inside another environment, not both");
		return -EBUSY;
	}
	if ((mem == NULL) != (map == NULL))
		return -EINVAL;
	if (mem != NULL && eal.mem != NULL) {
		udk_log(UDK_LOG_ERR, "eal", "adopt: another memory and map are adopted already");
		return -EBUSY;
	}
	if (mem == NULL)
		udk_mem_set_default(NULL);
	eal.mem = mem;
	eal.map = map;
	if (mem != NULL) {
		udk_mem_set_xlate_fallback(mem, udk_dmamap_xlate(map));
		udk_mem_set_default(mem);
	}
	return 0;
}

struct udk_dmamap *udk_eal_dmamap(void)
{
	return eal.map;
}

struct udk_mem *udk_eal_mem(void)
{
	return eal.mem;
}

size_t udk_eal_nb_devices(void)
{
	return eal.nb_devs;
}

struct udk_pci_dev *udk_eal_device(size_t i)
{
	return i < eal.nb_devs ? eal.devs[i] : NULL;
}

size_t udk_eal_nb_vdevs(void)
{
	return eal.up ? eal.args.nb_vdevs : 0;
}

const char *udk_eal_vdev(size_t i)
{
	return eal.up && i < eal.args.nb_vdevs ? eal.args.vdev[i] : NULL;
}
