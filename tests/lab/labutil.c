/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * labutil: helpers for lab tests (see labutil.h).  Plain libc and sysfs, no
 * libudk, so that lab tests can judge udk from the outside.
 */
#include "labutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int check_failures;

void lab_check_failed(const char *file, int line, const char *expr, const char *fmt, ...)
{
	check_failures++;
	fprintf(stderr, "%s:%d: CHECK failed: %s", file, line, expr);
	if (fmt) {
		va_list ap;

		fputs(": ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	fputc('\n', stderr);
}

void lab_require_failed(const char *file, int line, const char *expr)
{
	fflush(stdout);
	fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", file, line, expr);
	exit(1);
}

int lab_result(void)
{
	fflush(stdout);
	if (check_failures) {
		fprintf(stderr, "%d check(s) failed\n", check_failures);
		return 1;
	}
	return 0;
}

void lab_skip(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("SKIP: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	exit(LAB_SKIP);
}

void lab_fatal(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("FAIL: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

int lab_read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	if (len == 0)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	return 0;
}

int lab_write_file(const char *path, const char *s)
{
	size_t len = strlen(s);
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, s, len);
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	return (size_t)n == len ? 0 : -EIO;
}

/* ---- settings: the environment, then lab.env ---- */

#define ENV_MAX 64
static struct {
	char *key;
	char *value;
} env_file[ENV_MAX];
static int env_count = -1;

static void load_env_file(void)
{
	const char *dir = getenv("UDK_LAB_DIR");
	char path[512], line[512];
	FILE *f;

	env_count = 0;
	snprintf(path, sizeof(path), "%s/lab.env", dir && *dir ? dir : "/mnt");
	f = fopen(path, "re");
	if (!f)
		return;
	while (env_count < ENV_MAX && fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '=');

		if (line[0] == '#' || !eq)
			continue;
		*eq = '\0';
		eq[strcspn(eq + 1, "\r\n") + 1] = '\0';
		env_file[env_count].key = strdup(line);
		env_file[env_count].value = strdup(eq + 1);
		if (!env_file[env_count].key || !env_file[env_count].value)
			break;
		env_count++;
	}
	fclose(f);
}

const char *lab_env(const char *key)
{
	const char *v = getenv(key);

	if (v && *v)
		return v;
	if (env_count < 0)
		load_env_file();
	for (int i = 0; i < env_count; i++)
		if (strcmp(env_file[i].key, key) == 0)
			return *env_file[i].value ? env_file[i].value : NULL;
	return NULL;
}

const char *lab_env_require(const char *key)
{
	const char *v = lab_env(key);

	if (!v)
		lab_skip("%s is not set: this lab guest lacks that device or setting", key);
	return v;
}

void lab_require_guest(void)
{
	const char *lab = lab_env("UDK_LAB");

	if (!lab || strcmp(lab, "1") != 0)
		lab_skip("not inside the lab guest (run it with: meson test --suite lab)");
	if (geteuid() != 0)
		lab_skip("lab tests run as root");
}

/* ---- PCI devices through sysfs ---- */

static int read_hex(const char *bdf, const char *attr, unsigned long *out)
{
	char path[256], buf[32];
	int rc;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	rc = lab_read_file(path, buf, sizeof(buf));
	if (rc)
		return rc;
	*out = strtoul(buf, NULL, 16);
	return 0;
}

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int lab_find_device(uint16_t vendor, uint16_t device, unsigned int nth, char bdf[LAB_BDF_LEN])
{
	struct dirent **names;
	int n, rc = -ENOENT;

	n = scandir("/sys/bus/pci/devices", &names, NULL, name_cmp);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		unsigned long v, d;

		if (rc == -ENOENT && names[i]->d_name[0] != '.' &&
		    read_hex(names[i]->d_name, "vendor", &v) == 0 &&
		    read_hex(names[i]->d_name, "device", &d) == 0 && v == vendor && d == device &&
		    nth-- == 0) {
			size_t l = strnlen(names[i]->d_name, LAB_BDF_LEN - 1);

			memcpy(bdf, names[i]->d_name, l);
			bdf[l] = '\0';
			rc = 0;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

static int link_name(const char *bdf, const char *attr, char *buf, size_t len)
{
	char path[256], target[512];
	const char *slash;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	slash = strrchr(target, '/');
	snprintf(buf, len, "%s", slash ? slash + 1 : target);
	return 0;
}

int lab_device_driver(const char *bdf, char *buf, size_t len)
{
	char path[256];
	struct stat st;
	int rc;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
	if (stat(path, &st) != 0)
		return -errno;
	rc = link_name(bdf, "driver", buf, len);
	if (rc == -ENOENT) {
		if (len)
			buf[0] = '\0';
		return 0;
	}
	return rc;
}

int lab_device_group(const char *bdf)
{
	char name[64];
	int rc = link_name(bdf, "iommu_group", name, sizeof(name));

	return rc ? rc : atoi(name);
}

int lab_bind(const char *bdf, const char *driver)
{
	char path[256], cur[64];
	int rc;

	if (!driver)
		driver = "";
	rc = lab_device_driver(bdf, cur, sizeof(cur));
	if (rc)
		return rc;
	if (*driver && strcmp(cur, driver) == 0)
		return 0;
	if (*driver)
		lab_sh("modprobe %s 2>/dev/null", driver);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
	rc = lab_write_file(path, *driver ? driver : "\n");
	if (rc)
		return rc;
	if (*cur) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
		rc = lab_write_file(path, bdf);
		if (rc)
			return rc;
	}
	if (!*driver)
		return 0;
	rc = lab_write_file("/sys/bus/pci/drivers_probe", bdf);
	if (rc)
		return rc;
	rc = lab_device_driver(bdf, cur, sizeof(cur));
	if (rc)
		return rc;
	return strcmp(cur, driver) == 0 ? 0 : -ENODEV;
}

int lab_bind_vfio(const char *bdf)
{
	return lab_bind(bdf, "vfio-pci");
}

int lab_sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	fflush(NULL);
	rc = system(cmd);
	if (rc == -1 || !WIFEXITED(rc))
		return -1;
	return WEXITSTATUS(rc);
}

/* ---- kernel log through /dev/kmsg ---- */

/* One record "prio,seq,usec,flags;text\n..." -> its sequence number and text. */
static int parse_record(char *rec, uint64_t *seq, char **text)
{
	char *semi = strchr(rec, ';'), *comma = strchr(rec, ',');

	if (!semi || !comma || comma > semi)
		return -1;
	*seq = strtoull(comma + 1, NULL, 10);
	*text = semi + 1;
	(*text)[strcspn(*text, "\n")] = '\0';
	return 0;
}

/* The next sequence number, and the time (kernel log clock, µs since boot)
 * of the last DMAR line. */
static uint64_t kmsg_scan(long long *last_dmar_us)
{
	char rec[8192];
	uint64_t next = 0;
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	*last_dmar_us = -1;
	if (fd < 0)
		return 0;
	for (;;) {
		ssize_t n = read(fd, rec, sizeof(rec) - 1);
		uint64_t seq;
		char *text, *usec;

		if (n < 0 && errno == EPIPE)
			continue; /* overwritten while reading: go on */
		if (n <= 0)
			break;
		rec[n] = '\0';
		usec = strchr(rec, ',') ? strchr(strchr(rec, ',') + 1, ',') : NULL;
		if (parse_record(rec, &seq, &text) != 0)
			continue;
		next = seq + 1;
		if (usec != NULL && strstr(text, "DMAR") != NULL)
			*last_dmar_us = strtoll(usec + 1, NULL, 10);
	}
	close(fd);
	return next;
}

/* The kernel prints IOMMU faults through one rate limit (dmar_fault(): 10
 * lines per 5 s window, two lines a fault), so a test that provokes a fault
 * right after another test's faults can find its line suppressed ("dmar_fault:
 * N callbacks suppressed").  A window starts with a printed line, so 5.2 s
 * after the last DMAR line a fresh one is sure: wait for that first. */
uint64_t lab_kmsg_mark(void)
{
	long long last_us;
	uint64_t next = kmsg_scan(&last_us);
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* the kernel log's clock, near enough */
	long long now_us = ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;

	if (last_us >= 0 && now_us - last_us < 5200000) {
		usleep((useconds_t)(5200000 - (now_us - last_us)));
		next = kmsg_scan(&last_us);
	}
	return next;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int lab_kmsg_find(uint64_t since, const char *pattern, int timeout_ms, char *line, size_t len)
{
	long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	char rec[8192];
	regex_t re;
	int fd, rc = 0;

	if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
		return -EINVAL;
	fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		regfree(&re);
		return rc;
	}
	for (;;) {
		ssize_t n = read(fd, rec, sizeof(rec) - 1);
		uint64_t seq;
		char *text;

		if (n < 0 && errno == EPIPE)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			long long left = deadline - now_ms();

			if (left <= 0 || poll(&p, 1, (int)left) <= 0)
				break;
			continue;
		}
		if (n <= 0) {
			rc = n < 0 ? -errno : 0;
			break;
		}
		rec[n] = '\0';
		if (parse_record(rec, &seq, &text) || seq < since)
			continue;
		if (regexec(&re, text, 0, NULL, 0) == 0) {
			if (line && len)
				snprintf(line, len, "%s", text);
			rc = 1;
			break;
		}
	}
	close(fd);
	regfree(&re);
	return rc;
}

/* ---- hugepages ---- */

static long meminfo(const char *key)
{
	char line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

long lab_hugepages_free(void)
{
	return meminfo("HugePages_Free");
}

long lab_hugepages_total(void)
{
	return meminfo("HugePages_Total");
}

/* ---- QMP through the lab share (lab.py, QmpBridge) ---- */

int lab_qmp(const char *command, const char *wait_event, int timeout_s, char *out, size_t len)
{
	static unsigned int counter;
	const char *dir = lab_env("UDK_LAB_DIR");
	char req[512], tmp[520], reply[512], buf[8192], want[128];
	long long deadline;
	FILE *f;
	int rc;

	if (!dir)
		dir = "/mnt";
	snprintf(req, sizeof(req), "%s/qmp/%d-%u.req", dir, (int)getpid(), counter);
	snprintf(reply, sizeof(reply), "%s/qmp/%d-%u.reply", dir, (int)getpid(), counter++);
	snprintf(tmp, sizeof(tmp), "%s.tmp", req);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "{\"command\": %s, \"wait_event\": %s%s%s, \"timeout\": %d}\n", command,
		wait_event ? "\"" : "", wait_event ? wait_event : "null", wait_event ? "\"" : "",
		timeout_s);
	if (fclose(f) != 0 || rename(tmp, req) != 0)
		return -errno;

	deadline = now_ms() + (timeout_s + 10) * 1000LL;
	while ((rc = lab_read_file(reply, buf, sizeof(buf))) == -ENOENT && now_ms() < deadline)
		usleep(50 * 1000);
	if (rc == -ENOENT)
		return -ETIMEDOUT;
	if (rc)
		return rc;
	unlink(reply);
	if (out && len)
		snprintf(out, len, "%s", buf);
	if (!strstr(buf, "\"return\""))
		return -EIO;
	snprintf(want, sizeof(want), "\"event\": \"%s\"", wait_event ? wait_event : "");
	if (wait_event && !strstr(buf, want))
		return -EIO;
	return 0;
}

int lab_run_output(const char *cmd, char *out, size_t len)
{
	FILE *f;
	size_t n;

	printf("$ %s\n", cmd);
	fflush(stdout);
	out[0] = '\0';
	f = popen(cmd, "r");
	if (f == NULL)
		return -1;
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	printf("%s", out);
	fflush(stdout);
	return pclose(f);
}

/* The disk of namespace nsid of the controller at bdf (/dev/nvmeXnY), waiting
 * for the kernel to probe it.  It is found by its sysfs nsid, not by its
 * name: the kernel numbers a controller's disks in the order it scans them,
 * and the lab's first controller has two namespaces.  Under multipath the entry in
 * the controller's directory is the hidden path nvmeXcZnY of disk nvmeXnY. */
int lab_nvme_disk(const char *bdf, unsigned int nsid_want, char *dev, size_t len)
{
	char dir[128], path[400], nsid[16], name[64];

	snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s/nvme", bdf);
	for (int i = 0; i < 100; i++, usleep(100000)) {
		DIR *d = opendir(dir), *cd;
		struct dirent *de;
		char ctrl[32] = "";

		if (d == NULL)
			continue;
		while ((de = readdir(d)) != NULL)
			if (strncmp(de->d_name, "nvme", 4) == 0)
				snprintf(ctrl, sizeof(ctrl), "%.31s", de->d_name);
		closedir(d);
		if (ctrl[0] == '\0')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, ctrl);
		if ((cd = opendir(path)) == NULL)
			continue;
		name[0] = '\0';
		while ((de = readdir(cd)) != NULL && name[0] == '\0') {
			char *c;

			if (strncmp(de->d_name, "nvme", 4) != 0 || strchr(de->d_name + 4, 'n') == NULL)
				continue;
			snprintf(path, sizeof(path), "%s/%s/%.60s/nsid", dir, ctrl, de->d_name);
			if (lab_read_file(path, nsid, sizeof(nsid)) < 0 || atoi(nsid) != (int)nsid_want)
				continue;
			snprintf(name, sizeof(name), "%.60s", de->d_name);
			if ((c = strchr(name + 4, 'c')) != NULL) /* nvmeXcZnY -> nvmeXnY */
				memmove(c, strchr(c, 'n'), strlen(strchr(c, 'n')) + 1);
		}
		closedir(cd);
		if (name[0] == '\0')
			continue;
		snprintf(dev, len, "/dev/%s", name);
		if (access(dev, R_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

void lab_pattern_fill(void *buf, uint64_t lba, uint32_t nlb, uint32_t bs, uint64_t seed)
{
	uint64_t *w = buf;

	for (uint64_t b = 0; b < nlb; b++)
		for (uint32_t i = 0; i < bs / 8; i++)
			w[b * (bs / 8) + i] = seed << 48 ^ (lba + b) << 12 ^ i;
}

long lab_pattern_check(const void *buf, uint64_t lba, uint32_t nlb, uint32_t bs, uint64_t seed)
{
	const uint64_t *w = buf;

	for (uint64_t b = 0; b < nlb; b++)
		for (uint32_t i = 0; i < bs / 8; i++)
			if (w[b * (bs / 8) + i] != (seed << 48 ^ (lba + b) << 12 ^ i))
				return (long)b;
	return -1;
}
