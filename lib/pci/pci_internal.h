/* pci_internal.h - helpers shared by the files of lib/pci; not installed. */
#ifndef UDK_PCI_INTERNAL_H
#define UDK_PCI_INTERNAL_H

#include <stddef.h>

#include "udk_pci.h"

/* Parse without logging (sysfs directory names, whose form is known). */
int pci_addr_parse_quiet(const char *s, struct udk_pci_addr *addr);

/* "<sysfs root>/bus/pci/devices/<bdf>[/<attr>]" into buf; -ENAMETOOLONG. */
int pci_dev_path(const struct udk_pci_addr *addr, const char *attr, char *buf, size_t len);

/* "<sysfs root>/<rel>" into buf; -ENAMETOOLONG. */
int pci_sysfs_path(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
