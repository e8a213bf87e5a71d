/* SPDX-License-Identifier: BSD-3-Clause */
/* udk_util.h - errors, logging and small helpers shared by every udk library.
 *
 * Errors: every udk function returns 0 or a negative code, either -errno or
 * -UDK_E*.  The first place that knows why a call failed logs one line at
 * UDK_LOG_ERR naming the step and the remedy; that line is also kept per
 * thread and can be read back with udk_last_error().
 */
#ifndef UDK_UTIL_H
#define UDK_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* udk's own error codes, above the errno range.  Returned negated. */
enum udk_error {
	UDK_EBASE = 1000,
	UDK_ENOVFIO,            /* /dev/vfio/vfio missing: vfio-pci not loaded */
	UDK_ENOIOMMU,           /* no IOMMU groups: IOMMU off in firmware or kernel */
	UDK_EIOMMU_UNSUPPORTED, /* the kernel offers no IOMMU model udk can use */
	UDK_EGROUP_NOT_VIABLE,  /* another device of the group is bound to a host driver */
	UDK_EGROUP_BUSY,        /* the group is held by another process or another map */
	UDK_EINCOMPATIBLE,      /* the device's IOMMU cannot hold this map's mappings */
	UDK_ENOCONTAINER,       /* out of VFIO containers / IOMMU domains */
	UDK_EOVERLAP,           /* a mapping overlaps an existing one */
	UDK_ENOIOVA,            /* the map's IOVA space is exhausted */
	UDK_ENOHUGE,            /* no (or too few) free hugepages */
	UDK_ENOTMAPPED,         /* unmap of a range that is not exactly one mapping */
	UDK_ENOTBOUND,          /* the device is not bound to vfio-pci */
	UDK_EBADADDR,           /* malformed PCI address */
	UDK_EARGS,              /* malformed command-line option */
	UDK_EMEMLIMIT,          /* the -m/--socket-mem limit is reached */
	UDK_EMEMLOCK,           /* RLIMIT_MEMLOCK too low to pin the memory */
	UDK_EDEVSTATE,          /* the device is in a state that forbids the call */
	UDK_EATTACHED,          /* the device is already attached to a map */
	UDK_EDETACHED,          /* the device is not attached to any map */
	UDK_EREMOVED,           /* the device was removed */
	UDK_ENOIOMMUFD,         /* /dev/iommu missing: kernel without CONFIG_IOMMUFD */
	UDK_ENOCDEV,            /* no VFIO device cdev: kernel without CONFIG_VFIO_DEVICE_CDEV */
	UDK_EDEVBUSY,           /* the device is bound to another iommufd context or open via its group */
	UDK_ELAST
};

/* A static description of err (negative or positive, UDK_E* or errno).
 * Never NULL.  Thread-safe. */
const char *udk_strerror(int err);

/* The symbolic name of err ("UDK_EGROUP_NOT_VIABLE", "ENOENT"), or "?". */
const char *udk_strerror_name(int err);

enum udk_log_level {
	UDK_LOG_ERR = 1,
	UDK_LOG_WARN,
	UDK_LOG_NOTICE,
	UDK_LOG_INFO,
	UDK_LOG_DEBUG,
};

/* Log one line: "udk: <component>: <message>".  Lines above the current level
 * are dropped.  UDK_LOG_ERR lines are also stored as this thread's last error.
 * Not for the fast path.  Thread-safe. */
void udk_log(int level, const char *component, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void udk_vlog(int level, const char *component, const char *fmt, va_list ap);

/* Process-wide level; the default is UDK_LOG_NOTICE. */
void udk_log_set_level(int level);
int udk_log_get_level(void);
/* "err", "warn", "notice", "info", "debug" or 1..5.  0 or -UDK_EARGS. */
int udk_log_level_parse(const char *s, int *level);

/* Send log lines to fn instead of stderr (NULL restores stderr).  fn is
 * called with the formatted message, without the prefix or a newline; it may
 * be called from any thread. */
typedef void (*udk_log_sink_fn)(int level, const char *component, const char *msg, void *arg);
void udk_log_set_sink(udk_log_sink_fn fn, void *arg);

/* The last UDK_LOG_ERR message logged by the calling thread ("" if none). */
const char *udk_last_error(void);
void udk_last_error_clear(void);

/* sysfs helpers.  Read a small attribute file into buf, stripping the
 * trailing newline; 0 or -errno. */
int udk_sysfs_read(const char *path, char *buf, size_t len);
int udk_sysfs_read_u64(const char *path, uint64_t *val); /* decimal or 0x hex */
int udk_sysfs_write(const char *path, const char *val);
/* The basename of the symlink at path (e.g. a device's driver). */
int udk_sysfs_link_name(const char *path, char *buf, size_t len);

/* The sysfs mount udk reads: "/sys", unless the environment variable
 * UDK_SYSFS_ROOT names another tree (unit-test fixtures). */
const char *udk_sysfs_root(void);

/* "64", "2M", "1G", "512k" -> bytes.  0 or -UDK_EARGS. */
int udk_parse_size(const char *s, uint64_t *bytes);

#define UDK_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define UDK_ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define UDK_IS_POW2(x) ((x) != 0 && (((x) & ((x) - 1)) == 0))
#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#endif
#ifndef unlikely
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

#ifdef __cplusplus
}
#endif
#endif
