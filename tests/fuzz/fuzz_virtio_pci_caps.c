/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_virtio_pci_caps: libFuzzer target for the virtio PCI capability walk
 * (virtio_pci_caps_parse() in drivers/net/virtio/virtio_pci.c) over a
 * config-space image: what a hostile or broken device (or an emulator)
 * presents before udk maps any of its BARs.  The input is the image, up to
 * the 0x110 bytes the driver reads.  Beyond not crashing (ASan, UBSan) and
 * ending on a looping list, every capability taken must lie inside the
 * image, name BAR 0-5, and be the one the bytes at its position describe. */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "virtio_dev.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *cfg, size_t len, const struct virtio_pci_window *w,
		  uint8_t type)
{
	uint32_t off, wlen;

	if (!w->found)
		return;
	if (w->pos < 0x40 || w->pos % 4 != 0 || (size_t)w->pos + 16 > len || w->bar > 5)
		abort();
	memcpy(&off, cfg + w->pos + 8, 4);
	memcpy(&wlen, cfg + w->pos + 12, 4);
	if (cfg[w->pos] != 0x09 || cfg[w->pos + 3] != type || cfg[w->pos + 4] != w->bar ||
	    le32toh(off) != w->off || le32toh(wlen) != w->len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_pci_caps caps;
	uint8_t *cfg;
	int rc;

	if (size > VIRTIO_PCI_CAPS_CFG_LEN)
		return 0;
	/* Its own block, so that ASan sees any read past the image. */
	cfg = (uint8_t *)fuzz_cstr(data, size);
	if (cfg == NULL)
		return 0;
	rc = virtio_pci_caps_parse(cfg, size, &caps);
	if (rc != 0 && rc != -ENOTSUP && rc != -EINVAL)
		abort();
	if (rc == 0) {
		check(cfg, size, &caps.common, 1);
		check(cfg, size, &caps.notify, 2);
		check(cfg, size, &caps.isr, 3);
		check(cfg, size, &caps.devcfg, 4);
		if (caps.notify.found && (size_t)caps.notify.pos + 20 > size)
			abort();
	}
	free(cfg);
	return 0;
}
