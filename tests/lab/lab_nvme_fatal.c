/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_nvme_fatal: a controller fatal status (CSTS.CFS) on demand, detected,
 * reported, and recovered from by a reset.  The heap segment that holds an I/O
 * queue is unmapped from the map (LAB.md: the device's next read of the queue
 * faults in the IOMMU and QEMU's NVMe sets CFS); the command in flight times
 * out, the driver sees CFS, refuses new I/O with a clear error, and
 * udk_nvme_ctrlr_health() says what happened.  With the segment mapped again
 * at the same IOVA, udk_nvme_ctrlr_reset() rebuilds the queues and the data
 * written before the failure reads back intact.  Reaches into the qpair
 * (nvme_internal.h) only to find its queue memory.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "labbackend.h"
#include "labnvme.h"
#include "labutil.h"
#include "nvme_internal.h"
#include "udk_eal.h"
#include "udk_nvme.h"
#include "udk_util.h"

static void cb(void *arg, const struct udk_nvme_cpl *cpl)
{
	*(int *)arg = cpl->rc == 0 ? 1 : cpl->rc;
}

int main(void)
{
	char drv[64] = "";
	const char *bdf;
	struct udk_nvme_ctrlr *c;
	struct udk_nvme_qpair *qp;
	struct udk_nvme_qpair_opts qo;
	struct udk_nvme_ns *ns;
	uint8_t *buf, *data;
	int done = 0, rc;

	bdf = lab_nvme_eal_init("64", drv, sizeof(drv));
	REQUIRE(lab_backend_ok(udk_eal_dmamap()));
	data = udk_mem_default_zmalloc(64 * 512, 4096, UDK_SOCKET_ANY);
	buf = udk_mem_default_zmalloc(64 * 512, 4096, UDK_SOCKET_ANY);
	REQUIRE(data != NULL && buf != NULL);
	/* The application resets (lab_nvme_timeout has the driver do it). */
	struct udk_nvme_ctrlr_opts co;
	udk_nvme_ctrlr_opts_init(&co, sizeof(co));
	co.timeout_action = UDK_NVME_TIMEOUT_ABORT;
	REQUIRE(udk_nvme_ctrlr_attach(udk_eal_device(0), &co, &c) == 0);
	REQUIRE(udk_nvme_ctrlr_ns(c, 1, &ns) == 0);
	udk_nvme_qpair_opts_init(&qo, sizeof(qo));
	qo.timeout_ms = 3000;
	REQUIRE(udk_nvme_qpair_create(c, &qo, &qp) == 0);

	for (int i = 0; i < 64 * 512; i++)
		data[i] = (uint8_t)(i * 7 + 3);
	REQUIRE(udk_nvme_ns_io_sync(qp, ns, UDK_NVME_IO_WRITE, data, 4096, 64, NULL) == 0);

	const struct udk_memseg *seg = udk_mem_find(udk_eal_mem(), qp->sq);
	REQUIRE(seg != NULL);
	void *va = seg->va;
	size_t len = seg->len;
	uint64_t iova = seg->iova;
	bool data_there = udk_mem_find(udk_eal_mem(), buf) == seg;
	printf("the qpair's SQ lies in segment %p+0x%zx (IOVA 0x%llx)%s\n", va, len,
	       (unsigned long long)iova, data_there ? ", with the buffers" : "");

	uint64_t mark = lab_kmsg_mark();
	REQUIRE(udk_dmamap_unmap(udk_eal_dmamap(), va, len) == 0);
	CHECK(udk_nvme_ns_read(qp, ns, buf, 4096, 64, cb, &done) == 0);
	while (done == 0)
		udk_nvme_qpair_poll(qp, 0);
	printf("the read in flight ended with %d (%s)\n", done, udk_strerror_name(done));
	CHECK(done == -ETIMEDOUT);
	char line[256];
	CHECK(lab_kmsg_find(mark, "DMAR: \\[DMA Read", 2000, line, sizeof(line)) == 1);
	printf("kernel: %s\n", line);

	rc = udk_nvme_ns_read(qp, ns, buf, 4096, 64, cb, &done);
	printf("a new read: %d, \"%s\"\n", rc, udk_last_error());
	CHECK(rc == -UDK_EDEVSTATE && strstr(udk_last_error(), "the controller has failed"));
	rc = udk_nvme_ctrlr_health(c);
	printf("health: %d, \"%s\"\n", rc, udk_last_error());
	CHECK(rc == -UDK_EDEVSTATE && strstr(udk_last_error(), "CFS = 1"));

	REQUIRE(udk_dmamap_map_at(udk_eal_dmamap(), va, len, iova) == 0);
	rc = udk_nvme_ctrlr_reset(c);
	printf("reset: %d %s\n", rc, rc ? udk_last_error() : "");
	CHECK(rc == 0);
	CHECK(udk_nvme_ctrlr_health(c) == 0);
	memset(buf, 0, 64 * 512);
	CHECK(udk_nvme_ns_io_sync(qp, ns, UDK_NVME_IO_READ, buf, 4096, 64, NULL) == 0);
	CHECK(memcmp(buf, data, 64 * 512) == 0);
	printf("after the reset the data written before the failure reads back: %s\n",
	       memcmp(buf, data, 64 * 512) == 0 ? "yes" : "NO");

	udk_nvme_qpair_destroy(qp);
	udk_nvme_ctrlr_detach(c);
	udk_mem_default_free(buf);
	udk_mem_default_free(data);
	udk_eal_cleanup();
	lab_bind(bdf, drv);
	return lab_result();
}
