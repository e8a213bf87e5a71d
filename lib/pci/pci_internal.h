/* SPDX-License-Identifier: BSD-3-Clause */
/* pci_internal.h - helpers shared by the files of lib/pci; not installed. */
#ifndef UDK_PCI_INTERNAL_H
#define UDK_PCI_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "udk_pci.h"

#define PCI_NUM_BARS 6

struct pci_bar {
	void *va;
	size_t len;
	bool tombstone; /* anonymous memory in place of a removed device's BAR */
};

struct udk_pci_dev {
	pthread_mutex_t lock;    /* control calls against each other and removal */
	struct udk_device *dev;  /* NULL once removed */
	struct udk_pci_info info;
	char bdf[UDK_PCI_ADDR_STRLEN];
	struct pci_bar bars[PCI_NUM_BARS];
	int *efds;               /* MSI-X eventfds, nvec of them */
	unsigned int nvec;
	/* hotplug.c */
	/* atomic: set once removal begins.  An int, not a bool: GCC 12 with
	 * ASan misreports a 1-byte atomic store here (-Wstringop-overflow). */
	int removed;
	int req_efd;             /* request interrupt eventfd, or -1 */
	int req_fd;              /* the device fd it was registered on */
	uint64_t serial;         /* tells this device from a closed one in epoll */
	udk_pci_remove_fn remove_fn;
	void *remove_arg;
	struct udk_pci_dev *next; /* the hot-plug list */
};

/* Parse without logging (sysfs directory names, whose form is known). */
int pci_addr_parse_quiet(const char *s, struct udk_pci_addr *addr);

/* "<sysfs root>/bus/pci/devices/<bdf>[/<attr>]" into buf; -ENAMETOOLONG. */
int pci_dev_path(const struct udk_pci_addr *addr, const char *attr, char *buf, size_t len);

/* "<sysfs root>/<rel>" into buf; -ENAMETOOLONG. */
int pci_sysfs_path(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* vfio_dev.c: the device fd with the request interrupt registered on it;
 * -UDK_EREMOVED once removed.  p->lock held. */
int pci_fd(struct udk_pci_dev *p, int *fd);

/* hotplug.c.  Every open device is on the hot-plug list from open to close;
 * its request interrupt (VFIO_PCI_REQ_IRQ_INDEX) is watched by the hot-plug
 * thread.  enable: p->lock held; drop: from the release callback. */
void pci_hotplug_track(struct udk_pci_dev *p);
void pci_hotplug_untrack(struct udk_pci_dev *p);
int pci_req_irq_enable(struct udk_pci_dev *p, int fd);
void pci_req_irq_drop(struct udk_pci_dev *p);
/* Emit an event to every registered callback (no lib/pci lock held). */
void pci_event_emit(const struct udk_pci_event *ev);
/* The hot-plug thread's epoll set: add/remove an fd with a 64-bit tag, and
 * whether a tracked, not removed, device has this address. */
int pci_hotplug_watch(int fd, uint64_t tag);
void pci_hotplug_unwatch(int fd);
bool pci_hotplug_addr_open(const struct udk_pci_addr *addr);

/* uevent.c: the hot-add monitor, fed by the hot-plug thread. */
#define PCI_TAG_UEVENT 1ull /* device serials start above it */
void pci_uevent_readable(void);

#endif
