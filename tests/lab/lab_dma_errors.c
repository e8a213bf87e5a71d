/* SPDX-License-Identifier: BSD-3-Clause */
/* lab_dma_errors: every error of the map object and of device opening that
 * the lab can produce, each checked for its code and for the words of its
 * message: device not bound, group not viable (a pcie-pci-bridge puts two
 * e1000 in one group; one stays on its kernel driver), group (type1) or device
 * (iommufd) held by another process, group already in another map, device
 * incompatible with a map, VFIO missing, iommufd missing (where the kernel
 * has it), RLIMIT_MEMLOCK too low, overlapping and inexact mappings on a
 * live map, no such device.  Holds for whichever backend AUTO picks. */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "labbackend.h"
#include "labdev.h"
#include "udk_eal.h"
#include "udk_util.h"

#define STEP(...) printf("\n== " __VA_ARGS__), printf("\n"), fflush(stdout)

static int find(uint16_t ven, uint16_t dev, int nth, char *bdf)
{
	struct udk_pci_addr a;

	return lab_find(ven, dev, nth, &a, bdf, 16);
}

static int not_bound_and_not_viable(void)
{
	char ea[16], eb[16];
	struct udk_pci_addr aa, ab;
	struct udk_device *da, *db;
	struct udk_dmamap *m1, *m2;

	LAB_CHECK_RC(find(0x8086, 0x100e, 0, ea), 0);
	LAB_CHECK_RC(find(0x8086, 0x100e, 1, eb), 0);
	LAB_CHECK_RC(udk_pci_addr_parse(ea, &aa), 0);
	LAB_CHECK_RC(udk_pci_addr_parse(eb, &ab), 0);

	STEP("device not bound to vfio-pci (%s has no driver yet)", eb);
	LAB_CHECK_RC(udk_device_open(eb, &db), -UDK_ENOTBOUND);
	LAB_CHECK(lab_last_error_has("not bound to a driver"));
	LAB_CHECK(lab_last_error_has("udk-devbind bind"));

	STEP("group not viable: %s on vfio-pci, %s on the kernel's e1000", ea, eb);
	LAB_CHECK(system("modprobe e1000") == 0);
	LAB_CHECK_RC(udk_pci_bind_vfio(&aa), 0);
	LAB_CHECK_RC(udk_device_open(ea, &da), -UDK_EGROUP_NOT_VIABLE);
	char want[96];
	snprintf(want, sizeof(want), "%s is bound to e1000", eb);
	LAB_CHECK(lab_last_error_has("not viable"));
	LAB_CHECK(lab_last_error_has(want));

	STEP("bound to e1000 instead: %s", eb);
	LAB_CHECK_RC(udk_device_open(eb, &db), -UDK_ENOTBOUND);
	LAB_CHECK(lab_last_error_has("bound to e1000, not to vfio-pci"));

	STEP("both on vfio-pci: the group is viable; its devices share one map");
	LAB_CHECK_RC(udk_pci_bind_vfio(&ab), 0);
	LAB_CHECK_RC(udk_device_open(ea, &da), 0);
	LAB_CHECK_RC(udk_device_open(eb, &db), 0);
	LAB_CHECK(udk_device_iommu_group(da) == udk_device_iommu_group(db));
	LAB_CHECK_RC(udk_dmamap_create(NULL, &m1), 0);
	LAB_CHECK_RC(udk_dmamap_create(NULL, &m2), 0);
	LAB_CHECK(lab_backend_ok(m1));
	LAB_CHECK_RC(udk_device_attach(da, m1), 0);
	LAB_CHECK_RC(udk_device_attach(db, m2), -UDK_EGROUP_BUSY);
	LAB_CHECK(lab_last_error_has("is already in"));
	LAB_CHECK(lab_last_error_has(udk_dmamap_name(m1)));
	LAB_CHECK_RC(udk_device_attach(db, m1), 0);
	udk_device_close(db);
	udk_device_close(da);
	udk_dmamap_put(m1);
	udk_dmamap_put(m2);
	/* Leave the bridge's devices to their kernel driver again. */
	LAB_CHECK_RC(udk_pci_unbind_vfio(&aa), 0);
	LAB_CHECK_RC(udk_pci_unbind_vfio(&ab), 0);
	return 0;
}

/* Type1: opening a device holds its group file, so a second process fails
 * at open.  iommufd: open holds nothing; the device is taken when it is
 * bound at attach, and a second process fails there. */
static int group_held_by_another_process(const char *nvme)
{
	int ready[2], done[2], fd;
	enum udk_dmamap_backend b;
	struct udk_device *dev;
	char c = 0, why[256];
	pid_t pid;
	int status;
	bool cdev;

	udk_dmamap_auto_backend(nvme, &b, why, sizeof(why));
	cdev = b == UDK_DMAMAP_IOMMUFD;
	STEP("%s", cdev ? "device held by another process (iommufd: bound through its cdev)"
			: "IOMMU group held by another process");
	LAB_CHECK(pipe(ready) == 0 && pipe(done) == 0);
	pid = fork();
	if (pid == 0) {
		struct udk_device *d;
		int rc = udk_device_open(nvme, &d);
		if (rc == 0 && cdev)
			rc = udk_device_fd(d, &fd);
		c = rc == 0 ? 'y' : 'n';
		if (write(ready[1], &c, 1) != 1 || read(done[0], &c, 1) != 1)
			_exit(3);
		_exit(rc == 0 ? 0 : 2);
	}
	LAB_CHECK(read(ready[0], &c, 1) == 1 && c == 'y');
	if (cdev) {
		LAB_CHECK_RC(udk_device_open(nvme, &dev), 0);
		LAB_CHECK_RC(udk_device_fd(dev, &fd), -UDK_EDEVBUSY);
		LAB_CHECK(lab_last_error_has("in use elsewhere: already open through its cdev"));
		udk_device_close(dev);
	} else {
		LAB_CHECK_RC(udk_device_open(nvme, &dev), -UDK_EGROUP_BUSY);
		LAB_CHECK(lab_last_error_has("held by another process"));
	}
	LAB_CHECK(write(done[1], "x", 1) == 1);
	LAB_CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		  WEXITSTATUS(status) == 0);
	LAB_CHECK_RC(udk_device_open(nvme, &dev), 0); /* free again */
	udk_device_close(dev);
	close(ready[0]);
	close(ready[1]);
	close(done[0]);
	close(done[1]);
	return 0;
}

static int incompatible_map(const char *nvme)
{
	struct udk_iova_range wide = {0x100000, (1ULL << 48) - 1};
	struct udk_dmamap_opts o;
	struct udk_dmamap *map, *ok;
	struct udk_device *dev;
	void *page;

	STEP("device incompatible with the map: a mapping above the IOMMU's 39 bits");
	udk_dmamap_opts_init(&o, sizeof(o));
	o.name = "wide";
	o.iova_ranges = &wide;
	o.nb_iova_ranges = 1;
	LAB_CHECK_RC(udk_dmamap_create(&o, &map), 0);
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	LAB_CHECK(page != MAP_FAILED);
	LAB_CHECK_RC(udk_dmamap_map_at(map, page, 4096, 1ULL << 45), 0);
	LAB_CHECK_RC(udk_device_open(nvme, &dev), 0);
	LAB_CHECK_RC(udk_device_attach(dev, map), -UDK_EINCOMPATIBLE);
	LAB_CHECK(lab_last_error_has("incompatible"));
	LAB_CHECK(lab_last_error_has("0x200000000000"));
	LAB_CHECK(udk_device_map(dev) == NULL);
	/* Nothing is left behind: the same device attaches to another map. */
	LAB_CHECK_RC(udk_dmamap_create(NULL, &ok), 0);
	LAB_CHECK_RC(udk_device_attach(dev, ok), 0);
	LAB_CHECK_RC(udk_device_detach(dev), 0);
	/* And to the wide map once the offending mapping is gone. */
	LAB_CHECK_RC(udk_dmamap_unmap(map, page, 4096), 0);
	LAB_CHECK_RC(udk_device_attach(dev, map), 0);

	STEP("overlapping and inexact mappings on a live map");
	uint64_t iova;
	LAB_CHECK_RC(udk_dmamap_map(map, page, 4096, &iova), 0);
	LAB_CHECK_RC(udk_dmamap_map(map, page, 4096, &iova), -UDK_EOVERLAP);
	LAB_CHECK(lab_last_error_has("overlaps"));
	LAB_CHECK_RC(udk_dmamap_map_at(map, (char *)page, 4096, iova), -UDK_EOVERLAP);
	LAB_CHECK_RC(udk_dmamap_unmap(map, page, 8192), -UDK_ENOTMAPPED);
	LAB_CHECK(lab_last_error_has("not exactly one mapping"));
	LAB_CHECK_RC(udk_dmamap_unmap(map, page, 4096), 0);
	udk_device_close(dev);
	udk_dmamap_put(ok);
	udk_dmamap_put(map);
	munmap(page, 4096);
	return 0;
}

/* A type1 map, whatever AUTO would pick: the container is its device. */
static int vfio_missing(const char *nvme)
{
	struct udk_dmamap_opts o;
	struct udk_device *dev;
	struct udk_dmamap *map;
	struct stat st;
	int rc;

	STEP("VFIO missing: /dev/vfio/vfio removed between open and attach");
	LAB_CHECK(stat("/dev/vfio/vfio", &st) == 0);
	LAB_CHECK_RC(udk_device_open(nvme, &dev), 0);
	udk_dmamap_opts_init(&o, sizeof(o));
	o.backend = UDK_DMAMAP_VFIO_TYPE1;
	LAB_CHECK_RC(udk_dmamap_create(&o, &map), 0);
	LAB_CHECK(unlink("/dev/vfio/vfio") == 0);
	rc = udk_device_attach(dev, map);
	LAB_CHECK(mknod("/dev/vfio/vfio", S_IFCHR | 0666, st.st_rdev) == 0);
	LAB_CHECK_RC(rc, -UDK_ENOVFIO);
	LAB_CHECK(lab_last_error_has("modprobe vfio-pci"));
	LAB_CHECK_RC(udk_device_attach(dev, map), 0); /* back again */
	udk_device_close(dev);
	udk_dmamap_put(map);
	return 0;
}

/* Where the kernel has iommufd: without /dev/iommu, asking for it says
 * which kernel option is missing. */
static int iommufd_missing(void)
{
	struct udk_dmamap_opts o;
	struct udk_dmamap *map;
	struct stat st;
	int rc;

	if (stat("/dev/iommu", &st) != 0)
		return 0;
	STEP("iommufd missing: /dev/iommu removed before a map asks for it");
	udk_dmamap_opts_init(&o, sizeof(o));
	o.backend = UDK_DMAMAP_IOMMUFD;
	LAB_CHECK(unlink("/dev/iommu") == 0);
	rc = udk_dmamap_create(&o, &map);
	LAB_CHECK(mknod("/dev/iommu", S_IFCHR | 0660, st.st_rdev) == 0);
	LAB_CHECK_RC(rc, -UDK_ENOIOMMUFD);
	LAB_CHECK(lab_last_error_has("CONFIG_IOMMUFD"));
	LAB_CHECK_RC(udk_dmamap_create(&o, &map), 0); /* back again */
	udk_dmamap_put(map);
	return 0;
}

static int memlock_too_low(const char *nvme)
{
	pid_t pid;
	int status;

	STEP("RLIMIT_MEMLOCK too low without CAP_IPC_LOCK");
	pid = fork();
	if (pid == 0) {
		struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
		struct __user_cap_data_struct d[2];
		struct rlimit rl = {64 << 10, 64 << 10};
		struct udk_device *dev;
		struct udk_dmamap *map;
		uint64_t iova;
		void *buf;

		if (udk_device_open(nvme, &dev) || udk_dmamap_create(NULL, &map) ||
		    udk_device_attach(dev, map))
			_exit(10);
		if (syscall(SYS_capget, &h, d) != 0)
			_exit(11);
		d[0].effective &= ~(1u << CAP_IPC_LOCK);
		if (syscall(SYS_capset, &h, d) != 0 || setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
			_exit(12);
		buf = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			   -1, 0);
		int rc = udk_dmamap_map(map, buf, 1 << 20, &iova);
		printf("  map of 1 MiB returned %s\n", udk_strerror_name(rc));
		if (rc != -UDK_EMEMLOCK)
			_exit(13);
		if (!lab_last_error_has("RLIMIT_MEMLOCK") || !lab_last_error_has("ulimit -l"))
			_exit(14);
		udk_device_close(dev);
		udk_dmamap_put(map);
		_exit(0);
	}
	LAB_CHECK(waitpid(pid, &status, 0) == pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fprintf(stderr, "child exit status %d\n", WEXITSTATUS(status));
	LAB_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return 0;
}

static int no_hugepages(void)
{
	char saved[32] = "";
	FILE *f;
	int rc;

	STEP("no hugepages: nr_hugepages set to 0 for one EAL start");
	f = fopen("/proc/sys/vm/nr_hugepages", "r");
	LAB_CHECK(f != NULL && fgets(saved, sizeof(saved), f) != NULL);
	fclose(f);
	LAB_CHECK_RC(udk_sysfs_write("/proc/sys/vm/nr_hugepages", "0"), 0);
	char *argv[] = {"lab", "-m", "16", NULL};
	udk_last_error_clear();
	rc = udk_eal_init(3, argv);
	if (rc >= 0) {
		/* Memory may be reserved lazily: the first allocation fails then. */
		void *p = udk_mem_default_zmalloc(4096, 0, UDK_SOCKET_ANY);
		rc = p == NULL ? -UDK_ENOHUGE : 0;
		udk_mem_default_free(p);
		udk_eal_cleanup();
	}
	LAB_CHECK_RC(udk_sysfs_write("/proc/sys/vm/nr_hugepages", saved), 0);
	LAB_CHECK_RC(rc, -UDK_ENOHUGE);
	LAB_CHECK(lab_last_error_has("nr_hugepages"));
	return 0;
}

static int bad_addresses(void)
{
	struct udk_pci_addr a;
	struct udk_device *dev;

	STEP("malformed and absent devices");
	LAB_CHECK_RC(udk_pci_addr_parse("00:1f.8", &a), -UDK_EBADADDR);
	LAB_CHECK_RC(udk_pci_addr_parse("0000:00:04.0x", &a), -UDK_EBADADDR);
	LAB_CHECK_RC(udk_device_open("0000:00:1e.0", &dev), -ENODEV);
	LAB_CHECK(lab_last_error_has("no such PCI device"));
	char *argv[] = {"lab", "--no-huge", "-a", "zz:00.0", NULL};
	LAB_CHECK(udk_eal_init(4, argv) < 0);
	LAB_CHECK(lab_last_error_has("zz:00.0"));
	return 0;
}

int main(void)
{
	char nvme[16];
	struct udk_pci_addr a;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (lab_find_bind(0x1b36, 0x0010, 0, &a, nvme, sizeof(nvme)) < 0)
		return LAB_FAIL;
	if (not_bound_and_not_viable() || group_held_by_another_process(nvme) ||
	    incompatible_map(nvme) || vfio_missing(nvme) || iommufd_missing() ||
	    memlock_too_low(nvme) || no_hugepages() || bad_addresses())
		return LAB_FAIL;
	printf("PASS\n");
	return LAB_PASS;
}
