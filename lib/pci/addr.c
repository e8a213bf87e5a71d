/* SPDX-License-Identifier: BSD-3-Clause */
/* addr.c - PCI addresses: strict parsing of "DDDD:BB:DD.F" and "BB:DD.F",
 * the canonical text form, and ordering. */
#include <stdio.h>
#include <string.h>

#include "pci_internal.h"
#include "udk_util.h"

/* Exactly n hex digits at s; the value goes to *out. */
static int hex_field(const char *s, int n, unsigned int *out)
{
	unsigned int v = 0;

	for (int i = 0; i < n; i++) {
		char c = s[i];

		if (c >= '0' && c <= '9')
			v = v * 16 + (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v = v * 16 + (unsigned int)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

int pci_addr_parse_quiet(const char *s, struct udk_pci_addr *addr)
{
	unsigned int domain = 0, bus, dev, func;
	size_t len;

	if (s == NULL)
		return -UDK_EBADADDR;
	len = strlen(s);
	if (len == 12) { /* DDDD:BB:DD.F */
		if (hex_field(s, 4, &domain) < 0 || s[4] != ':')
			return -UDK_EBADADDR;
		s += 5;
	} else if (len != 7) { /* BB:DD.F */
		return -UDK_EBADADDR;
	}
	if (hex_field(s, 2, &bus) < 0 || s[2] != ':' || hex_field(s + 3, 2, &dev) < 0 ||
	    s[5] != '.' || hex_field(s + 6, 1, &func) < 0)
		return -UDK_EBADADDR;
	if (dev > 0x1f || func > 7)
		return -UDK_EBADADDR;
	addr->domain = (uint16_t)domain;
	addr->bus = (uint8_t)bus;
	addr->dev = (uint8_t)dev;
	addr->func = (uint8_t)func;
	return 0;
}

int udk_pci_addr_parse(const char *s, struct udk_pci_addr *addr)
{
	int rc = pci_addr_parse_quiet(s, addr);
	char shown[65];
	size_t i;

	if (rc == 0)
		return 0;
	/* Keep the log line one line: show control characters as '?'. */
	for (i = 0; s != NULL && s[i] != '\0' && i < sizeof(shown) - 1; i++)
		shown[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	shown[i] = '\0';
	udk_log(UDK_LOG_ERR, "pci",
		"bad PCI address '%s': expected DDDD:BB:DD.F or BB:DD.F in hex "
		"(device 00-1f, function 0-7), e.g. 0000:03:00.1",
		s ? shown : "(null)");
	return rc;
}

void udk_pci_addr_format(const struct udk_pci_addr *addr, char *buf, size_t len)
{
	if (len == 0)
		return;
	snprintf(buf, len, "%04x:%02x:%02x.%x", addr->domain, addr->bus, addr->dev,
		 addr->func);
}

int udk_pci_addr_cmp(const struct udk_pci_addr *a, const struct udk_pci_addr *b)
{
	uint32_t ka = (uint32_t)a->domain << 16 | (uint32_t)a->bus << 8 |
		      (uint32_t)a->dev << 3 | a->func;
	uint32_t kb = (uint32_t)b->domain << 16 | (uint32_t)b->bus << 8 |
		      (uint32_t)b->dev << 3 | b->func;

	return ka < kb ? -1 : ka > kb ? 1 : 0;
}
