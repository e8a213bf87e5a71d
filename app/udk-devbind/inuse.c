/* SPDX-License-Identifier: BSD-3-Clause */
/* inuse.c - what the machine uses a device for, before udk-devbind takes it
 * from its kernel driver: a disk (or partition) that is mounted, an active
 * swap area or held by a stacked device (device mapper, md), a network
 * interface with an address or the default route.  Devices and interfaces
 * come from sysfs (udk_sysfs_root(), so fixtures can stand in); mounts, swap
 * areas, addresses and routes from the running kernel. */
#include <arpa/inet.h>
#include <dirent.h>
#include <glob.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "devbind.h"
#include "udk_util.h"

struct uses {
	const char *step, *bdf;
	int n;
	struct devbind_names *names; /* set: collect the names only, check nothing */
};

/* Append name to list (comma-separated), as far as it fits. */
static void add_name(char *list, size_t len, const char *name)
{
	size_t l = strlen(list), nl = strlen(name);

	for (const char *p = list; (p = strstr(p, name)) != NULL; p += nl)
		if ((p == list || p[-1] == ',') && (p[nl] == ',' || p[nl] == '\0'))
			return; /* a second path of the same multipath disk */
	if (l + nl + 2 <= len)
		snprintf(list + l, len - l, "%s%s", l ? "," : "", name);
}

static void use(struct uses *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void use(struct uses *u, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	errmsg("%s %s: in use: %s", u->step, u->bdf, msg);
	u->n++;
}

/* The mount points of block device maj:min (/proc/self/mountinfo's third
 * field; mount points keep the kernel's octal escapes, e.g. \040). */
static void mounts(struct uses *u, const char *name, const char *majmin)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096], dev[32], point[4000];

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%*s %*s %31s %*s %3999s", dev, point) == 2 &&
		    strcmp(dev, majmin) == 0)
			use(u, "/dev/%s is mounted on %s: unmount it first ('umount %s')", name,
			    point, point);
	fclose(f);
}

/* Active swap areas on block device maj:min (/proc/swaps names them by
 * path; a swap file lives on a mounted file system, found above). */
static void swaps(struct uses *u, const char *name, unsigned int maj, unsigned int min)
{
	FILE *f = fopen("/proc/swaps", "r");
	char line[4096], path[4000];
	struct stat st;

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%3999s", path) == 1 && path[0] == '/' && stat(path, &st) == 0 &&
		    S_ISBLK(st.st_mode) && major(st.st_rdev) == maj && minor(st.st_rdev) == min)
			use(u, "/dev/%s is an active swap area: 'swapoff %s' first", name, path);
	fclose(f);
}

/* One disk or partition: its sysfs directory dir. */
static void block_one(struct uses *u, const char *dir, const char *name)
{
	char path[4096], majmin[32];
	unsigned int maj, min;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/dev", dir);
	if (udk_sysfs_read(path, majmin, sizeof(majmin)) == 0 &&
	    sscanf(majmin, "%u:%u", &maj, &min) == 2) {
		mounts(u, name, majmin);
		swaps(u, name, maj, min);
	}
	snprintf(path, sizeof(path), "%s/holders", dir);
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			use(u, "/dev/%s is held by %s (device mapper, md or another stacked "
			    "device): stop %s first", name, de->d_name, de->d_name);
	closedir(d);
}

/* Disk name (class/block/NAME) and each of its partitions. */
static void block_disk(struct uses *u, const char *name)
{
	char dir[2048], path[4096];
	struct dirent *de;
	DIR *d;

	if (u->names != NULL) {
		add_name(u->names->disks, sizeof(u->names->disks), name);
		return;
	}
	snprintf(dir, sizeof(dir), "%s/class/block/%s", udk_sysfs_root(), name);
	block_one(u, dir, name);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s/partition", dir, de->d_name);
		if (de->d_name[0] != '.' && stat(path, &st) == 0) {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			block_one(u, path, de->d_name);
		}
	}
	closedir(d);
}

/* The last path component of each match of pattern. */
static void each_match(const char *pattern, void (*fn)(struct uses *, const char *),
		       struct uses *u)
{
	glob_t g;

	if (glob(pattern, 0, NULL, &g) != 0)
		return;
	for (size_t i = 0; i < g.gl_pathc; i++)
		fn(u, strrchr(g.gl_pathv[i], '/') + 1);
	globfree(&g);
}

/* An NVMe namespace under its controller: nvmeXnY, or under native
 * multipath the hidden path nvmeXcZnY of disk nvmeXnY. */
static void nvme_ns(struct uses *u, const char *entry)
{
	char name[256], *c;

	snprintf(name, sizeof(name), "%s", entry);
	c = strchr(name + 4, 'c');
	if (c != NULL && strchr(c, 'n') != NULL)
		memmove(c, strchr(c, 'n'), strlen(strchr(c, 'n')) + 1);
	if (strchr(name + 4, 'n') != NULL)
		block_disk(u, name);
}

/* The interface's addresses (getifaddrs; not IPv6 link-local ones, which
 * the kernel gives any interface that is up) and whether it carries a
 * default route (/proc/net/route, /proc/net/ipv6_route without reject
 * routes). */
static void netdev(struct uses *u, const char *ifname)
{
	char line[512], dev[64], dst[64], mask[64];
	struct ifaddrs *ifa, *i;
	unsigned int flags, plen;
	FILE *f;

	if (u->names != NULL) {
		add_name(u->names->ifs, sizeof(u->names->ifs), ifname);
		return;
	}
	if (getifaddrs(&ifa) == 0) {
		for (i = ifa; i != NULL; i = i->ifa_next) {
			char addr[INET6_ADDRSTRLEN] = "";
			int fam = i->ifa_addr ? i->ifa_addr->sa_family : AF_UNSPEC;

			if (strcmp(i->ifa_name, ifname) != 0 || (fam != AF_INET && fam != AF_INET6) ||
			    (fam == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(
				    &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr)))
				continue;
			inet_ntop(fam, fam == AF_INET ?
				  (void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr :
				  (void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
				  addr, sizeof(addr));
			use(u, "interface %s has address %s: remove it ('ip addr flush dev %s') "
			    "once nothing reaches the machine through it", ifname, addr, ifname);
		}
		freeifaddrs(ifa);
	}
	if ((f = fopen("/proc/net/route", "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "%63s %63s %*s %x %*s %*s %*s %63s", dev, dst, &flags,
				   mask) == 4 && strcmp(dev, ifname) == 0 &&
			    strcmp(dst, "00000000") == 0 && strcmp(mask, "00000000") == 0 &&
			    (flags & 1))
				use(u, "interface %s carries the IPv4 default route: move the route "
				    "to another interface first", ifname);
		fclose(f);
	}
	if ((f = fopen("/proc/net/ipv6_route", "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "%63s %x %*s %*s %*s %*s %*s %*s %x %63s", dst, &plen,
				   &flags, dev) == 4 && strcmp(dev, ifname) == 0 && plen == 0 &&
			    strspn(dst, "0") == 32 && !(flags & 0x0200)) /* RTF_REJECT */
				use(u, "interface %s carries the IPv6 default route: move the route "
				    "to another interface first", ifname);
		fclose(f);
	}
}

int devbind_refuse_in_use(const char *step, const char *bdf, const char *drv, bool force)
{
	int n;

	if (drv[0] == '\0' || strcmp(drv, "vfio-pci") == 0)
		return 0; /* no kernel driver: nothing of the machine's runs on it */
	n = devbind_in_use(step, bdf);
	if (n == 0)
		return 0;
	if (force) {
		errmsg("%s %s: --force: taking it from %s although the machine uses it", step,
		       bdf, drv);
		return 0;
	}
	errmsg("%s %s: refused: the machine uses it through %s (above), and binding it to "
	       "vfio-pci would pull it from under them; free it as said, or give --force to "
	       "bind it anyway", step, bdf, drv);
	return 1;
}

/* Where the kernel's names of a device's functions are: NVMe namespaces,
 * disks, interfaces (virtio's one level down). */
static void walk(struct uses *u)
{
	char dev[512], pat[640];

	snprintf(dev, sizeof(dev), "%s/bus/pci/devices/%s", udk_sysfs_root(), u->bdf);
	snprintf(pat, sizeof(pat), "%s/nvme/*/nvme*", dev);
	each_match(pat, nvme_ns, u);
	snprintf(pat, sizeof(pat), "%s/block/*", dev);   /* e.g. a SCSI-less disk */
	each_match(pat, block_disk, u);
	snprintf(pat, sizeof(pat), "%s/*/block/*", dev); /* virtio-blk: virtioN/block */
	each_match(pat, block_disk, u);
	snprintf(pat, sizeof(pat), "%s/net/*", dev);
	each_match(pat, netdev, u);
	snprintf(pat, sizeof(pat), "%s/*/net/*", dev);   /* virtio-net: virtioN/net */
	each_match(pat, netdev, u);
}

int devbind_in_use(const char *step, const char *bdf)
{
	struct uses u = {step, bdf, 0, NULL};

	walk(&u);
	return u.n;
}

void devbind_kernel_names(const char *bdf, struct devbind_names *names)
{
	struct uses u = {"names", bdf, 0, names};

	names->ifs[0] = names->disks[0] = '\0';
	walk(&u);
}
