/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_nvme_aer: a real Asynchronous Event from QEMU's NVMe, end to end.  The
 * driver keeps AERs outstanding from attach; the test sets the composite
 * temperature's over-threshold (Set Features 04h) one kelvin below the
 * temperature the SMART log reports, which makes the controller complete an
 * AER with a SMART/health event, "temperature threshold" (QEMU 7.2,
 * hw/nvme/ctrl.c: nvme_smart_event()).  udk_nvme_ctrlr_process_admin() must
 * decode it (type 1, info 01h, log page 02h), read the SMART log (whose
 * critical warning then has the temperature bit), call the callback once, and
 * submit a new AER: a second trigger gives a second event.  The threshold is
 * put back at the end (the guest is shared with the other lab tests).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "labnvme.h"
#include "labutil.h"
#include "udk_eal.h"
#include "udk_nvme.h"
#include "udk_util.h"

#define FID_TEMP_THRESH 0x04

struct seen {
	int n;
	struct udk_nvme_aer ev;
	uint8_t critical_warning;
	uint16_t temperature;
};

static void aer_cb(void *arg, struct udk_nvme_ctrlr *c, const struct udk_nvme_aer *ev)
{
	struct seen *s = arg;
	const struct udk_nvme_smart_log *log = ev->log;

	(void)c;
	s->n++;
	s->ev = *ev;
	if (ev->log_rc == 0 && ev->log_page == UDK_NVME_LOG_SMART) {
		s->critical_warning = log->critical_warning;
		s->temperature = log->temperature;
	}
	printf("callback: %s (dw0 0x%08x, log read: %d)\n", udk_nvme_aer_str(ev), ev->dw0,
	       ev->log_rc);
}

/* Poll the admin queue up to 5 s until the callback has run want times. */
static int wait_events(struct udk_nvme_ctrlr *c, struct seen *s, int want)
{
	for (int i = 0; i < 500 && s->n < want; i++) {
		int rc = udk_nvme_ctrlr_process_admin(c);
		if (rc < 0)
			return rc;
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	return s->n;
}

int main(void)
{
	struct udk_nvme_smart_log *smart;
	struct udk_nvme_ctrlr_info info;
	struct udk_nvme_ctrlr *c;
	struct seen s = {0};
	uint32_t thresh = 0, t;
	char drv[64] = "";
	const char *bdf;

	bdf = lab_nvme_eal_init("64", drv, sizeof(drv));
	smart = udk_mem_default_zmalloc(sizeof(*smart), 4096, UDK_SOCKET_ANY);
	REQUIRE(smart != NULL);
	REQUIRE(udk_nvme_ctrlr_attach(udk_eal_device(0), NULL, &c) == 0);
	REQUIRE(udk_nvme_ctrlr_info(c, &info) == 0);
	printf("AERL %u: udk keeps %u AERs outstanding\n", info.aerl, info.nb_aer);
	CHECK(info.nb_aer >= 1 && info.nb_aer <= info.aerl + 1u);
	udk_nvme_ctrlr_register_aer_cb(c, aer_cb, &s);

	/* Nothing happened yet: polling finds no event. */
	CHECK(udk_nvme_ctrlr_process_admin(c) == 0 && s.n == 0);

	REQUIRE(udk_nvme_ctrlr_get_log_page(c, UDK_NVME_LOG_SMART, 0xffffffffu, smart,
					    sizeof(*smart)) == 0);
	t = smart->temperature;
	/* §5.21.1.4: TMPTH 15:0 in kelvin, TMPSEL 19:16 = 0 (composite),
	 * THSEL 21:20 = 0 (over temperature). */
	REQUIRE(udk_nvme_ctrlr_get_features(c, FID_TEMP_THRESH, 0, &thresh) == 0);
	printf("composite temperature %u K, over-temperature threshold %u K, critical "
	       "warning 0x%02x\n", t, thresh & 0xffff, smart->critical_warning);
	CHECK(t > 1 && t < (thresh & 0xffff));

	for (int round = 1; round <= 2; round++) {
		REQUIRE(udk_nvme_ctrlr_set_features(c, FID_TEMP_THRESH, t - 1, NULL) == 0);
		int n = wait_events(c, &s, round);
		printf("round %d: threshold %u K: %d event(s) so far\n", round, t - 1, n);
		CHECK_MSG(n == round, "the callback ran %d times, %d expected", n, round);
		CHECK(s.ev.type == UDK_NVME_AER_SMART && s.ev.info == 0x01 &&
		      s.ev.log_page == UDK_NVME_LOG_SMART);
		CHECK(s.ev.log_rc == 0);
		CHECK_MSG(s.critical_warning & 0x2, "critical warning 0x%02x lacks the "
			  "temperature bit", s.critical_warning);
		CHECK(s.temperature == t);
		CHECK(strstr(udk_nvme_aer_str(&s.ev), "SMART/health: temperature threshold") !=
		      NULL);
		/* Back to normal before the next round; no event from that. */
		REQUIRE(udk_nvme_ctrlr_set_features(c, FID_TEMP_THRESH, thresh & 0xffff, NULL) ==
			0);
		CHECK(udk_nvme_ctrlr_process_admin(c) == 0);
	}
	CHECK(s.n == 2);

	/* A reset cancels the outstanding AERs and arms them again. */
	CHECK(udk_nvme_ctrlr_reset(c) == 0);
	REQUIRE(udk_nvme_ctrlr_set_features(c, FID_TEMP_THRESH, t - 1, NULL) == 0);
	CHECK_MSG(wait_events(c, &s, 3) == 3, "no event after a reset");
	CHECK(s.ev.type == UDK_NVME_AER_SMART && s.ev.info == 0x01);
	CHECK(udk_nvme_ctrlr_set_features(c, FID_TEMP_THRESH, thresh & 0xffff, NULL) == 0);
	printf("after a reset: event %d: %s\n", s.n, udk_nvme_aer_str(&s.ev));

	udk_nvme_ctrlr_detach(c);
	udk_mem_default_free(smart);
	udk_eal_cleanup();
	lab_bind(bdf, drv);
	return lab_result();
}
