/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_nvme_timeout: a command timeout on QEMU's NVMe, recovered by the driver
 * alone (UDK_NVME_TIMEOUT_ABORT_RESET): a qpair with a 1 ms timeout gets 48
 * reads of the largest transfer at once, more than the emulated device
 * finishes in 1 ms, so some time out.  Each timed-out command's callback gets
 * -ETIMEDOUT, the driver sends Abort for it (QEMU 7.2 answers "not aborted"),
 * then resets the controller: every other command still in flight gets
 * -ECANCELED, every callback runs exactly once, and afterwards the
 * controller is healthy and the data written before reads back intact.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "labnvme.h"
#include "labutil.h"
#include "udk_eal.h"
#include "udk_nvme.h"
#include "udk_util.h"

#define LBA0 420000u
#define NCMD 48

struct tally {
	int done, ok, timed_out, cancelled, other;
};

static void cb(void *arg, const struct udk_nvme_cpl *cpl)
{
	struct tally *t = arg;

	t->done++;
	if (cpl->rc == 0)
		t->ok++;
	else if (cpl->rc == -ETIMEDOUT)
		t->timed_out++;
	else if (cpl->rc == -ECANCELED)
		t->cancelled++;
	else
		t->other++;
}

int main(void)
{
	struct udk_nvme_qpair *fast, *slow;
	struct udk_nvme_qpair_opts o;
	struct udk_nvme_ctrlr_info info;
	struct udk_nvme_ctrlr *c;
	struct udk_nvme_ns *ns;
	struct tally t = {0};
	uint8_t *data, *buf[NCMD];
	char drv[64] = "", err[256] = "";
	const char *bdf;
	uint32_t nlb;
	int attempt;

	bdf = lab_nvme_eal_init("128", drv, sizeof(drv));
	REQUIRE(udk_nvme_ctrlr_attach(udk_eal_device(0), NULL, &c) == 0);
	REQUIRE(udk_nvme_ctrlr_ns(c, 1, &ns) == 0);
	REQUIRE(udk_nvme_ctrlr_info(c, &info) == 0);
	nlb = info.max_xfer / 512;
	udk_nvme_qpair_opts_init(&o, sizeof(o));
	REQUIRE(udk_nvme_qpair_create(c, &o, &slow) == 0);
	o.qsize = 64;
	o.timeout_ms = 1;
	REQUIRE(udk_nvme_qpair_create(c, &o, &fast) == 0);
	data = udk_mem_default_zmalloc(info.max_xfer, 4096, UDK_SOCKET_ANY);
	REQUIRE(data != NULL);
	for (int i = 0; i < NCMD; i++) {
		buf[i] = udk_mem_default_zmalloc(info.max_xfer, 4096, UDK_SOCKET_ANY);
		REQUIRE(buf[i] != NULL);
	}
	for (uint32_t i = 0; i < info.max_xfer; i++)
		data[i] = (uint8_t)(i * 13 + 5);
	REQUIRE(udk_nvme_ns_io_sync(slow, ns, UDK_NVME_IO_WRITE, data, LBA0, nlb, NULL) == 0);

	for (attempt = 1; attempt <= 5 && t.timed_out == 0; attempt++) {
		t = (struct tally){0};
		udk_last_error_clear();
		for (int i = 0; i < NCMD; i++)
			REQUIRE(udk_nvme_ns_read(fast, ns, buf[i], LBA0 + (uint64_t)i * nlb, nlb, cb,
						 &t) == 0);
		while (t.done < NCMD)
			udk_nvme_qpair_poll(fast, 0);
		snprintf(err, sizeof(err), "%s", udk_last_error());
		printf("attempt %d: %d reads of %u bytes, 1 ms timeout: %d ok, %d timed out, %d "
		       "cancelled, %d other\n", attempt, NCMD, info.max_xfer, t.ok, t.timed_out,
		       t.cancelled, t.other);
	}
	CHECK_MSG(t.timed_out > 0, "no read took longer than 1 ms in 5 attempts");
	CHECK(t.done == NCMD && t.other == 0);
	printf("last error: \"%s\"\n", err);
	/* QEMU 7.2 never aborts (Abort's DW0 bit 0 = 1), so a reset follows. */
	CHECK(strstr(err, "resetting the controller") != NULL ||
	      strstr(err, "did not abort") != NULL);
	CHECK(udk_nvme_ctrlr_health(c) == 0);
	CHECK(udk_nvme_qpair_outstanding(fast) == 0);

	memset(buf[0], 0, info.max_xfer);
	CHECK(udk_nvme_ns_io_sync(slow, ns, UDK_NVME_IO_READ, buf[0], LBA0, nlb, NULL) == 0);
	CHECK(memcmp(buf[0], data, info.max_xfer) == 0);
	printf("after the recovery: healthy, and the data reads back: %s\n",
	       memcmp(buf[0], data, info.max_xfer) == 0 ? "yes" : "NO");

	udk_nvme_qpair_destroy(fast);
	udk_nvme_qpair_destroy(slow);
	udk_nvme_ctrlr_detach(c);
	for (int i = 0; i < NCMD; i++)
		udk_mem_default_free(buf[i]);
	udk_mem_default_free(data);
	udk_eal_cleanup();
	lab_bind(bdf, drv);
	return lab_result();
}
