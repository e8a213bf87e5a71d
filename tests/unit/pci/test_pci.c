/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for lib/pci: address parsing and formatting, the sysfs scan and
 * group viability over a fixture tree (UDK_SYSFS_ROOT), bind/unbind steps,
 * and udk-devbind's status against the same fixture (argv[1] is its path). */
#include "../common/unit.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "udk_pci.h"
#include "udk_util.h"

static char root[] = "/tmp/udk-pci-XXXXXX";
static const char *devbind_path;
static int fx_err; /* a fixture step failed (suite init cannot assert) */

/* ---- fixture helpers ---- */

static void mkdirs(const char *fmt, ...)
{
	char path[1024], *p;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	for (p = path + strlen(root) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	mkdir(path, 0755);
}

static void put(const char *rel, const char *text)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	if (f == NULL) {
		fx_err = -1;
		return;
	}
	fputs(text, f);
	fclose(f);
}

static void get(const char *rel, char *buf, size_t len)
{
	char path[1024];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	buf[0] = '\0';
	f = fopen(path, "r");
	if (f == NULL)
		return;
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static void link_to(const char *target, const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	unlink(path);
	if (symlink(target, path) < 0)
		fx_err = -1;
}

/* One function under bus/pci/devices; driver "" = none; group -1 = none. */
static void fx_dev(const char *bdf, const char *ven, const char *dev, const char *cls,
		   const char *node, const char *driver, int group)
{
	char rel[512], val[256];

	mkdirs("%s/bus/pci/devices/%s", root, bdf);
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/vendor", bdf);
	snprintf(val, sizeof(val), "%s\n", ven);
	put(rel, val);
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/device", bdf);
	snprintf(val, sizeof(val), "%s\n", dev);
	put(rel, val);
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/class", bdf);
	snprintf(val, sizeof(val), "%s\n", cls);
	put(rel, val);
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/subsystem_vendor", bdf);
	put(rel, "0x1af4\n");
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/subsystem_device", bdf);
	put(rel, "0x1100\n");
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/numa_node", bdf);
	snprintf(val, sizeof(val), "%s\n", node);
	put(rel, val);
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/driver_override", bdf);
	put(rel, "(null)\n");
	if (driver[0] != '\0') {
		mkdirs("%s/bus/pci/drivers/%s", root, driver);
		snprintf(rel, sizeof(rel), "bus/pci/drivers/%s/unbind", driver);
		put(rel, "");
		snprintf(val, sizeof(val), "../../drivers/%s", driver);
		snprintf(rel, sizeof(rel), "bus/pci/devices/%s/driver", bdf);
		link_to(val, rel);
	}
	if (group >= 0) {
		mkdirs("%s/kernel/iommu_groups/%d/devices", root, group);
		snprintf(val, sizeof(val), "../../../kernel/iommu_groups/%d", group);
		snprintf(rel, sizeof(rel), "bus/pci/devices/%s/iommu_group", bdf);
		link_to(val, rel);
		snprintf(val, sizeof(val), "../../../../bus/pci/devices/%s", bdf);
		snprintf(rel, sizeof(rel), "kernel/iommu_groups/%d/devices/%s", group, bdf);
		link_to(val, rel);
	}
}

/*
 * The fixture, created out of address order:
 *   00:1f.3 SMBus (i801_smbus, group 6)      00:04.0 NVMe (nvme, group 4, node 0)
 *   00:02.0 virtio-net (vfio-pci, group 2)    00:01.0 PCI bridge (no driver, group 5)
 *   01:01.0 e1000 (e1000, group 5)            01:02.0 e1000 (vfio-pci, group 5)
 *   00:05.0 unbound + 00:06.0 vfio-pci (group 7)
 *   00:07.0 no IOMMU group
 * What the machine uses them for (udk-devbind refuses to bind those): the
 * NVMe's namespace 1 (a multipath path, nvme0c0n1 of disk nvme0n1) has the
 * device numbers of the host's / (so it is mounted there) and holder dm-3;
 * the e1000 at 01:01.0 has interface lo (127.0.0.1).
 */
static int fixture_init(void)
{
	struct stat root_st;
	char majmin[32];

	if (mkdtemp(root) == NULL)
		return -1;
	fx_dev("0000:00:1f.3", "0x8086", "0x2930", "0x0c0500", "-1", "i801_smbus", 6);
	fx_dev("0000:00:04.0", "0x1b36", "0x0010", "0x010802", "0", "nvme", 4);
	fx_dev("0000:00:02.0", "0x1af4", "0x1041", "0x020000", "-1", "vfio-pci", 2);
	fx_dev("0000:01:01.0", "0x8086", "0x100e", "0x020000", "-1", "e1000", 5);
	fx_dev("0000:00:01.0", "0x1b36", "0x000e", "0x060400", "-1", "", 5);
	fx_dev("0000:01:02.0", "0x8086", "0x100e", "0x020000", "-1", "vfio-pci", 5);
	fx_dev("0000:00:05.0", "0x8086", "0x10d3", "0x020000", "-1", "", 7);
	fx_dev("0000:00:06.0", "0x8086", "0x10d3", "0x020000", "-1", "vfio-pci", 7);
	fx_dev("0000:00:07.0", "0x8086", "0x10d3", "0x020000", "-1", "", -1);
	put("bus/pci/devices/not-a-device", ""); /* must be ignored */
	put("bus/pci/drivers_probe", "");
	put("bus/pci/devices/0000:00:02.0/driver_override", "vfio-pci\n");
	if (stat("/", &root_st) < 0)
		fx_err = -1;
	snprintf(majmin, sizeof(majmin), "%u:%u\n", major(root_st.st_dev), minor(root_st.st_dev));
	mkdirs("%s/bus/pci/devices/0000:00:04.0/nvme/nvme0/nvme0c0n1", root);
	mkdirs("%s/class/block/nvme0n1/holders/dm-3", root);
	mkdirs("%s/class/block/nvme0n1/nvme0n1p1", root);
	put("class/block/nvme0n1/dev", majmin);
	put("class/block/nvme0n1/nvme0n1p1/partition", "1\n");
	put("class/block/nvme0n1/nvme0n1p1/dev", "259:999\n");
	mkdirs("%s/bus/pci/devices/0000:01:01.0/net/lo", root);
	setenv("UDK_SYSFS_ROOT", root, 1);
	return fx_err;
}

static int fixture_fini(void)
{
	char cmd[256];

	unsetenv("UDK_SYSFS_ROOT");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- addresses ---- */

static void test_addr_parse_good(void)
{
	struct udk_pci_addr a;

	CU_ASSERT_EQUAL(udk_pci_addr_parse("0000:03:00.1", &a), 0);
	CU_ASSERT(a.domain == 0 && a.bus == 3 && a.dev == 0 && a.func == 1);
	CU_ASSERT_EQUAL(udk_pci_addr_parse("03:1f.7", &a), 0);
	CU_ASSERT(a.domain == 0 && a.bus == 3 && a.dev == 0x1f && a.func == 7);
	CU_ASSERT_EQUAL(udk_pci_addr_parse("ABcd:fF:0a.2", &a), 0);
	CU_ASSERT(a.domain == 0xabcd && a.bus == 0xff && a.dev == 0x0a && a.func == 2);
}

static void test_addr_parse_bad(void)
{
	static const char *const bad[] = {
		"", "0", "0000:03:00", "0000:03:00.", "0000:03:20.0", "0000:03:00.8",
		"0000:03:00.1 ", " 0000:03:00.1", "0000:03:00.1x", "00000:03:00.1",
		"000:03:00.1", "0000:3:00.1", "0000-03:00.1", "0000:03:00:1", "g0:00.0",
		"03:00.1\n", "+3:00.1", "0x:00.0", "junk",
	};
	struct udk_pci_addr a = {.domain = 0x1234, .bus = 5};

	for (size_t i = 0; i < UDK_ARRAY_SIZE(bad); i++) {
		udk_last_error_clear();
		CU_ASSERT_EQUAL(udk_pci_addr_parse(bad[i], &a), -UDK_EBADADDR);
		CU_ASSERT_PTR_NOT_NULL(strstr(udk_last_error(), "expected DDDD:BB:DD.F or BB:DD.F"));
		CU_ASSERT(strncmp(udk_last_error(), "pci: bad PCI address '", 22) == 0);
	}
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_pci_addr_parse("0000:03:00.1zz", &a), -UDK_EBADADDR);
	CU_ASSERT_PTR_NOT_NULL(strstr(udk_last_error(), "'0000:03:00.1zz'"));
	CU_ASSERT_EQUAL(udk_pci_addr_parse(NULL, &a), -UDK_EBADADDR);
	/* a failed parse leaves the output alone */
	CU_ASSERT(a.domain == 0x1234 && a.bus == 5);
}

static void test_addr_format_cmp(void)
{
	struct udk_pci_addr a = {.domain = 0xabcd, .bus = 0x3, .dev = 0x1f, .func = 7}, b, c;
	char buf[UDK_PCI_ADDR_STRLEN], small[6];

	udk_pci_addr_format(&a, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "abcd:03:1f.7");
	CU_ASSERT_EQUAL(udk_pci_addr_parse(buf, &b), 0);
	CU_ASSERT_EQUAL(udk_pci_addr_cmp(&a, &b), 0);
	udk_pci_addr_format(&a, small, sizeof(small));
	CU_ASSERT_STRING_EQUAL(small, "abcd:"); /* truncated, still terminated */

	CU_ASSERT_EQUAL(udk_pci_addr_parse("0000:00:1f.7", &b), 0);
	CU_ASSERT_EQUAL(udk_pci_addr_parse("0000:01:00.0", &c), 0);
	CU_ASSERT(udk_pci_addr_cmp(&b, &c) < 0);
	CU_ASSERT(udk_pci_addr_cmp(&c, &b) > 0);
	CU_ASSERT_EQUAL(udk_pci_addr_parse("0001:00:00.0", &b), 0);
	CU_ASSERT(udk_pci_addr_cmp(&c, &b) < 0);
	CU_ASSERT_EQUAL(udk_pci_addr_parse("0000:01:00.1", &b), 0);
	CU_ASSERT(udk_pci_addr_cmp(&c, &b) < 0);
}

/* ---- sysfs ---- */

struct seen {
	int n;
	char bdf[16][UDK_PCI_ADDR_STRLEN];
	struct udk_pci_info nvme;
	int stop_after;
};

static int collect(const struct udk_pci_info *info, void *arg)
{
	struct seen *s = arg;

	if (s->n < 16)
		udk_pci_addr_format(&info->addr, s->bdf[s->n], UDK_PCI_ADDR_STRLEN);
	if (info->class_code == 0x010802)
		s->nvme = *info;
	s->n++;
	return s->stop_after && s->n == s->stop_after ? 42 : 0;
}

static void test_scan_order_and_fields(void)
{
	static const char *const order[] = {
		"0000:00:01.0", "0000:00:02.0", "0000:00:04.0", "0000:00:05.0", "0000:00:06.0",
		"0000:00:07.0", "0000:00:1f.3", "0000:01:01.0", "0000:01:02.0",
	};
	struct seen s = {0};

	CU_ASSERT_EQUAL(udk_pci_scan(collect, &s), 0);
	CU_ASSERT_EQUAL_FATAL(s.n, (int)UDK_ARRAY_SIZE(order));
	for (size_t i = 0; i < UDK_ARRAY_SIZE(order); i++)
		CU_ASSERT_STRING_EQUAL(s.bdf[i], order[i]);
	CU_ASSERT_EQUAL(s.nvme.vendor_id, 0x1b36);
	CU_ASSERT_EQUAL(s.nvme.device_id, 0x0010);
	CU_ASSERT_EQUAL(s.nvme.subsys_vendor_id, 0x1af4);
	CU_ASSERT_EQUAL(s.nvme.subsys_device_id, 0x1100);
	CU_ASSERT_EQUAL(s.nvme.class_code, 0x010802);
	CU_ASSERT_EQUAL(s.nvme.numa_node, 0);
	CU_ASSERT_EQUAL(s.nvme.iommu_group, 4);
	CU_ASSERT_STRING_EQUAL(s.nvme.driver, "nvme");
	CU_ASSERT_STRING_EQUAL(s.nvme.driver_override, "");

	memset(&s, 0, sizeof(s));
	s.stop_after = 3;
	CU_ASSERT_EQUAL(udk_pci_scan(collect, &s), 42);
	CU_ASSERT_EQUAL(s.n, 3);
}

static void test_info_get(void)
{
	struct udk_pci_addr a;
	struct udk_pci_info info;

	CU_ASSERT_EQUAL(udk_pci_addr_parse("00:02.0", &a), 0);
	CU_ASSERT_EQUAL(udk_pci_info_get(&a, &info), 0);
	CU_ASSERT_STRING_EQUAL(info.driver, "vfio-pci");
	CU_ASSERT_STRING_EQUAL(info.driver_override, "vfio-pci");
	CU_ASSERT_EQUAL(info.numa_node, -1);
	CU_ASSERT_EQUAL(info.iommu_group, 2);

	CU_ASSERT_EQUAL(udk_pci_addr_parse("00:07.0", &a), 0);
	CU_ASSERT_EQUAL(udk_pci_info_get(&a, &info), 0);
	CU_ASSERT_EQUAL(info.iommu_group, -1);
	CU_ASSERT_STRING_EQUAL(info.driver, "");

	CU_ASSERT_EQUAL(udk_pci_addr_parse("0000:09:00.0", &a), 0);
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_pci_info_get(&a, &info), -ENODEV);
	CU_ASSERT_PTR_NOT_NULL(strstr(udk_last_error(), "no PCI device 0000:09:00.0"));
}

static void test_group_blocker(void)
{
	struct udk_pci_info blk;
	char bdf[UDK_PCI_ADDR_STRLEN];

	/* alone on vfio-pci */
	CU_ASSERT_EQUAL(udk_pci_group_blocker(2, &blk), 0);
	/* bridge without driver + e1000 on e1000 + e1000 on vfio-pci */
	CU_ASSERT_EQUAL(udk_pci_group_blocker(5, &blk), 1);
	udk_pci_addr_format(&blk.addr, bdf, sizeof(bdf));
	CU_ASSERT_STRING_EQUAL(bdf, "0000:01:01.0");
	CU_ASSERT_STRING_EQUAL(blk.driver, "e1000");
	/* an unbound device does not block */
	CU_ASSERT_EQUAL(udk_pci_group_blocker(7, &blk), 0);
	CU_ASSERT_EQUAL(udk_pci_group_blocker(6, NULL), 1);
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_pci_group_blocker(99, &blk), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(udk_last_error(), "IOMMU group 99"));
}

/* ---- bind / unbind ---- */

static void test_bind_without_vfio_pci(void)
{
	char path[1024], moved[1024], buf[64];
	struct udk_pci_addr a;

	snprintf(path, sizeof(path), "%s/bus/pci/drivers/vfio-pci", root);
	snprintf(moved, sizeof(moved), "%s/bus/pci/drivers/vfio-pci.away", root);
	CU_ASSERT_EQUAL_FATAL(rename(path, moved), 0);
	CU_ASSERT_EQUAL(udk_pci_addr_parse("01:01.0", &a), 0);
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_pci_bind_vfio(&a), -UDK_ENOVFIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(udk_last_error(), "0000:01:01.0"));
	CU_ASSERT_PTR_NOT_NULL(strstr(udk_last_error(),
				      "vfio-pci is not loaded: run 'modprobe vfio-pci'"));
	/* nothing was touched */
	get("bus/pci/devices/0000:01:01.0/driver_override", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "(null)\n");
	CU_ASSERT_EQUAL(rename(moved, path), 0);
}

static void test_bind_steps(void)
{
	struct udk_pci_addr a;
	char buf[64];

	/* already on vfio-pci: nothing to do */
	CU_ASSERT_EQUAL(udk_pci_addr_parse("00:02.0", &a), 0);
	CU_ASSERT_EQUAL(udk_pci_bind_vfio(&a), 0);
	get("bus/pci/drivers/vfio-pci/unbind", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "");

	/* The fixture cannot rebind: the steps are taken, the final check fails
	 * and the override is rolled back. */
	CU_ASSERT_EQUAL(udk_pci_addr_parse("01:01.0", &a), 0);
	put("bus/pci/devices/0000:01:01.0/driver_override", ""); /* writes do not truncate */
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_pci_bind_vfio(&a), -UDK_ENOTBOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(udk_last_error(), "bind 0000:01:01.0"));
	CU_ASSERT_PTR_NOT_NULL(strstr(udk_last_error(), "bound to e1000, not vfio-pci"));
	get("bus/pci/drivers/e1000/unbind", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "0000:01:01.0");
	get("bus/pci/drivers_probe", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "0000:01:01.0");
	/* "vfio-pci" then the rollback's "\n" over it (a file, not sysfs) */
	get("bus/pci/devices/0000:01:01.0/driver_override", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "\nfio-pci");
	put("bus/pci/devices/0000:01:01.0/driver_override", "(null)\n");

	/* no IOMMU group: vfio-pci would refuse it; say so */
	CU_ASSERT_EQUAL(udk_pci_addr_parse("00:07.0", &a), 0);
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_pci_bind_vfio(&a), -UDK_ENOIOMMU);
	CU_ASSERT_PTR_NOT_NULL(strstr(udk_last_error(), "no IOMMU group"));

	CU_ASSERT_EQUAL(udk_pci_addr_parse("0000:09:00.0", &a), 0);
	CU_ASSERT_EQUAL(udk_pci_bind_vfio(&a), -ENODEV);
}

static void test_bind_needs_root(void)
{
	char path[1024];
	struct udk_pci_addr a;

	if (geteuid() == 0) {
		/* root writes through a 0444 file: nothing to see here */
		printf("(skipped: running as root) ");
		return;
	}
	snprintf(path, sizeof(path), "%s/bus/pci/devices/0000:01:01.0/driver_override", root);
	CU_ASSERT_EQUAL(chmod(path, 0444), 0);
	CU_ASSERT_EQUAL(udk_pci_addr_parse("01:01.0", &a), 0);
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_pci_bind_vfio(&a), -EACCES);
	CU_ASSERT_PTR_NOT_NULL(strstr(udk_last_error(), "binding needs root (or write access to "));
	CU_ASSERT_PTR_NOT_NULL(strstr(udk_last_error(), path));
	chmod(path, 0644);
}

static void test_unbind_steps(void)
{
	struct udk_pci_info info;
	struct udk_pci_addr a;
	char buf[64];

	put("bus/pci/drivers_probe", "");
	CU_ASSERT_EQUAL(udk_pci_addr_parse("00:02.0", &a), 0);
	CU_ASSERT_EQUAL(udk_pci_info_get(&a, &info), 0);
	CU_ASSERT_STRING_EQUAL(info.driver_override, "vfio-pci");
	put("bus/pci/devices/0000:00:02.0/driver_override", ""); /* writes do not truncate */
	CU_ASSERT_EQUAL(udk_pci_unbind_vfio(&a), 0);
	get("bus/pci/devices/0000:00:02.0/driver_override", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "\n");
	get("bus/pci/drivers/vfio-pci/unbind", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "0000:00:02.0");
	get("bus/pci/drivers_probe", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "0000:00:02.0");
	put("bus/pci/devices/0000:00:02.0/driver_override", "vfio-pci\n");
	put("bus/pci/drivers/vfio-pci/unbind", "");

	/* on a kernel driver already: nothing to undo */
	put("bus/pci/drivers_probe", "");
	CU_ASSERT_EQUAL(udk_pci_addr_parse("00:04.0", &a), 0);
	CU_ASSERT_EQUAL(udk_pci_unbind_vfio(&a), 0);
	get("bus/pci/drivers_probe", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "");
}

/* ---- the VFIO device: what can be checked without VFIO ---- */

static void test_dev_open_preconditions(void)
{
	struct udk_pci_dev *pdev = NULL;
	struct udk_pci_addr a;

	CU_ASSERT_EQUAL(udk_pci_addr_parse("0000:09:00.0", &a), 0);
	CU_ASSERT_EQUAL(udk_pci_dev_open(&a, NULL, &pdev), -ENODEV);
	CU_ASSERT_PTR_NULL(pdev);

	CU_ASSERT_EQUAL(udk_pci_addr_parse("00:04.0", &a), 0);
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_pci_dev_open(&a, NULL, &pdev), -UDK_ENOTBOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(udk_last_error(), "udk-devbind bind 0000:00:04.0"));

	CU_ASSERT_EQUAL(udk_pci_addr_parse("01:02.0", &a), 0);
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_pci_dev_open(&a, NULL, &pdev), -UDK_EGROUP_NOT_VIABLE);
	CU_ASSERT_PTR_NOT_NULL(strstr(udk_last_error(), "0000:01:01.0 is bound to e1000"));
	CU_ASSERT_PTR_NULL(pdev);
	udk_pci_dev_close(NULL); /* harmless */
}

/* ---- udk-devbind against the fixture ---- */

static int run(const char *args, char *out, size_t len)
{
	char cmd[1024];
	size_t n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "'%s' %s 2>&1", devbind_path, args);
	p = popen(cmd, "r");
	if (p == NULL)
		return -1;
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	return pclose(p);
}

static void test_devbind_status(void)
{
	static char out[16384];
	int st;

	if (devbind_path == NULL) {
		CU_FAIL("the path of udk-devbind was not given (argv[1])");
		return;
	}
	st = run("status --all --json", out, sizeof(out));
	CU_ASSERT_EQUAL(st, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"address\": \"0000:01:02.0\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"viable\": false, \"blocker\": "
					   "{\"address\": \"0000:01:01.0\", \"driver\": \"e1000\"}"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"address\": \"0000:00:1f.3\"")); /* --all */

	st = run("status", out, sizeof(out));
	CU_ASSERT_EQUAL(st, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "group 5 not viable: 0000:01:01.0 is bound to e1000"));
	CU_ASSERT_PTR_NULL(strstr(out, "0000:00:1f.3")); /* not a NIC, NVMe or vfio-pci */
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "0000:00:04.0"));
}

/* udk-devbind ARGS exits with status want, says text, and leaves what
 * driver drv's unbind file holds as unbind (refused: nothing written). */
static void devbind_says(const char *args, int want, const char *text, const char *drv,
			 const char *unbind)
{
	static char out[16384];
	char path[128], buf[64];
	int st = run(args, out, sizeof(out));

	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == want);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, text));
	if (strstr(out, text) == NULL)
		printf("\nudk-devbind %s said:\n%s", args, out);
	snprintf(path, sizeof(path), "bus/pci/drivers/%s/unbind", drv);
	get(path, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, unbind);
}

/* bind refuses what the machine uses, names each use and what to do;
 * --force goes ahead. */
static void test_devbind_in_use(void)
{
	char buf[64], override[64];

	if (devbind_path == NULL) {
		CU_FAIL("the path of udk-devbind was not given (argv[1])");
		return;
	}
	put("bus/pci/drivers/nvme/unbind", "");
	get("bus/pci/devices/0000:00:04.0/driver_override", override, sizeof(override));
	devbind_says("bind 00:04.0", 1, "udk-devbind: bind 0000:00:04.0: in use: /dev/nvme0n1 is "
		     "mounted on /: unmount it first ('umount /')", "nvme", "");
	devbind_says("bind 00:04.0", 1, "bind 0000:00:04.0: in use: /dev/nvme0n1 is held by dm-3 "
		     "(device mapper, md or another stacked device)", "nvme", "");
	devbind_says("bind 00:04.0", 1, "bind 0000:00:04.0: refused: the machine uses it through "
		     "nvme (above), and binding it to vfio-pci would pull it from under them; free "
		     "it as said, or give --force to bind it anyway", "nvme", "");
	get("bus/pci/devices/0000:00:04.0/driver_override", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, override); /* not a step taken */
	devbind_says("probe --bind 00:04.0", 1, "probe --bind 0000:00:04.0: refused", "nvme", "");

	put("bus/pci/drivers/e1000/unbind", "");
	devbind_says("bind 01:01.0", 1, "bind 0000:01:01.0: in use: interface lo has address "
		     "127.0.0.1: remove it ('ip addr flush dev lo')", "e1000", "");
	/* --force: the steps are taken (the fixture cannot rebind, as above). */
	devbind_says("bind --force 01:01.0", 1, "bind 0000:01:01.0: --force: taking it from e1000",
		     "e1000", "0000:01:01.0");
	put("bus/pci/devices/0000:01:01.0/driver_override", "(null)\n");
	devbind_says("status --force", 2, "--force is an option of bind and probe --bind", "e1000",
		     "0000:01:01.0");
}

int main(int argc, char **argv)
{
	static const struct unit_test addr[] = {
		{"parse good addresses", test_addr_parse_good},
		{"reject bad addresses with a message", test_addr_parse_bad},
		{"format and compare", test_addr_format_cmp},
	};
	static const struct unit_test sysfs[] = {
		{"scan in address order with fields", test_scan_order_and_fields},
		{"info_get, missing device", test_info_get},
		{"group blocker", test_group_blocker},
		{"bind without vfio-pci", test_bind_without_vfio_pci},
		{"bind steps and rollback", test_bind_steps},
		{"bind needs root", test_bind_needs_root},
		{"unbind steps", test_unbind_steps},
		{"dev_open checks before VFIO", test_dev_open_preconditions},
		{"udk-devbind status names the blocker", test_devbind_status},
		{"udk-devbind bind refuses a device in use", test_devbind_in_use},
	};

	devbind_path = argc > 1 ? argv[1] : NULL;
	udk_log_set_sink(unit_quiet_sink, NULL); /* udk_last_error() still records */
	if (unit_add("pci-addr", NULL, NULL, addr, UDK_ARRAY_SIZE(addr)) ||
	    unit_add("pci-sysfs", fixture_init, fixture_fini, sysfs, UDK_ARRAY_SIZE(sysfs)))
		return 1;
	return unit_run_all();
}
