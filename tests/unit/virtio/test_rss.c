/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for receive-side scaling without a device: the tests' own
 * Toeplitz hash (tests/lab/labrss.h) against the verification vectors of
 * Microsoft's RSS specification, net_virtio's struct virtio_net_rss_config
 * (virtio 1.2 §5.1.6.5.7.1) byte by byte, and its control queue commands with
 * the test playing the device: an ack of VIRTIO_NET_ERR and a device that
 * never answers, each named in the error. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/unit.h"
#include "../../lab/labrss.h"
#include "virtio_net_ctrl.h"
#include "virtqueue.h"

static uint32_t ip(const char *s)
{
	struct in_addr a;

	CU_ASSERT_EQUAL_FATAL(inet_pton(AF_INET, s, &a), 1);
	return ntohl(a.s_addr);
}

/* "Verifying the RSS hash calculation", IPv4: destination, source, the hash
 * of the addresses alone and with the TCP ports. */
static void test_toeplitz_vectors(void)
{
	static const struct {
		const char *dst;
		uint16_t dport;
		const char *src;
		uint16_t sport;
		uint32_t ipv4, ipv4_tcp;
	} v[] = {
		{"161.142.100.80", 1766, "66.9.149.187", 2794, 0x323e8fc2, 0x51ccc178},
		{"65.69.140.83", 4739, "199.92.111.2", 14230, 0xd718262a, 0xc626b0ea},
		{"12.22.207.184", 38024, "24.19.198.95", 12898, 0xd2d0a5de, 0x5c2b394a},
		{"209.142.163.6", 2217, "38.27.205.30", 48228, 0x82989176, 0xafc7327f},
		{"202.188.127.2", 1303, "153.39.163.191", 44251, 0x5d1809c5, 0x10e828a2},
	};

	for (size_t i = 0; i < UDK_ARRAY_SIZE(v); i++) {
		uint32_t s = ip(v[i].src), d = ip(v[i].dst);

		CU_ASSERT_EQUAL(lab_rss_ipv4(lab_rss_key, s, d, 0, 0, 0), v[i].ipv4);
		CU_ASSERT_EQUAL(lab_rss_ipv4(lab_rss_key, s, d, v[i].sport, v[i].dport, 1),
				v[i].ipv4_tcp);
	}
}

static void test_rss_config_layout(void)
{
	uint8_t out[VNET_CTRL_DATA_MAX], key[VNET_RSS_KEY_LEN];
	uint16_t table[4] = {0, 1, 0, 1};
	size_t len;

	for (unsigned int i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(0xa0 + i);
	len = vnet_rss_config(out, sizeof(out), 0x00000107, table, 4, 2, key, sizeof(key));
	CU_ASSERT_EQUAL(len, 4 + 2 + 2 + 8 + 2 + 1 + 40);
	CU_ASSERT_EQUAL(out[0], 0x07);            /* hash_types, little-endian */
	CU_ASSERT_EQUAL(out[1], 0x01);
	CU_ASSERT_EQUAL(out[2] | out[3], 0);
	CU_ASSERT_EQUAL(out[4], 3);               /* indirection_table_mask */
	CU_ASSERT_EQUAL(out[5], 0);
	CU_ASSERT_EQUAL(out[6] | out[7], 0);      /* unclassified_queue */
	CU_ASSERT_EQUAL(out[8], 0);
	CU_ASSERT_EQUAL(out[10], 1);
	CU_ASSERT_EQUAL(out[14], 1);
	CU_ASSERT_EQUAL(out[16], 2);              /* max_tx_vq */
	CU_ASSERT_EQUAL(out[17], 0);
	CU_ASSERT_EQUAL(out[18], 40);             /* hash_key_length */
	CU_ASSERT_EQUAL(memcmp(out + 19, key, 40), 0);
	/* A table that is not a power of two, too long, or a buffer too short. */
	CU_ASSERT_EQUAL(vnet_rss_config(out, sizeof(out), 1, table, 3, 2, key, 40), 0);
	CU_ASSERT_EQUAL(vnet_rss_config(out, sizeof(out), 1, table, 256, 2, key, 40), 0);
	CU_ASSERT_EQUAL(vnet_rss_config(out, 20, 1, table, 4, 2, key, 40), 0);
}

/* The device: on each notify, answer the chain with the ack it is given. */
#define FAKE_IOVA 0x200000000ull
static uint8_t dev_ack;
static bool dev_answers;
static uint8_t *cmd_buf;
static uint8_t seen[2];

static void device_notify(struct virtq *vq)
{
	uint16_t idx = le16toh(vq->avail->idx), head;
	const struct virtq_desc *d;

	if (!dev_answers)
		return;
	head = le16toh(vq->avail->ring[(uint16_t)(idx - 1) & vq->mask]);
	d = &vq->desc[head];
	memcpy(seen, cmd_buf + (le64toh(d->addr) - FAKE_IOVA), 2);
	while (le16toh(d->flags) & VIRTQ_DESC_F_NEXT)
		d = &vq->desc[le16toh(d->next)];
	CU_ASSERT(le16toh(d->flags) & VIRTQ_DESC_F_WRITE);
	cmd_buf[le64toh(d->addr) - FAKE_IOVA] = dev_ack;
	vq->used->ring[le16toh(vq->used->idx) & vq->mask].id = htole32(head);
	vq->used->ring[le16toh(vq->used->idx) & vq->mask].len = htole32(1);
	__atomic_store_n(&vq->used->idx, htole16((uint16_t)(le16toh(vq->used->idx) + 1)),
			 __ATOMIC_RELEASE);
}

static void test_ctrl_cmd_errors(void)
{
	struct vnet_ctrl c = {0};
	void *mem = aligned_alloc(4096, UDK_ALIGN_UP(virtq_mem_size(16), (size_t)4096));
	uint16_t pairs = htole16(2);

	CU_ASSERT_PTR_NOT_NULL_FATAL(mem);
	CU_ASSERT_EQUAL_FATAL(virtq_create(4, 16, mem, FAKE_IOVA + 4096, &c.vq), 0);
	c.vq->notify = device_notify;
	cmd_buf = c.buf = calloc(1, 2 + VNET_CTRL_DATA_MAX + 1);
	c.buf_iova = FAKE_IOVA;

	dev_answers = true;
	dev_ack = VIRTIO_NET_OK;
	CU_ASSERT_EQUAL(vnet_ctrl_cmd(&c, "fake0", VIRTIO_NET_CTRL_MQ,
				      VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs, 2, 1000), 0);
	CU_ASSERT_EQUAL(seen[0], VIRTIO_NET_CTRL_MQ);
	CU_ASSERT_EQUAL(seen[1], VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET);
	CU_ASSERT_EQUAL(c.vq->num_free, 16);

	dev_ack = VIRTIO_NET_ERR;
	CU_ASSERT_EQUAL(vnet_ctrl_cmd(&c, "fake0", VIRTIO_NET_CTRL_MQ,
				      VIRTIO_NET_CTRL_MQ_RSS_CONFIG, &pairs, 2, 1000), -EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(udk_last_error(), "VIRTIO_NET_CTRL_MQ_RSS_CONFIG"));
	CU_ASSERT_PTR_NOT_NULL(strstr(udk_last_error(), "ack 1 (VIRTIO_NET_ERR)"));

	dev_answers = false;
	CU_ASSERT_EQUAL(vnet_ctrl_cmd(&c, "fake0", VIRTIO_NET_CTRL_MQ,
				      VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs, 2, 50), -ETIMEDOUT);
	CU_ASSERT_PTR_NOT_NULL(strstr(udk_last_error(), "VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET"));
	CU_ASSERT_PTR_NOT_NULL(strstr(udk_last_error(), "no answer"));

	virtq_free(c.vq, NULL, NULL);
	free(c.buf);
	free(mem);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{"Toeplitz: Microsoft's IPv4 verification vectors", test_toeplitz_vectors},
		{"struct virtio_net_rss_config", test_rss_config_layout},
		{"control queue: ack and timeout named", test_ctrl_cmd_errors},
	};

	unit_quiet_logs();
	return unit_run("virtio_rss", tests, UDK_ARRAY_SIZE(tests));
}
