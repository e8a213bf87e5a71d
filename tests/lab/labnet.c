/* SPDX-License-Identifier: BSD-3-Clause */
/* labnet.c - the kernel as a network peer (labnet.h). */
#include "labnet.h"
#include "labutil.h"

#include <arpa/inet.h>
#include <glob.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

uint64_t labnet_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int labnet_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];

	if (s == NULL ||
	    sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

int labnet_virtio_ifname(const char *bdf, char *ifname, size_t len)
{
	char pat[128];
	glob_t g;

	snprintf(pat, sizeof(pat), "/sys/bus/pci/devices/%s/virtio*/net/*", bdf);
	for (int i = 0; i < 50; i++) {
		if (glob(pat, 0, NULL, &g) == 0) {
			snprintf(ifname, len, "%s", strrchr(g.gl_pathv[0], '/') + 1);
			globfree(&g);
			return 0;
		}
		usleep(100000);
	}
	return -1;
}

int labnet_if_up(const char *ifname, bool up)
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags = (short)(up ? ifr.ifr_flags | IFF_UP : ifr.ifr_flags & ~IFF_UP);
		rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

int labnet_socket(const char *ifname, uint16_t ethertype)
{
	struct sockaddr_ll sa = {.sll_family = AF_PACKET, .sll_protocol = htons(ethertype)};
	int size = 8 << 20, fd;

	sa.sll_ifindex = (int)if_nametoindex(ifname);
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ethertype));
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
	return fd;
}

int labnet_peer_open(struct labnet_peer *p, const char *bdf, uint16_t ethertype)
{
	*p = (struct labnet_peer){.bdf = bdf, .sock = -1};
	lab_device_driver(bdf, p->driver, sizeof(p->driver));
	p->had_module = access("/sys/module/virtio_net", F_OK) == 0;
	if (strcmp(p->driver, "virtio-pci") != 0 && lab_bind(bdf, "virtio-pci") != 0) {
		printf("peer: %s could not be bound to virtio-pci\n", bdf);
		return -1;
	}
	lab_sh("modprobe virtio_net");
	if (labnet_virtio_ifname(bdf, p->ifname, sizeof(p->ifname)) != 0) {
		printf("peer: no network interface appeared for %s\n", bdf);
		return -1;
	}
	snprintf(p->v6path, sizeof(p->v6path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
		 p->ifname);
	if (lab_read_file(p->v6path, p->v6old, sizeof(p->v6old)) == 0)
		lab_write_file(p->v6path, "1");
	if (labnet_if_up(p->ifname, true) != 0) {
		printf("peer: %s would not come up\n", p->ifname);
		return -1;
	}
	p->sock = labnet_socket(p->ifname, ethertype);
	if (p->sock < 0) {
		printf("peer: no AF_PACKET socket on %s\n", p->ifname);
		return -1;
	}
	return 0;
}

int labnet_peer_close(struct labnet_peer *p)
{
	if (p->sock >= 0)
		close(p->sock);
	p->sock = -1;
	labnet_if_up(p->ifname, false);
	if (p->v6old[0] != '\0')
		lab_write_file(p->v6path, p->v6old);
	if (!p->had_module)
		lab_sh("modprobe -r virtio_net");
	if (strcmp(p->driver, "virtio-pci") != 0)
		return lab_bind(p->bdf, p->driver) == 0 ? 0 : -1;
	return 0;
}
