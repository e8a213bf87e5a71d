/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for lib/util: error strings, log levels and sink, last error,
 * sysfs readers, size parsing. */
#include "../common/unit.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "udk_util.h"

static void test_strerror_every_code(void)
{
	for (int e = UDK_EBASE + 1; e < UDK_ELAST; e++) {
		const char *t = udk_strerror(-e);
		CU_ASSERT_PTR_NOT_NULL_FATAL(t);
		CU_ASSERT(strcmp(t, "unknown udk error") != 0);
		CU_ASSERT(strncmp(udk_strerror_name(e), "UDK_E", 5) == 0);
	}
	CU_ASSERT_STRING_EQUAL(udk_strerror(0), "success");
	CU_ASSERT_STRING_EQUAL(udk_strerror(-ENOENT), strerror(ENOENT));
	CU_ASSERT_STRING_EQUAL(udk_strerror_name(-UDK_EGROUP_NOT_VIABLE), "UDK_EGROUP_NOT_VIABLE");
	CU_ASSERT_STRING_EQUAL(udk_strerror_name(EBUSY), "EBUSY");
	CU_ASSERT_STRING_EQUAL(udk_strerror(-(UDK_ELAST + 5)), "unknown udk error");
	CU_ASSERT(strstr(udk_strerror(-UDK_ENOVFIO), "modprobe vfio-pci") != NULL);
}

static int sink_calls;
static char sink_msg[512];
static void sink(int level, const char *comp, const char *msg, void *arg)
{
	(void)level;
	(void)arg;
	sink_calls++;
	snprintf(sink_msg, sizeof(sink_msg), "%s|%s", comp, msg);
}

static void test_log_levels_and_sink(void)
{
	int lvl;

	udk_log_set_sink(sink, NULL);
	udk_log_set_level(UDK_LOG_WARN);
	sink_calls = 0;
	udk_log(UDK_LOG_INFO, "t", "dropped %d", 1);
	CU_ASSERT_EQUAL(sink_calls, 0);
	udk_log(UDK_LOG_WARN, "t", "kept %d", 2);
	CU_ASSERT_EQUAL(sink_calls, 1);
	CU_ASSERT_STRING_EQUAL(sink_msg, "t|kept 2");

	udk_last_error_clear();
	CU_ASSERT_STRING_EQUAL(udk_last_error(), "");
	udk_log(UDK_LOG_ERR, "dma", "group %d not viable", 7);
	CU_ASSERT_STRING_EQUAL(udk_last_error(), "dma: group 7 not viable");
	udk_log_set_sink(NULL, NULL);

	CU_ASSERT_EQUAL(udk_log_level_parse("debug", &lvl), 0);
	CU_ASSERT_EQUAL(lvl, UDK_LOG_DEBUG);
	CU_ASSERT_EQUAL(udk_log_level_parse("3", &lvl), 0);
	CU_ASSERT_EQUAL(lvl, UDK_LOG_NOTICE);
	CU_ASSERT_EQUAL(udk_log_level_parse("loud", &lvl), -UDK_EARGS);
	CU_ASSERT_EQUAL(udk_log_level_parse("", &lvl), -UDK_EARGS);
	CU_ASSERT_EQUAL(udk_log_level_parse("9", &lvl), -UDK_EARGS);
	udk_log_set_level(UDK_LOG_NOTICE);
}

static void test_parse_size(void)
{
	uint64_t v;

	CU_ASSERT_EQUAL(udk_parse_size("64", &v), 0);
	CU_ASSERT_EQUAL(v, 64);
	CU_ASSERT_EQUAL(udk_parse_size("2M", &v), 0);
	CU_ASSERT_EQUAL(v, 2u << 20);
	CU_ASSERT_EQUAL(udk_parse_size("1G", &v), 0);
	CU_ASSERT_EQUAL(v, 1u << 30);
	CU_ASSERT_EQUAL(udk_parse_size("4kB", &v), 0);
	CU_ASSERT_EQUAL(v, 4096);
	CU_ASSERT_EQUAL(udk_parse_size("", &v), -UDK_EARGS);
	CU_ASSERT_EQUAL(udk_parse_size("-1", &v), -UDK_EARGS);
	CU_ASSERT_EQUAL(udk_parse_size("12Q", &v), -UDK_EARGS);
	CU_ASSERT_EQUAL(udk_parse_size("99999999999999999999", &v), -UDK_EARGS);
	CU_ASSERT_EQUAL(udk_parse_size("99999999999999G", &v), -UDK_EARGS);
}

static void test_sysfs_helpers(void)
{
	char dir[] = "/tmp/udk-util-XXXXXX", path[256], link[256], buf[64];
	uint64_t v;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vendor", dir);
	CU_ASSERT_EQUAL(udk_sysfs_write(path, "x"), -ENOENT);
	FILE *f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("0x1b36\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(udk_sysfs_read(path, buf, sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, "0x1b36");
	CU_ASSERT_EQUAL(udk_sysfs_read_u64(path, &v), 0);
	CU_ASSERT_EQUAL(v, 0x1b36);
	CU_ASSERT_EQUAL(udk_sysfs_write(path, "garbage"), 0);
	CU_ASSERT_EQUAL(udk_sysfs_read_u64(path, &v), -EINVAL);
	snprintf(link, sizeof(link), "%s/driver", dir);
	CU_ASSERT_EQUAL(symlink("../../bus/pci/drivers/vfio-pci", link), 0);
	CU_ASSERT_EQUAL(udk_sysfs_link_name(link, buf, sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, "vfio-pci");
	CU_ASSERT_EQUAL(udk_sysfs_link_name(link, buf, 4), -ENAMETOOLONG);
	snprintf(path, sizeof(path), "%s/missing", dir);
	CU_ASSERT_EQUAL(udk_sysfs_read(path, buf, sizeof(buf)), -ENOENT);
	CU_ASSERT_EQUAL(udk_sysfs_link_name(path, buf, sizeof(buf)), -ENOENT);
	unlink(link);
	snprintf(path, sizeof(path), "%s/vendor", dir);
	unlink(path);
	rmdir(dir);

	setenv("UDK_SYSFS_ROOT", "/tmp/fixture", 1);
	CU_ASSERT_STRING_EQUAL(udk_sysfs_root(), "/tmp/fixture");
	unsetenv("UDK_SYSFS_ROOT");
	CU_ASSERT_STRING_EQUAL(udk_sysfs_root(), "/sys");
}

int main(void)
{
	static const struct unit_test t[] = {
		{"strerror covers every code", test_strerror_every_code},
		{"log levels, sink and last error", test_log_levels_and_sink},
		{"size parsing", test_parse_size},
		{"sysfs helpers", test_sysfs_helpers},
	};

	return unit_run("util", t, UDK_ARRAY_SIZE(t));
}
