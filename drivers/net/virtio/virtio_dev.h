/* SPDX-License-Identifier: BSD-3-Clause */
/* virtio_dev.h - a virtio device as the device-type code (virtio_net.c) sees
 * it, whatever carries it: status, features, device configuration and queue
 * registration behind one ops table per transport (virtio_pci.c over VFIO,
 * virtio_user.c over vhost-user).  Control path only; one thread per device
 * (virtio_user.c also takes lib/mem's events from any thread, under its lock). */
#ifndef UDK_VIRTIO_DEV_H
#define UDK_VIRTIO_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtqueue.h"

/* §2.1: device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

/* §6: reserved feature bits udk knows. */
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_RING_PACKED 34
#define VIRTIO_BIT(f) (1ULL << (f))

struct virtio_dev;

struct virtio_transport_ops {
	/* Write 0 to the status and wait until the device reads back 0
	 * (§2.1.2, §4.1.4.3.2): 0 or -ETIMEDOUT (logged). */
	int (*reset)(struct virtio_dev *vd);
	uint8_t (*get_status)(struct virtio_dev *vd);
	void (*set_status)(struct virtio_dev *vd, uint8_t status);
	uint64_t (*get_features)(struct virtio_dev *vd);
	void (*set_features)(struct virtio_dev *vd, uint64_t features);
	/* Read len bytes of the device configuration at off, consistently
	 * (§2.4.1: retried until the configuration generation is stable).
	 * 0, or -EINVAL if the range is outside what the device exposes. */
	int (*read_config)(struct virtio_dev *vd, uint32_t off, void *buf, size_t len);
	/* The device's largest size for queue idx; 0 if it has no such queue. */
	uint16_t (*queue_max)(struct virtio_dev *vd, uint16_t idx);
	/* Give vq to the device (its index, size and ring addresses) and set
	 * vq->notify: before DRIVER_OK (§3.1.1 step 7).  0 or -errno (logged). */
	int (*queue_enable)(struct virtio_dev *vd, struct virtq *vq);
	/* The eventfd the device signals for queue idx's used-buffer
	 * notifications (PCI: its MSI-X vector; vhost-user: the call fd), open
	 * until close; or -ENOTSUP after a line saying why.  Optional (NULL:
	 * the transport has none).  The control thread, after queue_enable. */
	int (*queue_intr_fd)(struct virtio_dev *vd, uint16_t idx);
	/* Release the transport (the device is left reset).  vd is freed. */
	void (*close)(struct virtio_dev *vd);
};

struct virtio_dev {
	const struct virtio_transport_ops *ops;
	char name[64];               /* for messages: the PCI address, the socket path */
	uint64_t required_features;  /* refused without them (the transport says which) */
	uint64_t features;           /* negotiated, valid after virtio_dev_negotiate() */
	uint64_t device_features;    /* what the device offered */
	/* Set by the device-type code: the transport calls it when the device
	 * went away or came back by itself (a vhost-user back-end that
	 * restarted), on the transport's own thread, with no lock held. */
	void (*link_changed)(void *arg, bool up);
	void *link_arg;
	/* The transport sets the queue pairs in use by the rings it gives the
	 * device (vhost-user), so VIRTIO_NET_F_MQ needs no control queue. */
	bool pairs_by_rings;
	/* Ask for mergeable receive buffers: always over PCI, over vhost-user
	 * when the user asked (mrg_rxbuf=1). */
	bool mrg_ok;
	/* Bit i: queue i wants used-buffer notifications (net_virtio: its
	 * receive queues).  Set by the device-type code before it enables the
	 * queues; over PCI each such queue gets an MSI-X vector of its own, the
	 * others none (virtio_pci.c). */
	uint64_t intr_queues;
};

/* §3.1.1 steps 1-6: reset, ACKNOWLEDGE, DRIVER, read the device's features,
 * refuse it if it lacks one of vd->required_features (the message names the
 * feature and its consequence), accept device & wanted, FEATURES_OK and
 * check the device kept it.  On failure the status gets FAILED.  0, -ENOTSUP
 * (a required feature is missing, or the device refused ours), -ETIMEDOUT. */
int virtio_dev_negotiate(struct virtio_dev *vd, uint64_t wanted);

/* The name of feature bit f for messages ("VIRTIO_F_ACCESS_PLATFORM"). */
const char *virtio_feature_name(unsigned int f);

/* Modern virtio over PCI through VFIO (virtio_pci.c): walk the vendor
 * capabilities (§4.1.4), map the structures they point at, enable bus
 * mastering.  It requires VERSION_1 and ACCESS_PLATFORM: udk's IOVAs are not
 * guest-physical addresses.  0 or -errno (logged). */
struct udk_pci_dev;
int virtio_pci_open(struct udk_pci_dev *pdev, struct virtio_dev **out);

/* §4.1.4.4: where queue idx's notification address lies in the notification
 * structure: queue_notify_off * mult, both read from the device, computed in
 * 64 bits so no product wraps back into the window.  0 and *off, or -EINVAL
 * (logged, naming the device) when the 16-bit write there would not fit in
 * the notify_len bytes the capability maps. */
int virtio_pci_notify_offset(const char *name, uint16_t idx, uint16_t queue_notify_off,
			     uint32_t mult, uint32_t notify_len, uint32_t *off);

/* §4.1.5.1.2: the MSI-X vector of queue idx when the queues of intr_queues
 * (bit i: queue i) get vectors 0, 1, ... in queue order and the device
 * gave nvec of them: its rank among those queues, or VIRTIO_MSI_NO_VECTOR
 * (0xffff) for a queue not in intr_queues, one at or past bit 64, or one
 * whose rank is nvec or more (the table was too small). */
#define VIRTIO_MSI_NO_VECTOR 0xffff
uint16_t virtio_pci_queue_vector(uint64_t intr_queues, uint16_t idx, unsigned int nvec);

/* The virtio capabilities of a config-space image (virtio 1.1 §4.1.4), read
 * without I/O (tests/fuzz fuzzes it): for each structure the first
 * capability naming BAR 0-5, its position, BAR, offset and length.  0;
 * -ENOTSUP when the device has no capability list; -EINVAL when a
 * capability runs past len bytes (at most VIRTIO_PCI_CAPS_CFG_LEN are
 * read: a capability starts below 0x100). */
#define VIRTIO_PCI_CAPS_CFG_LEN 0x110
struct virtio_pci_window {
	bool found;
	uint8_t pos, bar;
	uint32_t off, len;
};
struct virtio_pci_caps {
	struct virtio_pci_window common, notify, isr, devcfg;
	uint32_t notify_mult;
};
int virtio_pci_caps_parse(const uint8_t *cfg, size_t len, struct virtio_pci_caps *caps);

/* A vhost-user front-end (virtio_user.c) for --vdev NAME,ARGS: connect to the
 * back-end's socket, or with server=1 listen there and wait for it (args in
 * DPDK virtio_user's spelling: "path=SOCK[,server=0|1][,queues=1..8]
 * [,queue_size=N][,mac=MAC][,packed_vq=0|1][,mrg_rxbuf=0|1][,in_order=0]"),
 * agree on protocol features and follow the heap's segments as its memory
 * table.  A thread of its own watches the connection: when the back-end goes
 * away it reconnects (client) or accepts the next one (server) and gives it
 * the device as it was (link_changed tells of both).  It requires VERSION_1.
 * 0 or -errno (logged: a missing socket, a refused connection, a back-end
 * that does not answer, an argument udk does not take). */
int virtio_user_open(const char *name, const char *args, struct virtio_dev **out);

/* virtio_user_open()'s arguments, parsed without I/O (tests/fuzz fuzzes it):
 * 0, or -EINVAL, -ENAMETOOLONG or -ENOTSUP after logging which one is bad. */
struct vu_args {
	char path[108];           /* sun_path */
	unsigned long queues, queue_size;
	bool has_mac, server, packed, mrg;
	uint8_t mac[6];
};
int virtio_user_parse_args(const char *name, const char *args, struct vu_args *a);

#endif
