/* SPDX-License-Identifier: BSD-3-Clause */
/* ethdev.c - the port table, probing through registered drivers, and the
 * control calls with their checks.  The burst calls are inline in
 * udk_ethdev.h over udk_eth_fp_[], which start fills and stop empties. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "udk_eal.h"
#include "udk_ethdev_driver.h"
#include "udk_telemetry.h"
#include "udk_util.h"

#define LOG "ethdev"

struct udk_eth_fp udk_eth_fp_[UDK_ETH_MAX_PORTS];

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct udk_eth_dev *ports[UDK_ETH_MAX_PORTS];
static struct udk_eth_driver *drivers;

/* The built-in drivers' anchors (generated from meson's udk_net_drivers).
 * Referring to the table here makes a static link that uses ethdev also
 * keep every built-in driver, whose constructor then registers it: without
 * it, libudk.a linked into a program kept none ("known: none"). */
extern const char *const udk_net_builtin_drivers[];
__attribute__((used)) static const char *const *const builtin_drivers = udk_net_builtin_drivers;

/* A stopped port's table answers every burst with nothing. */
static uint16_t no_burst(void *queue, struct udk_mbuf **pkts, uint16_t n)
{
	(void)queue;
	(void)pkts;
	(void)n;
	return 0;
}

static void fp_clear(uint16_t port)
{
	struct udk_eth_fp *fp = &udk_eth_fp_[port];

	fp->nb_rxq = fp->nb_txq = 0;
	fp->rx_burst = no_burst;
	fp->tx_burst = no_burst;
	memset(fp->rxq, 0, sizeof(fp->rxq));
	memset(fp->txq, 0, sizeof(fp->txq));
	fp->rx_intr_arm = NULL;
	fp->rx_intr_disarm = NULL;
}

void udk_eth_driver_register(struct udk_eth_driver *drv)
{
	pthread_mutex_lock(&lock);
	drv->next = drivers;
	drivers = drv;
	pthread_mutex_unlock(&lock);
}

#define OPTS_INIT(type, fn, ...)                                                           \
	void fn(type *c, size_t size)                                                      \
	{                                                                                  \
		type d = {.opts_size = size, __VA_ARGS__};                                 \
		memset(c, 0, size);                                                        \
		memcpy(c, &d, size < sizeof(d) ? size : sizeof(d));                       \
	}
OPTS_INIT(struct udk_eth_conf, udk_eth_conf_init, .nb_rx_queues = 1, .nb_tx_queues = 1,
	  .mtu = UDK_ETHER_MTU)
OPTS_INIT(struct udk_eth_rxq_conf, udk_eth_rxq_conf_init, .socket = UDK_SOCKET_ANY)
OPTS_INIT(struct udk_eth_txq_conf, udk_eth_txq_conf_init, .socket = UDK_SOCKET_ANY)

/* Copy a caller's options struct of any (older) size over the defaults. */
#define OPTS_COPY(dst, src, init)                                                          \
	do {                                                                               \
		init(&(dst), sizeof(dst));                                                 \
		memcpy(&(dst), (src),                                                      \
		       (src)->opts_size < sizeof(dst) ? (src)->opts_size : sizeof(dst));   \
		(dst).opts_size = sizeof(dst);                                             \
	} while (0)

static int alloc_port(const char *name, const struct udk_eth_driver *drv,
		      struct udk_eth_dev **out)
{
	for (uint16_t p = 0; p < UDK_ETH_MAX_PORTS; p++) {
		if (ports[p] != NULL && strcmp(ports[p]->name, name) == 0) {
			udk_log(UDK_LOG_ERR, LOG, "probe %s: a port of that name exists (port %u)",
				name, p);
			return -EEXIST;
		}
	}
	for (uint16_t p = 0; p < UDK_ETH_MAX_PORTS; p++) {
		if (ports[p] == NULL) {
			struct udk_eth_dev *dev = calloc(1, sizeof(*dev));
			if (dev == NULL)
				return -ENOMEM;
			dev->port = p;
			snprintf(dev->name, sizeof(dev->name), "%s", name);
			dev->drv = drv;
			*out = dev;
			return 0;
		}
	}
	udk_log(UDK_LOG_ERR, LOG, "probe %s: all %d ports are in use; close one first", name,
		UDK_ETH_MAX_PORTS);
	return -ENOSPC;
}

static int publish(struct udk_eth_dev *dev, uint16_t *port)
{
	fp_clear(dev->port);
	ports[dev->port] = dev;
	if (port != NULL)
		*port = dev->port;
	udk_log(UDK_LOG_INFO, LOG, "port %u: %s (%s)", dev->port, dev->name, dev->drv->name);
	return 0;
}

int udk_eth_probe_vdev(const char *spec, uint16_t *port)
{
	char name[64];
	const char *args = strchr(spec, ',');
	size_t len = args ? (size_t)(args - spec) : strlen(spec);
	struct udk_eth_driver *drv;
	struct udk_eth_dev *dev;
	int rc;

	if (len == 0 || len >= sizeof(name)) {
		udk_log(UDK_LOG_ERR, LOG, "--vdev '%s': expected NAME[,KEY=VALUE...]", spec);
		return -EINVAL;
	}
	memcpy(name, spec, len);
	name[len] = '\0';
	pthread_mutex_lock(&lock);
	for (drv = drivers; drv != NULL; drv = drv->next)
		if (drv->vdev_prefix && strncmp(name, drv->vdev_prefix, strlen(drv->vdev_prefix)) == 0)
			break;
	if (drv == NULL) {
		char known[256] = "";
		size_t k = 0;
		for (drv = drivers; drv != NULL && k < sizeof(known); drv = drv->next)
			if (drv->vdev_prefix)
				k += (size_t)snprintf(known + k, sizeof(known) - k, "%s%s*",
						      k ? ", " : "", drv->vdev_prefix);
		pthread_mutex_unlock(&lock);
		udk_log(UDK_LOG_ERR, LOG, "--vdev %s: no driver takes this name (known: %s)", name,
			known[0] ? known : "none");
		return -ENODEV;
	}
	rc = alloc_port(name, drv, &dev);
	if (rc == 0) {
		dev->mem = udk_mem_default(); /* software ports: the process's memory */
		rc = drv->probe_vdev(dev, name, args ? args + 1 : "");
		if (rc == 0)
			rc = publish(dev, port);
		else
			free(dev);
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

static void on_remove(struct udk_pci_dev *pdev, void *arg);

/* A port's rings and packet buffers come from the memory of its device's
 * map, whichever map that is: the port holds a reference from probe to
 * close. */
static int probe_one_pci(struct udk_eth_dev *dev, struct udk_pci_dev *pdev, uint16_t *port)
{
	int rc;

	dev->pdev = pdev;
	rc = udk_eal_device_mem_get(udk_pci_dev_device(pdev), &dev->mem);
	if (rc < 0)
		goto err_free; /* lib/eal said why */
	rc = dev->drv->probe_pci(dev, pdev);
	if (rc < 0)
		goto err_mem;
	return publish(dev, port);

err_mem:
	udk_eal_map_mem_put(dev->mem);
err_free:
	free(dev);
	return rc;
}

int udk_eth_probe_pci(struct udk_pci_dev *pdev, uint16_t *port)
{
	const struct udk_pci_info *info = udk_pci_dev_info(pdev);
	struct udk_eth_driver *drv;
	struct udk_eth_dev *dev;
	char bdf[UDK_PCI_ADDR_STRLEN];
	int rc = -ENODEV;

	udk_pci_addr_format(&info->addr, bdf, sizeof(bdf));
	pthread_mutex_lock(&lock);
	for (drv = drivers; drv != NULL && rc == -ENODEV; drv = drv->next) {
		for (size_t i = 0; drv->pci_ids && drv->pci_ids[i][0] != 0; i++) {
			if (drv->pci_ids[i][0] != info->vendor_id ||
			    drv->pci_ids[i][1] != info->device_id)
				continue;
			rc = alloc_port(bdf, drv, &dev);
			if (rc == 0)
				rc = probe_one_pci(dev, pdev, port);
			if (rc == 0)
				udk_pci_dev_set_remove_handler(pdev, on_remove, dev);
			break;
		}
	}
	pthread_mutex_unlock(&lock);
	if (rc == -ENODEV)
		udk_log(UDK_LOG_NOTICE, LOG, "%s (%04x:%04x): no network driver takes it", bdf,
			info->vendor_id, info->device_id);
	return rc;
}

int udk_eth_probe_eal(void)
{
	int n = 0, rc;

	for (size_t i = 0; i < udk_eal_nb_devices(); i++) {
		rc = udk_eth_probe_pci(udk_eal_device(i), NULL);
		if (rc == 0)
			n++;
		else if (rc != -ENODEV)
			return rc;
	}
	for (size_t i = 0; i < udk_eal_nb_vdevs(); i++) {
		rc = udk_eth_probe_vdev(udk_eal_vdev(i), NULL);
		if (rc < 0)
			return rc;
		n++;
	}
	return n;
}

/* ---- surprise removal (doc/hotplug.md) ---- */

/* lib/pci's hot-plug thread, under its lock: no ethdev lock here.  The
 * bursts see no queues from now on and return 0; the driver's rings and
 * the mbufs in them are released at close, on the application's thread. */
static void on_remove(struct udk_pci_dev *pdev, void *arg)
{
	struct udk_eth_dev *dev = arg;
	struct udk_eth_fp *fp = &udk_eth_fp_[dev->port];

	(void)pdev;
	__atomic_store_n(&fp->nb_rxq, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&fp->nb_txq, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&dev->removed, true, __ATOMIC_RELEASE);
	udk_log(UDK_LOG_NOTICE, LOG, "port %u (%s) removed: its bursts return 0; close it "
		"with udk_eth_dev_close()", dev->port, dev->name);
}

static bool is_removed(const struct udk_eth_dev *dev)
{
	return __atomic_load_n(&dev->removed, __ATOMIC_ACQUIRE);
}

static int refuse_removed(const struct udk_eth_dev *dev, const char *what)
{
	udk_log(UDK_LOG_ERR, LOG, "%s port %u (%s): the device was removed (hot-unplug); "
		"close the port", what, dev->port, dev->name);
	return -UDK_EREMOVED;
}

bool udk_eth_dev_is_removed(uint16_t port)
{
	bool r;

	pthread_mutex_lock(&lock);
	r = port < UDK_ETH_MAX_PORTS && ports[port] != NULL && is_removed(ports[port]);
	pthread_mutex_unlock(&lock);
	return r;
}

/* The device of port, with the lock held; logs and returns NULL if none. */
static struct udk_eth_dev *get_locked(uint16_t port, const char *what)
{
	pthread_mutex_lock(&lock);
	if (port < UDK_ETH_MAX_PORTS && ports[port] != NULL)
		return ports[port];
	pthread_mutex_unlock(&lock);
	udk_log(UDK_LOG_ERR, LOG, "%s: port %u does not exist (%u ports; see --vdev and -a)",
		what, port, udk_eth_dev_count());
	return NULL;
}

struct udk_eth_dev *udk_eth_dev_get(uint16_t port)
{
	return port < UDK_ETH_MAX_PORTS ? ports[port] : NULL;
}

unsigned int udk_eth_dev_count(void)
{
	unsigned int n = 0;

	for (uint16_t p = 0; p < UDK_ETH_MAX_PORTS; p++)
		n += ports[p] != NULL;
	return n;
}

bool udk_eth_dev_is_valid(uint16_t port)
{
	return udk_eth_dev_get(port) != NULL;
}

int udk_eth_dev_find(const char *name, uint16_t *port)
{
	for (uint16_t p = 0; p < UDK_ETH_MAX_PORTS; p++) {
		if (ports[p] != NULL && strcmp(ports[p]->name, name) == 0) {
			*port = p;
			return 0;
		}
	}
	return -ENODEV;
}

static void info_locked(struct udk_eth_dev *dev, struct udk_eth_dev_info *info)
{
	memset(info, 0, sizeof(*info));
	snprintf(info->driver, sizeof(info->driver), "%s", dev->drv->name);
	snprintf(info->name, sizeof(info->name), "%s", dev->name);
	dev->drv->ops->info(dev, info);
}

int udk_eth_dev_info_get(uint16_t port, struct udk_eth_dev_info *info)
{
	struct udk_eth_dev *dev = get_locked(port, "info");

	if (dev == NULL)
		return -ENODEV;
	info_locked(dev, info);
	pthread_mutex_unlock(&lock);
	return 0;
}

static void release_queues(struct udk_eth_dev *dev)
{
	for (int q = 0; q < UDK_ETH_MAX_QUEUES; q++) {
		if (dev->rxq[q] != NULL)
			dev->drv->ops->rxq_release(dev, dev->rxq[q]);
		if (dev->txq[q] != NULL)
			dev->drv->ops->txq_release(dev, dev->txq[q]);
		dev->rxq[q] = dev->txq[q] = NULL;
	}
}

static void rss_limits_locked(struct udk_eth_dev *dev, uint16_t *key_len, uint16_t *reta_len)
{
	*key_len = *reta_len = 0;
	if (dev->drv->ops->rss_limits != NULL && dev->drv->ops->rss_set != NULL)
		dev->drv->ops->rss_limits(dev, key_len, reta_len);
}

/* The checks of an application's RSS key and table against the device's
 * limits and the port's nrx receive queues: 0, or an error, logged. */
static int check_rss(struct udk_eth_dev *dev, const char *step,
		     const struct udk_eth_rss_conf *rss, uint16_t nrx)
{
	uint16_t key_len, reta_len;

	if (rss->key == NULL && rss->reta == NULL)
		return 0;
	rss_limits_locked(dev, &key_len, &reta_len);
	if (key_len == 0 || reta_len == 0) {
		udk_log(UDK_LOG_ERR, LOG, "%s port %u (%s): an RSS %s was given, but the device "
			"(driver %s) has no RSS configuration to set; leave conf.rss empty",
			step, dev->port, dev->name, rss->key != NULL ? "key" : "table",
			dev->drv->name);
		return -ENOTSUP;
	}
	if (rss->key != NULL && rss->key_len != key_len) {
		udk_log(UDK_LOG_ERR, LOG, "%s port %u (%s): an RSS key of %u bytes; the device "
			"takes %u (udk_eth_dev_rss_limits())", step, dev->port, dev->name,
			rss->key_len, key_len);
		return -EINVAL;
	}
	if (rss->reta != NULL && rss->reta_len != reta_len) {
		udk_log(UDK_LOG_ERR, LOG, "%s port %u (%s): an RSS table of %u entries; the "
			"device has %u (udk_eth_dev_rss_limits())", step, dev->port, dev->name,
			rss->reta_len, reta_len);
		return -EINVAL;
	}
	for (uint16_t i = 0; rss->reta != NULL && i < rss->reta_len; i++) {
		if (rss->reta[i] >= nrx) {
			udk_log(UDK_LOG_ERR, LOG, "%s port %u (%s): RSS table entry %u names rx queue "
				"%u; the port has %u rx queues", step, dev->port, dev->name, i,
				rss->reta[i], nrx);
			return -EINVAL;
		}
	}
	return 0;
}

int udk_eth_dev_rss_limits(uint16_t port, uint16_t *key_len, uint16_t *reta_len)
{
	struct udk_eth_dev *dev = get_locked(port, "RSS limits");

	if (dev == NULL)
		return -ENODEV;
	rss_limits_locked(dev, key_len, reta_len);
	pthread_mutex_unlock(&lock);
	return 0;
}

int udk_eth_dev_rss_update(uint16_t port, const struct udk_eth_rss_conf *rss)
{
	struct udk_eth_dev *dev = get_locked(port, "RSS update");
	int rc;

	if (dev == NULL)
		return -ENODEV;
	if (is_removed(dev)) {
		rc = refuse_removed(dev, "RSS update");
	} else if (!dev->configured) {
		udk_log(UDK_LOG_ERR, LOG, "RSS update of port %u: configure the port first", port);
		rc = -EBUSY;
	} else {
		rc = check_rss(dev, "RSS update of", rss, dev->conf.nb_rx_queues);
		if (rc == 0 && (rss->key != NULL || rss->reta != NULL))
			rc = dev->drv->ops->rss_set(dev, rss->key, rss->reta, false);
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

int udk_eth_dev_configure(uint16_t port, const struct udk_eth_conf *conf)
{
	struct udk_eth_dev *dev = get_locked(port, "configure");
	struct udk_eth_dev_info info;
	struct udk_eth_conf c;
	int rc = -EINVAL;

	if (dev == NULL)
		return -ENODEV;
	OPTS_COPY(c, conf, udk_eth_conf_init);
	info_locked(dev, &info);
	if (is_removed(dev)) {
		rc = refuse_removed(dev, "configure");
	} else if (dev->started) {
		udk_log(UDK_LOG_ERR, LOG, "configure port %u: stop the port first", port);
		rc = -EBUSY;
	} else if (c.nb_rx_queues == 0 || c.nb_rx_queues > info.max_rx_queues ||
		   c.nb_tx_queues == 0 || c.nb_tx_queues > info.max_tx_queues) {
		udk_log(UDK_LOG_ERR, LOG,
			"configure port %u (%s): %u rx and %u tx queues asked; the device has "
			"1..%u rx and 1..%u tx queues", port, dev->name, c.nb_rx_queues,
			c.nb_tx_queues, info.max_rx_queues, info.max_tx_queues);
	} else if (c.mtu < info.min_mtu || c.mtu > info.max_mtu) {
		udk_log(UDK_LOG_ERR, LOG, "configure port %u (%s): MTU %u is outside %u..%u", port,
			dev->name, c.mtu, info.min_mtu, info.max_mtu);
	} else if ((rc = check_rss(dev, "configure", &c.rss, c.nb_rx_queues)) != 0) {
		/* logged */
	} else {
		release_queues(dev);
		rc = dev->drv->ops->configure(dev, &c);
		if (rc == 0 && dev->drv->ops->rss_set != NULL)
			rc = dev->drv->ops->rss_set(dev, c.rss.key, c.rss.reta, true);
		/* The driver has its copy: no pointer into the caller's memory stays. */
		c.rss = (struct udk_eth_rss_conf){0};
		if (rc == 0) {
			dev->conf = c;
			dev->configured = true;
		}
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

/* Checks common to both queue kinds; logs and returns an error or 0. */
static int check_queue(struct udk_eth_dev *dev, const char *kind, uint16_t q, uint16_t nq,
		       uint16_t *nb_desc)
{
	struct udk_eth_dev_info info;

	if (is_removed(dev))
		return refuse_removed(dev, kind[0] == 'r' ? "rx queue setup" : "tx queue setup");
	info_locked(dev, &info);
	if (!dev->configured || dev->started) {
		udk_log(UDK_LOG_ERR, LOG, "%s queue %u of port %u: %s", kind, q, dev->port,
			dev->started ? "stop the port first" : "configure the port first");
		return -EBUSY;
	}
	if (q >= nq) {
		udk_log(UDK_LOG_ERR, LOG, "%s queue %u of port %u: the port was configured with "
			"%u %s queues", kind, q, dev->port, nq, kind);
		return -EINVAL;
	}
	if (*nb_desc == 0) /* the default: 256, within the device's limits */
		*nb_desc = 256 < info.min_desc ? info.min_desc : 256 > info.max_desc ? info.max_desc : 256;
	if (*nb_desc < info.min_desc || *nb_desc > info.max_desc) {
		udk_log(UDK_LOG_ERR, LOG, "%s queue %u of port %u: %u descriptors is outside the "
			"device's %u..%u", kind, q, dev->port, *nb_desc, info.min_desc,
			info.max_desc);
		return -EINVAL;
	}
	return 0;
}

/* The device writes received frames into the pool's buffers at their IOVAs:
 * those must be IOVAs of the device's map.  A pool on another map's heap is
 * refused; one on memory that is no map's heap (the caller mapped it) is the
 * caller's business. */
static int check_pool_map(const struct udk_eth_dev *dev, uint16_t q, const struct udk_mempool *mp)
{
	struct udk_dmamap *want, *have;

	if (dev->mem == NULL || mp->ops != NULL || mp->mem == dev->mem)
		return 0;
	want = udk_eal_mem_map(dev->mem);
	have = udk_eal_mem_map(mp->mem);
	if (have == NULL || have == want)
		return 0;
	udk_log(UDK_LOG_ERR, LOG, "rx queue %u of port %u: mempool %s is memory of map %s, but "
		"the port's device is on map %s; create the pool on udk_eth_dev_mem(%u)", q,
		dev->port, mp->name, udk_dmamap_name(have), want ? udk_dmamap_name(want) : "?",
		dev->port);
	return -EINVAL;
}

int udk_eth_rx_queue_setup(uint16_t port, uint16_t q, const struct udk_eth_rxq_conf *conf)
{
	struct udk_eth_dev *dev = get_locked(port, "rx queue setup");
	struct udk_eth_rxq_conf c;
	int rc;

	if (dev == NULL)
		return -ENODEV;
	OPTS_COPY(c, conf, udk_eth_rxq_conf_init);
	rc = check_queue(dev, "rx", q, dev->conf.nb_rx_queues, &c.nb_desc);
	if (rc == 0 && c.mp == NULL) {
		udk_log(UDK_LOG_ERR, LOG, "rx queue %u of port %u: no mempool given for received "
			"packets", q, port);
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = check_pool_map(dev, q, c.mp);
	if (rc == 0) {
		if (dev->rxq[q] != NULL)
			dev->drv->ops->rxq_release(dev, dev->rxq[q]);
		dev->rxq[q] = NULL;
		rc = dev->drv->ops->rxq_setup(dev, q, &c, &dev->rxq[q]);
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

int udk_eth_tx_queue_setup(uint16_t port, uint16_t q, const struct udk_eth_txq_conf *conf)
{
	struct udk_eth_dev *dev = get_locked(port, "tx queue setup");
	struct udk_eth_txq_conf c;
	int rc;

	if (dev == NULL)
		return -ENODEV;
	OPTS_COPY(c, conf, udk_eth_txq_conf_init);
	rc = check_queue(dev, "tx", q, dev->conf.nb_tx_queues, &c.nb_desc);
	if (rc == 0) {
		if (dev->txq[q] != NULL)
			dev->drv->ops->txq_release(dev, dev->txq[q]);
		dev->txq[q] = NULL;
		rc = dev->drv->ops->txq_setup(dev, q, &c, &dev->txq[q]);
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

int udk_eth_dev_start(uint16_t port)
{
	struct udk_eth_dev *dev = get_locked(port, "start");
	struct udk_eth_fp *fp = &udk_eth_fp_[port];
	int rc = 0;

	if (dev == NULL)
		return -ENODEV;
	if (is_removed(dev)) {
		rc = refuse_removed(dev, "start");
		goto out;
	}
	if (dev->started)
		goto out;
	for (uint16_t q = 0; dev->configured && q < dev->conf.nb_rx_queues; q++)
		if (dev->rxq[q] == NULL)
			rc = -EINVAL;
	for (uint16_t q = 0; dev->configured && q < dev->conf.nb_tx_queues; q++)
		if (dev->txq[q] == NULL)
			rc = -EINVAL;
	if (!dev->configured || rc < 0) {
		udk_log(UDK_LOG_ERR, LOG, "start port %u: %s", port,
			!dev->configured ? "configure the port first"
					 : "set up every configured rx and tx queue first");
		rc = dev->configured ? -EINVAL : -EBUSY;
		goto out;
	}
	rc = dev->drv->ops->start(dev);
	if (rc < 0)
		goto out;
	if (dev->drv->ops->promiscuous_set)
		dev->drv->ops->promiscuous_set(dev, dev->conf.promiscuous);
	memcpy(fp->rxq, dev->rxq, sizeof(fp->rxq));
	memcpy(fp->txq, dev->txq, sizeof(fp->txq));
	fp->rx_burst = dev->drv->ops->rx_burst;
	fp->tx_burst = dev->drv->ops->tx_burst;
	fp->rx_intr_arm = dev->drv->ops->rx_intr_arm;
	fp->rx_intr_disarm = dev->drv->ops->rx_intr_disarm;
	/* Publish the queue counts last: a burst that sees them sees the rest. */
	__atomic_store_n(&fp->nb_rxq, dev->conf.nb_rx_queues, __ATOMIC_RELEASE);
	__atomic_store_n(&fp->nb_txq, dev->conf.nb_tx_queues, __ATOMIC_RELEASE);
	dev->started = true;
out:
	pthread_mutex_unlock(&lock);
	return rc;
}

static void stop_locked(struct udk_eth_dev *dev)
{
	if (!dev->started)
		return;
	/* The caller guarantees no lcore is inside a burst of this port. */
	fp_clear(dev->port);
	if (!is_removed(dev)) /* a removed device has nothing to stop */
		dev->drv->ops->stop(dev);
	dev->started = false;
}

int udk_eth_dev_stop(uint16_t port)
{
	struct udk_eth_dev *dev = get_locked(port, "stop");

	if (dev == NULL)
		return -ENODEV;
	stop_locked(dev);
	pthread_mutex_unlock(&lock);
	return 0;
}

struct udk_mem *udk_eth_dev_mem(uint16_t port)
{
	struct udk_eth_dev *dev = get_locked(port, "memory");
	struct udk_mem *mem;

	if (dev == NULL)
		return NULL;
	mem = dev->mem;
	pthread_mutex_unlock(&lock);
	return mem;
}

int udk_eth_dev_close(uint16_t port)
{
	struct udk_eth_dev *dev = get_locked(port, "close");

	if (dev == NULL)
		return -ENODEV;
	if (dev->pdev != NULL)
		udk_pci_dev_set_remove_handler(dev->pdev, NULL, NULL);
	stop_locked(dev);
	release_queues(dev); /* removed or not: the mbufs in the rings go back */
	dev->drv->ops->close(dev);
	if (dev->pdev != NULL)
		udk_eal_map_mem_put(dev->mem);
	ports[port] = NULL;
	fp_clear(port);
	pthread_mutex_unlock(&lock);
	free(dev);
	return 0;
}

void udk_eth_close_all(void)
{
	for (uint16_t p = 0; p < UDK_ETH_MAX_PORTS; p++)
		if (ports[p] != NULL)
			udk_eth_dev_close(p);
}

int udk_eth_stats_get(uint16_t port, struct udk_eth_stats *st)
{
	struct udk_eth_dev *dev = get_locked(port, "stats");
	int rc = 0;

	if (dev == NULL)
		return -ENODEV;
	memset(st, 0, sizeof(*st));
	if (is_removed(dev)) /* its registers are gone: no counters to read */
		rc = -UDK_EREMOVED;
	else
		dev->drv->ops->stats_get(dev, st);
	pthread_mutex_unlock(&lock);
	return rc;
}

int udk_eth_stats_reset(uint16_t port)
{
	struct udk_eth_dev *dev = get_locked(port, "stats reset");

	if (dev == NULL)
		return -ENODEV;
	if (!is_removed(dev))
		dev->drv->ops->stats_reset(dev);
	pthread_mutex_unlock(&lock);
	return 0;
}

int udk_eth_link_get(uint16_t port, struct udk_eth_link *link)
{
	struct udk_eth_dev *dev = get_locked(port, "link");
	int rc = 0;

	if (dev == NULL)
		return -ENODEV;
	memset(link, 0, sizeof(*link));
	if (is_removed(dev))
		rc = -UDK_EREMOVED; /* link down */
	else if (dev->started)
		dev->drv->ops->link_get(dev, link);
	pthread_mutex_unlock(&lock);
	return rc;
}

/* ---- receive interrupts ---- */

int udk_eth_rx_intr_fd(uint16_t port, uint16_t q, int *fd)
{
	struct udk_eth_dev *dev = get_locked(port, "rx interrupt");
	int rc;

	if (dev == NULL)
		return -ENODEV;
	if (fd == NULL) {
		rc = -EINVAL;
	} else if (dev->drv->ops->rx_intr_fd == NULL) {
		udk_log(UDK_LOG_ERR, LOG, "rx interrupt of port %u: driver %s has no receive "
			"interrupts; poll this port", port, dev->drv->name);
		rc = -ENOTSUP;
	} else if (!dev->started) {
		udk_log(UDK_LOG_ERR, LOG, "rx interrupt of port %u: start the port first", port);
		rc = -EBUSY;
	} else if (q >= dev->conf.nb_rx_queues) {
		udk_log(UDK_LOG_ERR, LOG, "rx interrupt of port %u: queue %u; the port has %u",
			port, q, dev->conf.nb_rx_queues);
		rc = -EINVAL;
	} else {
		rc = dev->drv->ops->rx_intr_fd(dev, q);
		if (rc >= 0) {
			*fd = rc;
			rc = 0;
		}
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

int udk_eth_rx_intr_arm(uint16_t port, uint16_t q)
{
	struct udk_eth_fp *fp;

	if (port >= UDK_ETH_MAX_PORTS)
		return -ENODEV;
	fp = &udk_eth_fp_[port];
	if (q >= __atomic_load_n(&fp->nb_rxq, __ATOMIC_ACQUIRE))
		return -ENODEV;
	if (fp->rx_intr_arm == NULL)
		return -ENOTSUP;
	return fp->rx_intr_arm(fp->rxq[q]);
}

void udk_eth_rx_intr_disarm(uint16_t port, uint16_t q)
{
	struct udk_eth_fp *fp;

	if (port >= UDK_ETH_MAX_PORTS)
		return;
	fp = &udk_eth_fp_[port];
	if (q < __atomic_load_n(&fp->nb_rxq, __ATOMIC_ACQUIRE) && fp->rx_intr_disarm != NULL)
		fp->rx_intr_disarm(fp->rxq[q]);
}

/* ---- link events ---- */

#define MAX_LINK_CB 8

/* Held while callbacks run, so that unregister waits for a running one. */
static pthread_mutex_t link_cb_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	udk_eth_link_event_fn fn;
	void *arg;
} link_cb[MAX_LINK_CB];

int udk_eth_link_event_register(udk_eth_link_event_fn fn, void *arg)
{
	int rc = -ENOSPC, i;

	if (fn == NULL) {
		udk_log(UDK_LOG_ERR, LOG, "link event register: no callback given");
		return -EINVAL;
	}
	pthread_mutex_lock(&link_cb_lock);
	for (i = 0; i < MAX_LINK_CB; i++)
		if (link_cb[i].fn == fn && link_cb[i].arg == arg) {
			rc = -EEXIST;
			goto out;
		}
	for (i = 0; i < MAX_LINK_CB; i++)
		if (link_cb[i].fn == NULL) {
			link_cb[i].fn = fn;
			link_cb[i].arg = arg;
			rc = 0;
			break;
		}
out:
	pthread_mutex_unlock(&link_cb_lock);
	if (rc == -ENOSPC)
		udk_log(UDK_LOG_ERR, LOG, "link event register: all %d callback slots are taken; "
			"unregister one first", MAX_LINK_CB);
	return rc;
}

int udk_eth_link_event_unregister(udk_eth_link_event_fn fn, void *arg)
{
	int rc = -ENOENT;

	pthread_mutex_lock(&link_cb_lock);
	for (int i = 0; i < MAX_LINK_CB; i++)
		if (link_cb[i].fn == fn && link_cb[i].arg == arg) {
			link_cb[i].fn = NULL;
			link_cb[i].arg = NULL;
			rc = 0;
		}
	pthread_mutex_unlock(&link_cb_lock);
	return rc;
}

void udk_eth_link_event(uint16_t port, const struct udk_eth_link *link)
{
	pthread_mutex_lock(&link_cb_lock);
	for (int i = 0; i < MAX_LINK_CB; i++)
		if (link_cb[i].fn != NULL)
			link_cb[i].fn(port, link, link_cb[i].arg);
	pthread_mutex_unlock(&link_cb_lock);
}

int udk_eth_macaddr_get(uint16_t port, struct udk_ether_addr *mac)
{
	struct udk_eth_dev *dev = get_locked(port, "MAC address");

	if (dev == NULL)
		return -ENODEV;
	*mac = dev->mac;
	pthread_mutex_unlock(&lock);
	return 0;
}

int udk_eth_promiscuous_set(uint16_t port, bool on)
{
	struct udk_eth_dev *dev = get_locked(port, "promiscuous");
	int rc = 0;

	if (dev == NULL)
		return -ENODEV;
	dev->conf.promiscuous = on;
	if (is_removed(dev))
		rc = refuse_removed(dev, "promiscuous");
	else if (dev->started && dev->drv->ops->promiscuous_set)
		rc = dev->drv->ops->promiscuous_set(dev, on);
	pthread_mutex_unlock(&lock);
	return rc;
}

int udk_eth_mtu_get(uint16_t port, uint32_t *mtu)
{
	struct udk_eth_dev *dev = get_locked(port, "MTU");

	if (dev == NULL)
		return -ENODEV;
	*mtu = dev->configured ? dev->conf.mtu : UDK_ETHER_MTU;
	pthread_mutex_unlock(&lock);
	return 0;
}

/* Telemetry's "ports" (doc/telemetry.md): every port with its state and
 * counters, read under the port table's lock as udk_eth_stats_get() does. */
static int ports_cmd(struct udk_json *j, void *unused)
{
	(void)unused;
	udk_json_arr_open(j, NULL);
	pthread_mutex_lock(&lock);
	for (uint16_t p = 0; p < UDK_ETH_MAX_PORTS; p++) {
		struct udk_eth_dev *dev = ports[p];
		struct udk_eth_stats st = {0};
		struct udk_eth_link link = {0};
		char mac[18];

		if (dev == NULL)
			continue;
		dev->drv->ops->stats_get(dev, &st);
		if (dev->started)
			dev->drv->ops->link_get(dev, &link);
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", dev->mac.b[0],
			 dev->mac.b[1], dev->mac.b[2], dev->mac.b[3], dev->mac.b[4], dev->mac.b[5]);
		udk_json_obj_open(j, NULL);
		udk_json_u64(j, "port", p);
		udk_json_str(j, "name", dev->name);
		udk_json_str(j, "driver", dev->drv->name);
		udk_json_str(j, "mac", mac);
		udk_json_bool(j, "started", dev->started);
		udk_json_u64(j, "rx_queues", dev->configured ? dev->conf.nb_rx_queues : 0);
		udk_json_u64(j, "tx_queues", dev->configured ? dev->conf.nb_tx_queues : 0);
		udk_json_obj_open(j, "link");
		udk_json_bool(j, "up", link.up);
		udk_json_u64(j, "speed_mbps", link.speed_mbps);
		udk_json_bool(j, "full_duplex", link.full_duplex);
		udk_json_obj_close(j);
		udk_json_obj_open(j, "stats");
		udk_json_u64(j, "ipackets", st.ipackets);
		udk_json_u64(j, "ibytes", st.ibytes);
		udk_json_u64(j, "opackets", st.opackets);
		udk_json_u64(j, "obytes", st.obytes);
		udk_json_u64(j, "ierrors", st.ierrors);
		udk_json_u64(j, "oerrors", st.oerrors);
		udk_json_u64(j, "imissed", st.imissed);
		udk_json_u64(j, "rx_nombuf", st.rx_nombuf);
		udk_json_obj_close(j);
		udk_json_obj_close(j);
	}
	pthread_mutex_unlock(&lock);
	udk_json_arr_close(j);
	return 0;
}

/* Before any port exists, every table entry answers bursts with nothing. */
__attribute__((constructor)) static void fp_init(void)
{
	for (uint16_t p = 0; p < UDK_ETH_MAX_PORTS; p++)
		fp_clear(p);
	udk_telemetry_register("ports", "network ports with their link and counters", ports_cmd,
			       NULL);
}
