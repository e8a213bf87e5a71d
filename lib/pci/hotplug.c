/* SPDX-License-Identifier: BSD-3-Clause */
/* hotplug.c - surprise removal: every open device's VFIO request interrupt
 * on an eventfd, one control thread (epoll) that watches them and the
 * hot-add monitor's netlink socket (uevent.c), the removal steps (driver
 * handler, BAR tombstones, close) and the event callbacks.  The fast path
 * never calls in here: drivers read their own removed flags, and a BAR
 * access that races with removal reaches anonymous memory, not a hole. */
#include <errno.h>
#include <linux/vfio.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pci_internal.h"
#include "udk_util.h"

#define MAX_CALLBACKS 8
#define TAG_WAKE 0ull

static struct {
	pthread_mutex_t lock;       /* the device list; held through a removal */
	struct udk_pci_dev *devs;
	uint64_t next_serial;
	pthread_mutex_t thr_lock;   /* starting and stopping the thread */
	int epfd, wake_efd;
	bool running;
	pthread_t thr;
	pthread_mutex_t cb_lock;
	struct {
		udk_pci_event_fn fn;
		void *arg;
	} cb[MAX_CALLBACKS];
} hp = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.next_serial = PCI_TAG_UEVENT + 1,
	.thr_lock = PTHREAD_MUTEX_INITIALIZER,
	.epfd = -1,
	.wake_efd = -1,
	.cb_lock = PTHREAD_MUTEX_INITIALIZER,
};

/* ---- event callbacks ---- */

int udk_pci_event_register(udk_pci_event_fn fn, void *arg)
{
	int rc = -ENOSPC;

	if (fn == NULL) {
		udk_log(UDK_LOG_ERR, "pci", "event register: no callback given");
		return -EINVAL;
	}
	pthread_mutex_lock(&hp.cb_lock);
	for (int i = 0; i < MAX_CALLBACKS; i++)
		if (hp.cb[i].fn == fn && hp.cb[i].arg == arg) {
			rc = -EEXIST;
			goto out;
		}
	for (int i = 0; i < MAX_CALLBACKS; i++)
		if (hp.cb[i].fn == NULL) {
			hp.cb[i].fn = fn;
			hp.cb[i].arg = arg;
			rc = 0;
			goto out;
		}
out:
	pthread_mutex_unlock(&hp.cb_lock);
	if (rc == -ENOSPC)
		udk_log(UDK_LOG_ERR, "pci", "event register: all %d callback slots are taken; "
			"unregister one first", MAX_CALLBACKS);
	return rc;
}

int udk_pci_event_unregister(udk_pci_event_fn fn, void *arg)
{
	int rc = -ENOENT;

	pthread_mutex_lock(&hp.cb_lock);
	for (int i = 0; i < MAX_CALLBACKS; i++)
		if (hp.cb[i].fn == fn && hp.cb[i].arg == arg) {
			hp.cb[i].fn = NULL;
			hp.cb[i].arg = NULL;
			rc = 0;
		}
	pthread_mutex_unlock(&hp.cb_lock);
	return rc;
}

void pci_event_emit(const struct udk_pci_event *ev)
{
	__typeof__(hp.cb) cb;

	pthread_mutex_lock(&hp.cb_lock);
	memcpy(cb, hp.cb, sizeof(cb));
	pthread_mutex_unlock(&hp.cb_lock);
	for (int i = 0; i < MAX_CALLBACKS; i++)
		if (cb[i].fn != NULL)
			cb[i].fn(ev, cb[i].arg);
}

/* ---- the thread ---- */

static void on_request(uint64_t serial);

static void *hotplug_main(void *arg)
{
	struct epoll_event evs[16];
	uint64_t v;

	(void)arg;
	for (;;) {
		int n = epoll_wait(hp.epfd, evs, (int)UDK_ARRAY_SIZE(evs), -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			udk_log(UDK_LOG_ERR, "pci", "hot-plug thread: epoll_wait: %s; device removal "
				"is no longer watched", strerror(errno));
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;

			if (tag == TAG_WAKE) {
				if (read(hp.wake_efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					return NULL;
				return NULL; /* only udk_pci_hotplug_fini() wakes it */
			}
			if (tag == PCI_TAG_UEVENT)
				pci_uevent_readable();
			else
				on_request(tag);
		}
	}
}

/* Start the thread if it is not running.  0 or -errno (logged). */
static int thread_start(void)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_WAKE};
	int rc = 0;

	pthread_mutex_lock(&hp.thr_lock);
	if (hp.running)
		goto out;
	hp.epfd = epoll_create1(EPOLL_CLOEXEC);
	hp.wake_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (hp.epfd < 0 || hp.wake_efd < 0 ||
	    epoll_ctl(hp.epfd, EPOLL_CTL_ADD, hp.wake_efd, &ev) < 0) {
		rc = -errno;
		goto err;
	}
	rc = -pthread_create(&hp.thr, NULL, hotplug_main, NULL);
	if (rc < 0)
		goto err;
	pthread_setname_np(hp.thr, "udk-hotplug");
	hp.running = true;
	goto out;
err:
	udk_log(UDK_LOG_ERR, "pci", "cannot start the hot-plug thread (epoll, eventfd or "
		"thread): %s; device removal will not be noticed", udk_strerror(rc));
	if (hp.epfd >= 0)
		close(hp.epfd);
	if (hp.wake_efd >= 0)
		close(hp.wake_efd);
	hp.epfd = hp.wake_efd = -1;
out:
	pthread_mutex_unlock(&hp.thr_lock);
	return rc;
}

int pci_hotplug_watch(int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};
	int rc = thread_start();

	if (rc < 0)
		return rc;
	if (epoll_ctl(hp.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		rc = -errno;
		udk_log(UDK_LOG_ERR, "pci", "hot-plug thread: epoll_ctl ADD: %s", udk_strerror(rc));
	}
	return rc;
}

void pci_hotplug_unwatch(int fd)
{
	if (hp.epfd >= 0)
		epoll_ctl(hp.epfd, EPOLL_CTL_DEL, fd, NULL);
}

void udk_pci_hotplug_fini(void)
{
	uint64_t one = 1;

	udk_pci_hotadd_stop();
	pthread_mutex_lock(&hp.thr_lock);
	if (hp.running) {
		if (write(hp.wake_efd, &one, sizeof(one)) == sizeof(one))
			pthread_join(hp.thr, NULL);
		close(hp.epfd);
		close(hp.wake_efd);
		hp.epfd = hp.wake_efd = -1;
		hp.running = false;
	}
	pthread_mutex_unlock(&hp.thr_lock);
}

/* ---- the device list ---- */

void pci_hotplug_track(struct udk_pci_dev *p)
{
	pthread_mutex_lock(&hp.lock);
	p->serial = hp.next_serial++;
	p->next = hp.devs;
	hp.devs = p;
	pthread_mutex_unlock(&hp.lock);
}

void pci_hotplug_untrack(struct udk_pci_dev *p)
{
	pthread_mutex_lock(&hp.lock); /* waits for a removal of p in progress */
	for (struct udk_pci_dev **pp = &hp.devs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	pthread_mutex_unlock(&hp.lock);
}

bool pci_hotplug_addr_open(const struct udk_pci_addr *addr)
{
	bool found = false;

	pthread_mutex_lock(&hp.lock);
	for (struct udk_pci_dev *p = hp.devs; p != NULL && !found; p = p->next)
		found = udk_pci_addr_cmp(&p->info.addr, addr) == 0 &&
			!__atomic_load_n(&p->removed, __ATOMIC_ACQUIRE);
	pthread_mutex_unlock(&hp.lock);
	return found;
}

/* ---- the request interrupt ---- */

static int req_set(struct udk_pci_dev *p, int fd, int efd)
{
	struct {
		struct vfio_irq_set set;
		int32_t fd;
	} s = {0};

	s.set.argsz = sizeof(s);
	s.set.flags = (efd >= 0 ? VFIO_IRQ_SET_DATA_EVENTFD : VFIO_IRQ_SET_DATA_NONE) |
		      VFIO_IRQ_SET_ACTION_TRIGGER;
	s.set.index = VFIO_PCI_REQ_IRQ_INDEX;
	s.set.count = efd >= 0 ? 1 : 0;
	s.fd = efd;
	if (efd < 0)
		s.set.argsz = sizeof(s.set);
	if (ioctl(fd, VFIO_DEVICE_SET_IRQS, &s) < 0) {
		int rc = -errno;

		if (efd >= 0)
			udk_log(UDK_LOG_ERR, "pci", "%s: VFIO_DEVICE_SET_IRQS (request interrupt): %s",
				p->bdf, udk_strerror(rc));
		return rc;
	}
	return 0;
}

int pci_req_irq_enable(struct udk_pci_dev *p, int fd)
{
	struct vfio_irq_info ii = {.argsz = sizeof(ii), .index = VFIO_PCI_REQ_IRQ_INDEX};
	int efd, rc;

	if (ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, &ii) < 0 || ii.count == 0 ||
	    !(ii.flags & VFIO_IRQ_INFO_EVENTFD)) {
		udk_log(UDK_LOG_NOTICE, "pci", "%s: VFIO offers no request interrupt: a hot-unplug "
			"of this device will wait for the process to close it", p->bdf);
		return -ENOTSUP;
	}
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0) {
		rc = -errno;
		udk_log(UDK_LOG_ERR, "pci", "%s: eventfd for the request interrupt: %s", p->bdf,
			udk_strerror(rc));
		return rc;
	}
	rc = req_set(p, fd, efd);
	if (rc < 0)
		goto err_close;
	rc = pci_hotplug_watch(efd, p->serial);
	if (rc < 0) {
		req_set(p, fd, -1);
		goto err_close;
	}
	p->req_efd = efd;
	p->req_fd = fd;
	return 0;
err_close:
	close(efd);
	return rc;
}

void pci_req_irq_drop(struct udk_pci_dev *p)
{
	if (p->req_efd < 0)
		return;
	if (p->req_fd >= 0)
		req_set(p, p->req_fd, -1); /* fails harmlessly when the device is gone */
	pci_hotplug_unwatch(p->req_efd);
	close(p->req_efd);
	p->req_efd = p->req_fd = -1;
}

/* ---- removal ---- */

/* Swap each mapped BAR for private memory full of ones, in one step
 * (mremap over the mapping): an access racing with it sees either the
 * device or the tombstone, never a hole. */
static void tombstone_bars(struct udk_pci_dev *p)
{
	for (int i = 0; i < PCI_NUM_BARS; i++) {
		struct pci_bar *b = &p->bars[i];
		void *t;

		if (b->va == NULL || b->tombstone)
			continue;
		t = mmap(NULL, b->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (t != MAP_FAILED) {
			memset(t, 0xff, b->len);
			if (mremap(t, b->len, b->len, MREMAP_MAYMOVE | MREMAP_FIXED, b->va) != MAP_FAILED) {
				b->tombstone = true;
				continue;
			}
			munmap(t, b->len);
		}
		/* No memory for a tombstone: map zeros over it in place (one call). */
		if (mmap(b->va, b->len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
			b->tombstone = true;
			continue;
		}
		udk_log(UDK_LOG_ERR, "pci", "%s: BAR %d could not be replaced (%s): it stays "
			"mapped and the kernel's unplug waits until the device is closed", p->bdf,
			i, strerror(errno));
	}
}

/* The removal steps, with hp.lock held.  True when this call removed it. */
static bool do_remove(struct udk_pci_dev *p, const char *why, struct udk_pci_event *ev)
{
	struct udk_device *dev;
	udk_pci_remove_fn fn;
	void *arg;

	pthread_mutex_lock(&p->lock);
	if (p->removed) {
		pthread_mutex_unlock(&p->lock);
		return false;
	}
	__atomic_store_n(&p->removed, 1, __ATOMIC_RELEASE);
	fn = p->remove_fn;
	arg = p->remove_arg;
	pthread_mutex_unlock(&p->lock);

	udk_log(UDK_LOG_NOTICE, "pci", "%s: removed (%s): stopping its queues and closing it",
		p->bdf, why);
	if (fn != NULL)
		fn(p, arg);

	pthread_mutex_lock(&p->lock);
	tombstone_bars(p);
	dev = p->dev;
	p->dev = NULL;
	udk_device_close(dev); /* detach (release: MSI-X, request irq), device fd, group */
	pthread_mutex_unlock(&p->lock);

	memset(ev, 0, sizeof(*ev));
	ev->type = UDK_PCI_EVENT_REMOVED;
	ev->addr = p->info.addr;
	snprintf(ev->bdf, sizeof(ev->bdf), "%s", p->bdf);
	ev->vendor_id = p->info.vendor_id;
	ev->device_id = p->info.device_id;
	ev->pdev = p;
	return true;
}

static void on_request(uint64_t serial)
{
	struct udk_pci_event ev;
	struct udk_pci_dev *p;
	bool done = false;
	uint64_t v;

	pthread_mutex_lock(&hp.lock);
	for (p = hp.devs; p != NULL; p = p->next)
		if (p->serial == serial)
			break;
	if (p != NULL && p->req_efd >= 0 && read(p->req_efd, &v, sizeof(v)) == sizeof(v))
		done = do_remove(p, "the kernel asked for it back", &ev);
	pthread_mutex_unlock(&hp.lock);
	if (done)
		pci_event_emit(&ev);
}

int udk_pci_dev_remove(struct udk_pci_dev *pdev)
{
	struct udk_pci_event ev;
	bool done;

	pthread_mutex_lock(&hp.lock);
	done = do_remove(pdev, "udk_pci_dev_remove", &ev);
	pthread_mutex_unlock(&hp.lock);
	if (done)
		pci_event_emit(&ev);
	return 0;
}

void udk_pci_dev_set_remove_handler(struct udk_pci_dev *pdev, udk_pci_remove_fn fn, void *arg)
{
	/* hp.lock: a removal in progress finishes with the old handler before
	 * its owner (clearing it on the way to free its state) goes on. */
	pthread_mutex_lock(&hp.lock);
	pthread_mutex_lock(&pdev->lock);
	pdev->remove_fn = fn;
	pdev->remove_arg = arg;
	pthread_mutex_unlock(&pdev->lock);
	pthread_mutex_unlock(&hp.lock);
}

bool udk_pci_dev_removed(const struct udk_pci_dev *pdev)
{
	return __atomic_load_n(&pdev->removed, __ATOMIC_RELAXED) != 0;
}
