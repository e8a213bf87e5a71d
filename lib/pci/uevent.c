/* SPDX-License-Identifier: BSD-3-Clause */
/* uevent.c - the hot-add monitor: the kernel's device events (netlink,
 * NETLINK_KOBJECT_UEVENT), read on the hot-plug thread; a PCI function that
 * appears and matches the application's allow-list is bound to vfio-pci
 * (when asked), opened, attached to the monitor's map and handed to the
 * event callbacks.  Nothing else of the map or its devices is touched. */
#include <errno.h>
#include <linux/netlink.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pci_internal.h"
#include "udk_util.h"

#define UEVENT_BUF 8192

static struct {
	pthread_mutex_t lock;
	int fd;                   /* the netlink socket, or -1 */
	struct udk_dmamap *map;
	bool bind;
	struct udk_pci_id *ids;
	size_t nb_ids;
	struct udk_pci_addr *addrs;
	size_t nb_addrs;
} mon = {.lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1};

void udk_pci_hotadd_opts_init(struct udk_pci_hotadd_opts *opts, size_t size)
{
	struct udk_pci_hotadd_opts d = {.opts_size = size};

	memset(opts, 0, size);
	memcpy(opts, &d, size < sizeof(d) ? size : sizeof(d));
}

static void mon_clear(void)
{
	if (mon.fd >= 0) {
		pci_hotplug_unwatch(mon.fd);
		close(mon.fd);
	}
	if (mon.map != NULL)
		udk_dmamap_put(mon.map);
	free(mon.ids);
	free(mon.addrs);
	mon.fd = -1;
	mon.map = NULL;
	mon.ids = NULL;
	mon.addrs = NULL;
	mon.nb_ids = mon.nb_addrs = 0;
}

int udk_pci_hotadd_start(const struct udk_pci_hotadd_opts *opts)
{
	struct udk_pci_hotadd_opts o;
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = 1}; /* the kernel's */
	int rc;

	udk_pci_hotadd_opts_init(&o, sizeof(o));
	if (opts != NULL)
		memcpy(&o, opts, opts->opts_size < sizeof(o) ? opts->opts_size : sizeof(o));
	if (o.map == NULL || (o.nb_ids == 0 && o.nb_addrs == 0)) {
		udk_log(UDK_LOG_ERR, "pci", "hot-add monitor: %s", o.map == NULL
			? "no map given (the map new devices attach to)"
			: "the allow-list is empty: give vendor:device pairs or addresses");
		return -EINVAL;
	}
	pthread_mutex_lock(&mon.lock);
	if (mon.fd >= 0) {
		pthread_mutex_unlock(&mon.lock);
		udk_log(UDK_LOG_ERR, "pci", "hot-add monitor: already running; stop it first");
		return -EBUSY;
	}
	mon.ids = calloc(o.nb_ids + 1, sizeof(*mon.ids));
	mon.addrs = calloc(o.nb_addrs + 1, sizeof(*mon.addrs));
	if (mon.ids == NULL || mon.addrs == NULL) {
		rc = -ENOMEM;
		goto err;
	}
	if (o.nb_ids)
		memcpy(mon.ids, o.ids, o.nb_ids * sizeof(*mon.ids));
	if (o.nb_addrs)
		memcpy(mon.addrs, o.addrs, o.nb_addrs * sizeof(*mon.addrs));
	mon.nb_ids = o.nb_ids;
	mon.nb_addrs = o.nb_addrs;
	mon.bind = o.bind;
	mon.map = udk_dmamap_get(o.map);
	mon.fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			NETLINK_KOBJECT_UEVENT);
	if (mon.fd < 0 || bind(mon.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		udk_log(UDK_LOG_ERR, "pci", "hot-add monitor: netlink uevent socket: %s",
			udk_strerror(rc));
		goto err;
	}
	rc = pci_hotplug_watch(mon.fd, PCI_TAG_UEVENT);
	if (rc < 0)
		goto err;
	pthread_mutex_unlock(&mon.lock);
	return 0;
err:
	mon_clear();
	pthread_mutex_unlock(&mon.lock);
	return rc;
}

void udk_pci_hotadd_stop(void)
{
	pthread_mutex_lock(&mon.lock);
	mon_clear();
	pthread_mutex_unlock(&mon.lock);
}

static bool allowed(const struct udk_pci_addr *a, uint16_t vid, uint16_t did)
{
	for (size_t i = 0; i < mon.nb_ids; i++)
		if (mon.ids[i].vendor_id == vid && mon.ids[i].device_id == did)
			return true;
	for (size_t i = 0; i < mon.nb_addrs; i++)
		if (udk_pci_addr_cmp(&mon.addrs[i], a) == 0)
			return true;
	return false;
}

/* The value of key in a uevent (NUL-separated KEY=VALUE after the header). */
static const char *uev_get(const char *buf, size_t len, const char *key)
{
	size_t kl = strlen(key);

	for (size_t off = strlen(buf) + 1; off < len; off += strlen(buf + off) + 1)
		if (strncmp(buf + off, key, kl) == 0 && buf[off + kl] == '=')
			return buf + off + kl + 1;
	return NULL;
}

/* Bind a device that just appeared.  The kernel sends "add" before it lets
 * drivers match the device (pci_bus_add_device() comes after the uevent), so
 * a drivers_probe now would find nothing to do; instead set driver_override
 * and let the kernel's own probe, a moment later, pick vfio-pci.  If it does
 * not within a second (it had probed already, or another driver took the
 * device), bind it the usual way. */
static int bind_new(const struct udk_pci_addr *addr, const char *slot)
{
	char path[512], drv[64];
	int rc;

	rc = pci_dev_path(addr, "driver_override", path, sizeof(path));
	if (rc == 0)
		rc = udk_sysfs_write(path, "vfio-pci");
	if (rc < 0) {
		udk_log(UDK_LOG_ERR, "pci", "hot-add: %s: writing driver_override: %s (root is "
			"needed to bind)", slot, udk_strerror(rc));
		return rc;
	}
	for (int i = 0; i < 50; i++) {
		if (pci_dev_path(addr, "driver", path, sizeof(path)) == 0 &&
		    udk_sysfs_link_name(path, drv, sizeof(drv)) == 0 && strcmp(drv, "vfio-pci") == 0)
			return 0;
		usleep(20000);
	}
	return udk_pci_bind_vfio(addr);
}

/* One kernel event; with mon.lock held.  May open a device: 1 and *out. */
static int handle(const char *buf, size_t len, struct udk_pci_dev **out)
{
	const char *action = uev_get(buf, len, "ACTION"), *sub = uev_get(buf, len, "SUBSYSTEM");
	const char *slot = uev_get(buf, len, "PCI_SLOT_NAME"), *id = uev_get(buf, len, "PCI_ID");
	const char *drv = uev_get(buf, len, "DRIVER");
	struct udk_pci_addr addr;
	struct udk_pci_info info;
	unsigned int vid, did;
	int rc;

	if (action == NULL || sub == NULL || slot == NULL || id == NULL || strcmp(sub, "pci"))
		return 0;
	if (strcmp(action, "add") && !(strcmp(action, "bind") == 0 && drv != NULL &&
				       strcmp(drv, "vfio-pci") == 0))
		return 0;
	if (pci_addr_parse_quiet(slot, &addr) < 0 || sscanf(id, "%x:%x", &vid, &did) != 2 ||
	    !allowed(&addr, (uint16_t)vid, (uint16_t)did) || pci_hotplug_addr_open(&addr))
		return 0;
	if (udk_pci_info_get(&addr, &info) < 0)
		return 0; /* gone again */
	if (strcmp(info.driver, "vfio-pci") != 0) {
		if (!mon.bind) {
			udk_log(UDK_LOG_INFO, "pci", "hot-add: %s (%04x:%04x) appeared; waiting for "
				"it to be bound to vfio-pci", slot, vid, did);
			return 0;
		}
		rc = bind_new(&addr, slot);
		if (rc < 0) {
			udk_log(UDK_LOG_ERR, "pci", "hot-add: %s (%04x:%04x): binding to vfio-pci "
				"failed (%s); it is left alone", slot, vid, did, udk_strerror(rc));
			return 0;
		}
	}
	rc = udk_pci_dev_open(&addr, mon.map, out);
	if (rc < 0) {
		udk_log(UDK_LOG_ERR, "pci", "hot-add: %s (%04x:%04x): open and attach to map %s "
			"failed (%s); it is left alone", slot, vid, did, udk_dmamap_name(mon.map),
			udk_strerror(rc));
		return 0;
	}
	udk_log(UDK_LOG_NOTICE, "pci", "hot-add: %s (%04x:%04x) opened and attached to map %s",
		slot, vid, did, udk_dmamap_name(mon.map));
	return 1;
}

void pci_uevent_readable(void)
{
	static char buf[UEVENT_BUF];

	for (;;) {
		struct sockaddr_nl from;
		struct iovec iov = {buf, sizeof(buf) - 1};
		struct msghdr mh = {.msg_name = &from, .msg_namelen = sizeof(from),
				    .msg_iov = &iov, .msg_iovlen = 1};
		struct udk_pci_dev *pdev = NULL;
		struct udk_pci_event ev;
		ssize_t n;
		int got;

		pthread_mutex_lock(&mon.lock);
		if (mon.fd < 0) {
			pthread_mutex_unlock(&mon.lock);
			return;
		}
		n = recvmsg(mon.fd, &mh, 0);
		if (n <= 0) {
			pthread_mutex_unlock(&mon.lock);
			return; /* EAGAIN: drained */
		}
		buf[n] = '\0';
		/* Only the kernel's own messages (port 0), never another process's. */
		got = from.nl_pid == 0 ? handle(buf, (size_t)n, &pdev) : 0;
		pthread_mutex_unlock(&mon.lock);
		if (got != 1)
			continue;
		memset(&ev, 0, sizeof(ev));
		ev.type = UDK_PCI_EVENT_ADDED;
		ev.pdev = pdev;
		ev.addr = udk_pci_dev_info(pdev)->addr;
		udk_pci_addr_format(&ev.addr, ev.bdf, sizeof(ev.bdf));
		ev.vendor_id = udk_pci_dev_info(pdev)->vendor_id;
		ev.device_id = udk_pci_dev_info(pdev)->device_id;
		pci_event_emit(&ev);
	}
}
