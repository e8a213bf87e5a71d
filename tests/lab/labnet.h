/* SPDX-License-Identifier: BSD-3-Clause */
/* labnet.h - the kernel as a network peer in the lab guest: its virtio_net on
 * the virtio-net NIC (wired to the e1000e by QEMU's hub 0), read and written
 * through an AF_PACKET socket. */
#ifndef UDK_LABNET_H
#define UDK_LABNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t labnet_ms(void);
/* "52:54:00:1a:b0:01" into mac: 0, or -1 if it is not six hex bytes. */
int labnet_parse_mac(const char *s, uint8_t mac[6]);
/* The interface name of the virtio NIC at bdf (virtio_net bound), waiting up
 * to 5 s for it to appear: 0, or -1. */
int labnet_virtio_ifname(const char *bdf, char *ifname, size_t len);
/* Set or clear IFF_UP on ifname: 0, or -1. */
int labnet_if_up(const char *ifname, bool up);
/* An AF_PACKET socket on ifname for one EtherType, with 8 MiB buffers: the
 * fd, or -1. */
int labnet_socket(const char *ifname, uint16_t ethertype);

/* The kernel's end, set up by labnet_peer_open() and put back as found by
 * labnet_peer_close(). */
struct labnet_peer {
	const char *bdf;
	char driver[64];           /* the NIC's driver before, "" if none */
	bool had_module;           /* virtio_net was loaded before */
	char ifname[16];
	char v6path[128], v6old[8]; /* IPv6 is turned off meanwhile */
	int sock;                  /* AF_PACKET socket for the EtherType */
};

/* The virtio NIC at bdf on virtio_net, up, IPv6 off (so the kernel sends
 * nothing of its own), and an AF_PACKET socket for ethertype: 0, or -1 with
 * the failed step printed. */
int labnet_peer_open(struct labnet_peer *p, const char *bdf, uint16_t ethertype);
/* Socket closed, interface down, IPv6, virtio_net and the NIC's driver as
 * they were: 0, or -1 if the driver could not be put back. */
int labnet_peer_close(struct labnet_peer *p);

#endif
