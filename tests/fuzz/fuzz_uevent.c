/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_uevent: libFuzzer target for the hot-add monitor's uevent parser
 * (pci_uevent_parse() in lib/pci/uevent.c), which reads every message the
 * netlink socket delivers.  The input is one datagram; the monitor ends it
 * with a NUL, as here.  Beyond not crashing (ASan, UBSan), an event the
 * parser takes must really be an "add" (or a bind to vfio-pci) of a PCI
 * function whose address and ids are in it as the kernel writes them. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_util.h"
#include "pci_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Is "KEY=value" one of the strings after the header (the value's case
 * ignored if nocase)? */
static int has(const char *buf, size_t len, const char *kv, bool nocase)
{
	size_t kl = strchr(kv, '=') - kv + 1;

	for (size_t off = strlen(buf) + 1; off < len; off += strlen(buf + off) + 1)
		if (strncmp(buf + off, kv, kl) == 0 &&
		    (nocase ? strcasecmp(buf + off + kl, kv + kl) : strcmp(buf + off + kl, kv + kl)) == 0)
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct udk_pci_addr addr, again;
	char bdf[UDK_PCI_ADDR_STRLEN], kv[64], *buf;
	uint16_t vid, did;
	int rc;

	buf = fuzz_cstr(data, size);
	if (buf == NULL)
		return 0;
	rc = pci_uevent_parse(buf, size + 1, &addr, &vid, &did);
	if (rc != 0 && rc != 1)
		abort();
	if (rc == 1) {
		udk_pci_addr_format(&addr, bdf, sizeof(bdf));
		if (pci_addr_parse_quiet(bdf, &again) < 0 || udk_pci_addr_cmp(&addr, &again) != 0)
			abort();
		if (!has(buf, size + 1, "SUBSYSTEM=pci", false) ||
		    (!has(buf, size + 1, "ACTION=add", false) &&
		     !(has(buf, size + 1, "ACTION=bind", false) &&
		       has(buf, size + 1, "DRIVER=vfio-pci", false))))
			abort();
		snprintf(kv, sizeof(kv), "PCI_ID=%04x:%04x", vid, did);
		if (!has(buf, size + 1, kv, true))
			abort();
	}
	/* Not NUL-terminated: nothing is read past len, nothing is taken. */
	if (size > 0 && pci_uevent_parse((const char *)data, size, &addr, &vid, &did) != 0 &&
	    data[size - 1] != '\0')
		abort();
	free(buf);
	return 0;
}
