/* SPDX-License-Identifier: BSD-3-Clause */
/* sysfs.c - small, careful readers and writers of sysfs attributes, and size
 * parsing.  Used by lib/pci, lib/dma and lib/mem. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "udk_util.h"

const char *udk_sysfs_root(void)
{
	const char *r = getenv("UDK_SYSFS_ROOT");

	return (r != NULL && *r != '\0') ? r : "/sys";
}

int udk_sysfs_read(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd, err;

	if (len == 0)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

int udk_sysfs_read_u64(const char *path, uint64_t *val)
{
	char buf[64], *end;
	unsigned long long v;
	int rc;

	rc = udk_sysfs_read(path, buf, sizeof(buf));
	if (rc < 0)
		return rc;
	errno = 0;
	v = strtoull(buf, &end, 0);
	if (errno != 0 || end == buf || (*end != '\0' && *end != '\n'))
		return -EINVAL;
	*val = v;
	return 0;
}

int udk_sysfs_write(const char *path, const char *val)
{
	size_t len = strlen(val);
	ssize_t n;
	int fd, err;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	if ((size_t)n != len)
		return -EIO;
	return 0;
}

int udk_sysfs_link_name(const char *path, char *buf, size_t len)
{
	char target[PATH_MAX];
	const char *base;
	ssize_t n;

	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strlen(base) + 1 > len)
		return -ENAMETOOLONG;
	memcpy(buf, base, strlen(base) + 1);
	return 0;
}

int udk_parse_size(const char *s, uint64_t *bytes)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	if (s == NULL || *s < '0' || *s > '9')
		return -UDK_EARGS;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -UDK_EARGS;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	default: return -UDK_EARGS;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end != '\0')
		return -UDK_EARGS;
	if (shift && v > (UINT64_MAX >> shift))
		return -UDK_EARGS;
	*bytes = (uint64_t)v << shift;
	return 0;
}
