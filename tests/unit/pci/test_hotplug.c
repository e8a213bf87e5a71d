/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for lib/pci's hot-plug API without devices: the event callback
 * table, the hot-add monitor's argument checks, and the monitor and hot-plug
 * thread starting and stopping (a real netlink socket, no root needed).  The
 * removal itself needs VFIO: lab_hotplug_nvme and lab_hotplug_tools. */
#include "../common/unit.h"
#include <errno.h>
#include <string.h>

#include "udk_pci.h"
#include "udk_util.h"

static void cb_a(const struct udk_pci_event *ev, void *arg)
{
	(void)ev;
	(void)arg;
}

static void cb_b(const struct udk_pci_event *ev, void *arg)
{
	(void)ev;
	(void)arg;
}

static void test_event_register(void)
{
	int slots[8];

	CU_ASSERT_EQUAL(udk_pci_event_register(NULL, NULL), -EINVAL);
	CU_ASSERT_EQUAL(udk_pci_event_register(cb_a, NULL), 0);
	CU_ASSERT_EQUAL(udk_pci_event_register(cb_a, NULL), -EEXIST);
	CU_ASSERT_EQUAL(udk_pci_event_register(cb_b, NULL), 0); /* another function */
	CU_ASSERT_EQUAL(udk_pci_event_register(cb_a, &slots[0]), 0); /* another argument */
	for (int i = 1; i < 6; i++)
		CU_ASSERT_EQUAL(udk_pci_event_register(cb_a, &slots[i]), 0);
	/* Eight taken: the ninth is refused with a line saying so. */
	CU_ASSERT_EQUAL(udk_pci_event_register(cb_a, &slots[6]), -ENOSPC);
	CU_ASSERT_PTR_NOT_NULL(strstr(udk_last_error(), "callback slots are taken"));
	CU_ASSERT_EQUAL(udk_pci_event_unregister(cb_a, &slots[7]), -ENOENT);
	CU_ASSERT_EQUAL(udk_pci_event_unregister(cb_b, NULL), 0);
	CU_ASSERT_EQUAL(udk_pci_event_unregister(cb_b, NULL), -ENOENT);
	CU_ASSERT_EQUAL(udk_pci_event_register(cb_a, &slots[6]), 0); /* the freed slot */
	CU_ASSERT_EQUAL(udk_pci_event_unregister(cb_a, NULL), 0);
	for (int i = 0; i < 7; i++)
		CU_ASSERT_EQUAL(udk_pci_event_unregister(cb_a, &slots[i]), 0);
}

static void test_hotadd_args(void)
{
	struct udk_pci_hotadd_opts o;
	struct udk_pci_id id = {0x1b36, 0x0010};
	struct udk_dmamap *map;

	udk_pci_hotadd_opts_init(&o, sizeof(o));
	CU_ASSERT_EQUAL(o.opts_size, sizeof(o));
	CU_ASSERT_EQUAL(udk_pci_hotadd_start(NULL), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(udk_last_error(), "no map given"));
	CU_ASSERT_EQUAL(udk_dmamap_create(NULL, &map), 0);
	o.map = map;
	CU_ASSERT_EQUAL(udk_pci_hotadd_start(&o), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(udk_last_error(), "allow-list is empty"));
	udk_dmamap_put(map);
	(void)id;
}

/* Start, refuse a second start, stop, start again; the thread goes with
 * udk_pci_hotplug_fini() and comes back with the next start.  The monitor
 * holds a reference on its map until it stops. */
static void test_hotadd_start_stop(void)
{
	struct udk_pci_hotadd_opts o;
	struct udk_pci_id id = {0x1b36, 0x0010};
	struct udk_pci_addr addr = {0, 3, 0, 0};
	struct udk_dmamap_opts mo;
	struct udk_dmamap *map;

	udk_dmamap_opts_init(&mo, sizeof(mo));
	mo.backend = UDK_DMAMAP_VFIO_TYPE1; /* opens nothing before a device */
	CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(&mo, &map), 0);
	udk_pci_hotadd_opts_init(&o, sizeof(o));
	o.map = map;
	o.ids = &id;
	o.nb_ids = 1;
	o.addrs = &addr;
	o.nb_addrs = 1;
	for (int round = 0; round < 3; round++) {
		CU_ASSERT_EQUAL(udk_pci_hotadd_start(&o), 0);
		CU_ASSERT_EQUAL(udk_pci_hotadd_start(&o), -EBUSY);
		CU_ASSERT_PTR_NOT_NULL(strstr(udk_last_error(), "already running"));
		udk_pci_hotadd_stop();
		udk_pci_hotadd_stop(); /* twice is harmless */
		if (round == 1)
			udk_pci_hotplug_fini();
	}
	/* Still running at fini: fini stops it too. */
	CU_ASSERT_EQUAL(udk_pci_hotadd_start(&o), 0);
	udk_pci_hotplug_fini();
	CU_ASSERT_EQUAL(udk_pci_hotadd_start(&o), 0);
	udk_pci_hotplug_fini();
	udk_pci_hotplug_fini();
	udk_dmamap_put(map);
}

static void test_eremoved_text(void)
{
	CU_ASSERT_PTR_NOT_NULL(strstr(udk_strerror(-UDK_EREMOVED), "hot-unplug"));
	CU_ASSERT_STRING_EQUAL(udk_strerror_name(-UDK_EREMOVED), "UDK_EREMOVED");
}

int main(void)
{
	static const struct unit_test t[] = {
		{"event callbacks: register, refuse, unregister", test_event_register},
		{"hot-add: bad arguments", test_hotadd_args},
		{"hot-add: start, stop, thread", test_hotadd_start_stop},
		{"UDK_EREMOVED says what happened", test_eremoved_text},
	};

	unit_quiet_logs();
	if (unit_add("pci-hotplug", NULL, NULL, t, UDK_ARRAY_SIZE(t)))
		return 1;
	return unit_run_all();
}
