/* SPDX-License-Identifier: BSD-3-Clause */
/* doctor.c - udk-devbind doctor: one line per check of what udk needs from
 * the host (IOMMU, VFIO, limits, hugepages) and from each device, with
 * OK/WARN/FAIL and the exact fix.  sysfs paths go through udk_sysfs_root();
 * /proc and /dev are the real ones. */
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "devbind.h"
#include "udk_util.h"

enum verdict { OK, WARN, FAIL };

struct doctor {
	int fails, warns;
	int devices; /* vfio-pci devices checked when none was named */
	bool json;   /* --json: one object per check in "checks" */
	int reported;
};

static void report(struct doctor *d, enum verdict v, const char *check, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void report(struct doctor *d, enum verdict v, const char *check, const char *fmt, ...)
{
	static const char *const names[] = {"OK", "WARN", "FAIL"};
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (d->json) {
		printf("%s\n    {\"check\": ", d->reported++ ? "," : "");
		json_str(check);
		printf(", \"verdict\": \"%s\", \"message\": ", names[v]);
		json_str(msg);
		putchar('}');
	} else {
		printf("%-4s  %s: %s\n", names[v], check, msg);
	}
	if (v == FAIL)
		d->fails++;
	else if (v == WARN)
		d->warns++;
}

static void sys_path(char *buf, size_t len, const char *rel)
{
	snprintf(buf, len, "%s/%s", udk_sysfs_root(), rel);
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* Entries of a directory, "." and ".." aside; -errno if it cannot be read. */
static int count_entries(const char *path)
{
	struct dirent *de;
	int n = 0;
	DIR *dir = opendir(path);

	if (dir == NULL)
		return -errno;
	while ((de = readdir(dir)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(dir);
	return n;
}

/* Is word a whole word of the kernel command line? */
static bool cmdline_has(const char *cmdline, const char *word)
{
	size_t wl = strlen(word);

	for (const char *p = cmdline; (p = strstr(p, word)) != NULL; p += wl)
		if ((p == cmdline || p[-1] == ' ') && (p[wl] == ' ' || p[wl] == '\0' ||
						       p[wl] == '\n'))
			return true;
	return false;
}

static void read_text(const char *path, char *buf, size_t len)
{
	if (udk_sysfs_read(path, buf, len) < 0)
		buf[0] = '\0';
}

static const char *cpu_vendor(void)
{
	static char line[256];
	const char *v = "";
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (f == NULL)
		return v;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "vendor_id", 9) == 0) {
			if (strstr(line, "GenuineIntel"))
				v = "intel";
			else if (strstr(line, "AuthenticAMD") || strstr(line, "HygonGenuine"))
				v = "amd";
			break;
		}
	}
	fclose(f);
	return v;
}

static void check_iommu(struct doctor *d)
{
	char path[512], cmdline[4096];
	const char *vendor = cpu_vendor();
	const char *want;
	int n;

	sys_path(path, sizeof(path), "kernel/iommu_groups");
	n = count_entries(path);
	read_text("/proc/cmdline", cmdline, sizeof(cmdline));
	want = strcmp(vendor, "amd") == 0 ? "amd_iommu=on" : "intel_iommu=on";
	if (n > 0) {
		if (!cmdline_has(cmdline, "iommu=pt"))
			report(d, OK, "iommu", "%d IOMMU groups (iommu=pt on the kernel command line "
			       "would spare host drivers the IOMMU's cost; udk does not need it)", n);
		else
			report(d, OK, "iommu", "%d IOMMU groups", n);
		return;
	}
	if (strcmp(vendor, "amd") != 0 && !cmdline_has(cmdline, want))
		report(d, FAIL, "iommu", "no IOMMU groups in %s: add '%s iommu=pt' to the kernel "
		       "command line (GRUB_CMDLINE_LINUX in /etc/default/grub, update-grub, reboot) "
		       "and enable VT-d in the firmware", path, want);
	else if (strcmp(vendor, "amd") == 0 && !cmdline_has(cmdline, want))
		report(d, FAIL, "iommu", "no IOMMU groups in %s: enable AMD-Vi/IOMMU in the "
		       "firmware and add '%s iommu=pt' to the kernel command line "
		       "(GRUB_CMDLINE_LINUX in /etc/default/grub, update-grub, reboot)", path, want);
	else
		report(d, FAIL, "iommu", "no IOMMU groups in %s although %s is set: enable %s in "
		       "the firmware setup (or the machine has no IOMMU; a VM needs a virtual one, "
		       "e.g. QEMU -device intel-iommu)", path, want,
		       strcmp(vendor, "amd") == 0 ? "AMD-Vi/IOMMU" : "VT-d");
}

static void check_vfio_pci(struct doctor *d)
{
	char drv[512], mod[512], ko[512];
	struct utsname u;
	glob_t g;

	sys_path(drv, sizeof(drv), "bus/pci/drivers/vfio-pci");
	sys_path(mod, sizeof(mod), "module/vfio_pci");
	if (exists(drv) || exists(mod)) {
		report(d, OK, "vfio-pci", "loaded");
		return;
	}
	if (uname(&u) == 0) {
		snprintf(ko, sizeof(ko), "/lib/modules/%s/kernel/drivers/vfio/pci/vfio-pci.ko*",
			 u.release);
		if (glob(ko, 0, NULL, &g) == 0) {
			globfree(&g);
			report(d, FAIL, "vfio-pci", "not loaded (module available): run 'modprobe "
			       "vfio-pci' (and add vfio-pci to /etc/modules to load it at boot)");
			return;
		}
		report(d, FAIL, "vfio-pci", "not loaded, and no module under /lib/modules/%s: "
		       "install the modules of kernel %s (Debian: linux-image-%s), then run "
		       "'modprobe vfio-pci'", u.release, u.release, u.release);
		return;
	}
	report(d, FAIL, "vfio-pci", "not loaded: run 'modprobe vfio-pci'");
}

static void check_dev_vfio(struct doctor *d)
{
	const char *p = "/dev/vfio/vfio";

	if (!exists(p))
		report(d, FAIL, "/dev/vfio/vfio", "absent: run 'modprobe vfio-pci' (it loads vfio, "
		       "which creates it)");
	else if (access(p, R_OK | W_OK) < 0)
		report(d, FAIL, "/dev/vfio/vfio", "not accessible (%s): run as root, or give your "
		       "user access with a udev rule (SUBSYSTEM==\"vfio\", GROUP=\"...\", "
		       "MODE=\"0660\")", strerror(errno));
	else
		report(d, OK, "/dev/vfio/vfio", "present and accessible");
}

/* What --iommu-backend auto picks on this host, and why. */
static void check_iommufd(struct doctor *d)
{
	enum udk_dmamap_backend b;
	char why[256];

	udk_dmamap_auto_backend(NULL, &b, why, sizeof(why));
	report(d, OK, "iommufd", "maps use %s (%s)", udk_dmamap_backend_name(b), why);
}

static void check_dma_entry_limit(struct doctor *d)
{
	char path[512];
	uint64_t v;
	int rc;

	sys_path(path, sizeof(path), "module/vfio_iommu_type1/parameters/dma_entry_limit");
	rc = udk_sysfs_read_u64(path, &v);
	if (rc == -ENOENT)
		report(d, WARN, "dma_entry_limit", "vfio_iommu_type1 is not loaded (it comes with "
		       "'modprobe vfio-pci'); cannot read %s", path);
	else if (rc < 0)
		report(d, WARN, "dma_entry_limit", "cannot read %s: %s", path, udk_strerror(rc));
	else if (v < 65535)
		report(d, WARN, "dma_entry_limit", "%llu: a process may hold only that many DMA "
		       "mappings; raise it with 'options vfio_iommu_type1 dma_entry_limit=65535' in "
		       "/etc/modprobe.d/vfio.conf and reload vfio_iommu_type1",
		       (unsigned long long)v);
	else
		report(d, OK, "dma_entry_limit", "%llu", (unsigned long long)v);
}

/* CAP_IPC_LOCK (bit 14) in the effective set. */
static bool has_ipc_lock(void)
{
	char line[256];
	bool yes = false;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "CapEff:", 7) == 0) {
			yes = (strtoull(line + 7, NULL, 16) >> 14) & 1;
			break;
		}
	}
	fclose(f);
	return yes;
}

static void check_memlock(struct doctor *d)
{
	struct rlimit rl;

	if (has_ipc_lock()) {
		report(d, OK, "memlock", "CAP_IPC_LOCK held (root): RLIMIT_MEMLOCK does not apply");
		return;
	}
	if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0) {
		report(d, WARN, "memlock", "getrlimit: %s", strerror(errno));
		return;
	}
	if (rl.rlim_cur == RLIM_INFINITY)
		report(d, OK, "memlock", "unlimited");
	else if (rl.rlim_cur < (1ull << 30))
		report(d, WARN, "memlock", "RLIMIT_MEMLOCK is %llu KiB: VFIO pins all DMA memory "
		       "against it; raise it with 'ulimit -l unlimited' (hard limit: a line "
		       "'<user> - memlock unlimited' in /etc/security/limits.conf, or "
		       "LimitMEMLOCK=infinity for a systemd service) or run as root",
		       (unsigned long long)rl.rlim_cur / 1024);
	else
		report(d, OK, "memlock", "%llu MiB", (unsigned long long)rl.rlim_cur >> 20);
}

static void check_hugepages(struct doctor *d)
{
	char dir[512], path[1024], nodes[1024], pat[1024];
	uint64_t total_free = 0;
	struct dirent *de;
	int sizes = 0;
	DIR *hd;

	sys_path(dir, sizeof(dir), "kernel/mm/hugepages");
	hd = opendir(dir);
	if (hd == NULL) {
		report(d, FAIL, "hugepages", "%s absent: the kernel has no hugetlbfs support "
		       "(CONFIG_HUGETLBFS)", dir);
		return;
	}
	while ((de = readdir(hd)) != NULL) {
		uint64_t nr = 0, fr = 0;
		size_t used = 0;
		glob_t g;

		if (strncmp(de->d_name, "hugepages-", 10) != 0)
			continue;
		sizes++;
		snprintf(path, sizeof(path), "%s/%s/nr_hugepages", dir, de->d_name);
		(void)udk_sysfs_read_u64(path, &nr);
		snprintf(path, sizeof(path), "%s/%s/free_hugepages", dir, de->d_name);
		(void)udk_sysfs_read_u64(path, &fr);
		total_free += fr;

		nodes[0] = '\0';
		snprintf(pat, sizeof(pat), "%s/devices/system/node/node*/hugepages/%s/free_hugepages",
			 udk_sysfs_root(), de->d_name);
		if (glob(pat, 0, NULL, &g) == 0) {
			for (size_t i = 0; i < g.gl_pathc && used + 40 < sizeof(nodes); i++) {
				const char *n = strstr(g.gl_pathv[i], "/node/node");
				uint64_t nf = 0;
				int len;

				(void)udk_sysfs_read_u64(g.gl_pathv[i], &nf);
				len = snprintf(nodes + used, sizeof(nodes) - used, ", node%d %llu free",
					       n ? atoi(n + 10) : -1, (unsigned long long)nf);
				if (len > 0)
					used += (size_t)len;
			}
			globfree(&g);
		}
		report(d, OK, "hugepages", "%s: %llu free of %llu%s", de->d_name + 10,
		       (unsigned long long)fr, (unsigned long long)nr, nodes);
	}
	closedir(hd);
	if (sizes == 0 || total_free == 0)
		report(d, FAIL, "hugepages", "no free hugepages: reserve some as root, e.g. "
		       "'udk-devbind hugepages 512' (2 MiB pages; --node N for one NUMA node), or "
		       "hugepages=512 on the kernel command line");
}

static void check_hugetlbfs(struct doctor *d)
{
	char line[1024], mnt[512] = "";
	FILE *f = fopen("/proc/mounts", "r");

	if (f != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			char dev[256], dir[512], type[64];

			if (sscanf(line, "%255s %511s %63s", dev, dir, type) == 3 &&
			    strcmp(type, "hugetlbfs") == 0) {
				snprintf(mnt, sizeof(mnt), "%s", dir);
				break;
			}
		}
		fclose(f);
	}
	if (mnt[0] != '\0')
		report(d, OK, "hugetlbfs", "mounted on %s", mnt);
	else
		report(d, FAIL, "hugetlbfs", "not mounted: run 'mkdir -p /dev/hugepages && mount -t "
		       "hugetlbfs nodev /dev/hugepages' (or add it to /etc/fstab)");
}

static void check_device(struct doctor *d, const struct udk_pci_addr *addr)
{
	char bdf[UDK_PCI_ADDR_STRLEN], bbdf[UDK_PCI_ADDR_STRLEN], check[32], gpath[64];
	struct udk_pci_info info, blk;
	int rc;

	udk_pci_addr_format(addr, bdf, sizeof(bdf));
	snprintf(check, sizeof(check), "%s", bdf);
	rc = udk_pci_info_get(addr, &info);
	if (rc < 0) {
		report(d, FAIL, check, "%s", udk_last_error());
		return;
	}
	report(d, OK, check, "exists (%04x:%04x)", info.vendor_id, info.device_id);
	if (strcmp(info.driver, "vfio-pci") == 0)
		report(d, OK, check, "bound to vfio-pci");
	else
		report(d, FAIL, check, "%s%s: run 'udk-devbind bind %s'",
		       info.driver[0] ? "bound to " : "not bound to any driver", info.driver, bdf);
	if (info.iommu_group < 0) {
		report(d, FAIL, check, "no IOMMU group: the IOMMU is off (see the iommu check)");
		return;
	}
	rc = udk_pci_group_blocker(info.iommu_group, &blk);
	if (rc == 1) {
		udk_pci_addr_format(&blk.addr, bbdf, sizeof(bbdf));
		if (udk_pci_addr_cmp(&blk.addr, addr) == 0)
			report(d, FAIL, check, "group %d not viable while %s is bound to %s: run "
			       "'udk-devbind bind %s'", info.iommu_group, bdf, blk.driver, bdf);
		else
			report(d, FAIL, check, "group %d not viable: %s is bound to %s: bind it to "
			       "vfio-pci too ('udk-devbind bind %s') or unbind it", info.iommu_group,
			       bbdf, blk.driver, bbdf);
	} else if (rc == 0) {
		report(d, OK, check, "group %d viable", info.iommu_group);
	} else {
		report(d, WARN, check, "group %d: cannot list its devices: %s", info.iommu_group,
		       udk_strerror(rc));
	}
	{
		enum udk_dmamap_backend b;
		char why[256];

		rc = udk_dmamap_auto_backend(bdf, &b, why, sizeof(why));
		report(d, rc < 0 ? WARN : OK, check, "backend %s: %s", udk_dmamap_backend_name(b), why);
	}
	snprintf(gpath, sizeof(gpath), "/dev/vfio/%d", info.iommu_group);
	if (!exists(gpath))
		report(d, FAIL, check, "%s absent: %s", gpath,
		       strcmp(info.driver, "vfio-pci") == 0
			       ? "vfio-pci should have created it; check dmesg"
			       : "it appears once the device is bound to vfio-pci");
	else if (access(gpath, R_OK | W_OK) < 0)
		report(d, FAIL, check, "%s not accessible (%s): run as root or 'chown <user> %s'",
		       gpath, strerror(errno), gpath);
	else
		report(d, OK, check, "%s accessible", gpath);
}

static int collect_vfio(const struct udk_pci_info *info, void *arg)
{
	struct doctor *d = arg;

	if (strcmp(info->driver, "vfio-pci") == 0) {
		check_device(d, &info->addr);
		d->devices++;
	}
	return 0;
}

/* The report lines carry what went wrong; the library's own error lines
 * would only repeat it. */
static void quiet_sink(int level, const char *component, const char *msg, void *arg)
{
	(void)level;
	(void)component;
	(void)msg;
	(void)arg;
}

int cmd_doctor(const struct udk_pci_addr *addrs, int naddrs, bool json)
{
	struct doctor d = {.json = json};

	udk_log_set_sink(quiet_sink, NULL);
	if (json)
		printf("{\"checks\": [");

	check_iommu(&d);
	check_vfio_pci(&d);
	check_dev_vfio(&d);
	check_iommufd(&d);
	check_dma_entry_limit(&d);
	check_memlock(&d);
	check_hugepages(&d);
	check_hugetlbfs(&d);
	if (naddrs > 0)
		for (int i = 0; i < naddrs; i++)
			check_device(&d, &addrs[i]);
	else if (udk_pci_scan(collect_vfio, &d) < 0)
		report(&d, FAIL, "devices", "%s", udk_last_error());
	else if (d.devices == 0)
		report(&d, OK, "devices", "none bound to vfio-pci (name one: 'udk-devbind doctor "
		       "BDF'; bind one: 'udk-devbind bind BDF')");
	if (json)
		printf("\n  ], \"fails\": %d, \"warns\": %d}\n", d.fails, d.warns);
	else
		printf("%d FAIL, %d WARN\n", d.fails, d.warns);
	return d.fails ? EXIT_FAIL : EXIT_OK;
}
