/* SPDX-License-Identifier: BSD-3-Clause */
/* test_session: which sessions stand in the way of a user taking a device,
 * over a sysfs fixture (UDK_SYSFS_ROOT) where 0000:00:04.0 and 0000:00:04.1
 * share IOMMU group 7 and 0000:00:05.0 is alone in group 8.  The kernel lets
 * a group into one map only, so another user's session holding either
 * device of group 7 blocks both: refused while its client is connected,
 * evicted while parked (grant.c's check_devices).  And the log's backend
 * line, from lib/dma's own name for a map's backend. */
#include "../../tests/unit/common/unit.h"
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"

static struct broker b;
static struct session s1000, s1001;
static char root[] = "/tmp/udk-test-session.XXXXXX";

/* blog() and now_us() live in main.c, which this test does not link. */
void blog(const char *fmt, ...)
{
	(void)fmt;
}

uint64_t now_us(void)
{
	return 0;
}

static void mkdir_p(const char *path)
{
	char tmp[512];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(tmp, 0755);
			*p = '/';
		}
	}
	mkdir(tmp, 0755);
}

static int fixture(void)
{
	static const struct {
		const char *bdf;
		int group;
	} devs[] = {{"0000:00:04.0", 7}, {"0000:00:04.1", 7}, {"0000:00:05.0", 8}};
	char path[512], target[256];

	if (mkdtemp(root) == NULL)
		return 1;
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		snprintf(path, sizeof(path), "%s/kernel/iommu_groups/%d", root, devs[i].group);
		mkdir_p(path);
		snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", root, devs[i].bdf);
		mkdir_p(path);
		snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/iommu_group", root, devs[i].bdf);
		snprintf(target, sizeof(target), "../../../../kernel/iommu_groups/%d", devs[i].group);
		if (symlink(target, path) < 0)
			return 1;
	}
	setenv("UDK_SYSFS_ROOT", root, 1);
	return 0;
}

/* uid 1000 holds 0000:00:04.0 (group 7), uid 1001 holds 0000:00:05.0. */
static void sessions(void)
{
	s1000 = (struct session){.uid = 1000, .sock = -1, .nb_devs = 1};
	snprintf(s1000.devs[0].bdf, sizeof(s1000.devs[0].bdf), "0000:00:04.0");
	s1000.devs[0].group = session_dev_group("0000:00:04.0");
	s1001 = (struct session){.uid = 1001, .sock = -1, .nb_devs = 1, .next = &s1000};
	snprintf(s1001.devs[0].bdf, sizeof(s1001.devs[0].bdf), "0000:00:05.0");
	s1001.devs[0].group = session_dev_group("0000:00:05.0");
	b.sessions = &s1001;
}

static void test_group_read(void)
{
	CU_ASSERT_EQUAL(session_dev_group("0000:00:04.1"), 7);
	CU_ASSERT_EQUAL(session_dev_group("0000:00:05.0"), 8);
	CU_ASSERT_EQUAL(session_dev_group("0000:09:00.0"), -1); /* no such device */
}

static void test_same_device(void)
{
	sessions();
	CU_ASSERT_PTR_EQUAL(session_blocking(&b, 1002, "0000:00:04.0", false), &s1000);
	CU_ASSERT_PTR_EQUAL(session_blocking(&b, 1002, "0000:00:05.0", false), &s1001);
	CU_ASSERT_PTR_NULL(session_blocking(&b, 1000, "0000:00:04.0", false)); /* its own */
	CU_ASSERT_PTR_NULL(session_blocking(&b, 1002, "0000:00:04.0", true)); /* parked */
	s1000.sock = 5;
	CU_ASSERT_PTR_EQUAL(session_blocking(&b, 1002, "0000:00:04.0", true), &s1000);
}

/* Issue 16, item 6: the other device of the group is blocked too. */
static void test_same_group(void)
{
	sessions();
	CU_ASSERT_PTR_EQUAL(session_blocking(&b, 1001, "0000:00:04.1", false), &s1000);
	s1000.sock = 5;
	CU_ASSERT_PTR_EQUAL(session_blocking(&b, 1001, "0000:00:04.1", true), &s1000);
	CU_ASSERT_PTR_NULL(session_blocking(&b, 1000, "0000:00:04.1", false));
	CU_ASSERT_PTR_NULL(session_blocking(&b, 1000, "0000:00:05.1", false));
}

/* The log line after GRANTED names the map's backend as lib/dma does: a
 * BROKERED map (the one map no IOMMU is needed for) is "brokered", not taken
 * for vfio-type1 because it is not iommufd. */
static void test_backend_line(void)
{
	struct broker bb = {.map_backend = UDK_DMAMAP_BROKERED};
	struct session *s = NULL;
	char line[512];

	CU_ASSERT_EQUAL_FATAL(session_create(&bb, 1002, 1002, &s), 0);
	session_backend(s, line, sizeof(line));
	CU_ASSERT_STRING_EQUAL(line, "backend brokered: a map of its own (uid1002)");
	session_evict(&bb, s, "end of test");
	CU_ASSERT_PTR_NULL(bb.sessions);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{"a device's IOMMU group from sysfs", test_group_read},
		{"another user's session holding the device", test_same_device},
		{"another user's session holding a device of its IOMMU group", test_same_group},
		{"the backend line names the map's backend as lib/dma does", test_backend_line},
	};
	char cmd[64];
	int rc;

	if (fixture() != 0) {
		printf("cannot make the sysfs fixture in %s\n", root);
		return 1;
	}
	if (unit_add("broker_session", NULL, NULL, tests, sizeof(tests) / sizeof(tests[0])))
		return 1;
	rc = unit_run_all();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		printf("could not remove %s\n", root);
	return rc;
}
