/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * labutil: small helpers for lab tests, the programs that tests/lab/lab.py
 * runs as root inside the QEMU guest (doc/lab.md).  Independent of libudk, so
 * a lab test can check udk from the outside.  Not thread-safe; the CHECK
 * counters are process-global on purpose.
 */
#ifndef UDK_LABUTIL_H
#define UDK_LABUTIL_H

#include <stddef.h>
#include <stdint.h>

#define LAB_SKIP 77 /* the exit code meson reports as SKIP */
#define LAB_BDF_LEN 16 /* "0000:00:03.0" and its NUL */

/*
 * Non-fatal check: on failure prints "file:line: CHECK failed: expr" to
 * stderr, counts it and goes on.  End main() with `return lab_result();`.
 */
#define CHECK(expr)                                                                     \
	((expr) ? (void)0 : lab_check_failed(__FILE__, __LINE__, #expr, NULL))
/* As CHECK, with a printf-style explanation added to the message. */
#define CHECK_MSG(expr, ...)                                                            \
	((expr) ? (void)0 : lab_check_failed(__FILE__, __LINE__, #expr, __VA_ARGS__))
/* Fatal check: as CHECK, then exits 1 at once (the rest makes no sense). */
#define REQUIRE(expr)                                                                   \
	((expr) ? (void)0 : lab_require_failed(__FILE__, __LINE__, #expr))

void lab_check_failed(const char *file, int line, const char *expr, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
_Noreturn void lab_require_failed(const char *file, int line, const char *expr);
/* 0 if no CHECK failed so far, else 1 (prints how many failed). */
int lab_result(void);

/* Print "SKIP: <reason>" and exit 77. */
_Noreturn void lab_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "FAIL: <reason>" and exit 1. */
_Noreturn void lab_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Skip unless running as root inside the lab guest (UDK_LAB=1 in the
 * environment or in lab.env).  Call first in main().
 */
void lab_require_guest(void);

/*
 * A lab setting: the environment variable `key`, else its line in
 * $UDK_LAB_DIR/lab.env (default /mnt/lab.env).  Keys: UDK_LAB, UDK_LAB_DIR,
 * UDK_LAB_KERNEL, UDK_LAB_HUGEPAGES, UDK_LAB_NVME, UDK_LAB_NVME2,
 * UDK_LAB_VIRTIO, UDK_LAB_E1000E, UDK_LAB_E1000_A, UDK_LAB_E1000_B.
 * Returns NULL if unset or empty.  The string stays valid until exit.
 */
const char *lab_env(const char *key);
/* lab_env(key), or lab_skip() saying which device or setting is missing. */
const char *lab_env_require(const char *key);

/*
 * The nth (0-based, in address order) PCI device with this vendor:device.
 * Writes its address to bdf; returns 0, or -ENOENT.
 */
int lab_find_device(uint16_t vendor, uint16_t device, unsigned int nth, char bdf[LAB_BDF_LEN]);
/* The driver bound to bdf into buf ("" if none); returns 0 or -errno. */
int lab_device_driver(const char *bdf, char *buf, size_t len);
/* The IOMMU group number of bdf, or -errno (-ENOENT: no IOMMU group). */
int lab_device_group(const char *bdf);

/*
 * Bind bdf to `driver` as an administrator would: driver_override, unbind
 * from the current driver, /sys/bus/pci/drivers_probe.  driver NULL or ""
 * leaves the device unbound (and clears driver_override).  Loads the
 * driver's module first (modprobe).  Returns 0 once bound, or -errno.
 */
int lab_bind(const char *bdf, const char *driver);
/* lab_bind(bdf, "vfio-pci"). */
int lab_bind_vfio(const char *bdf);
/* With bdf on the kernel's nvme driver: the disk of namespace nsid
 * ("/dev/nvmeXnY", found by its sysfs nsid, multipath or not), waiting up to
 * 10 s for the kernel to probe it.  0 or -ENOENT. */
int lab_nvme_disk(const char *bdf, unsigned int nsid, char *dev, size_t len);

/* Run a shell command (printf-style); returns its exit status or -1. */
int lab_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A block pattern that names its LBA and a seed in every 8 bytes, so a block
 * written to the wrong place or left stale is caught: fill nlb blocks of bs
 * bytes from lba; check returns the first block (0-based) that differs, or -1.
 */
void lab_pattern_fill(void *buf, uint64_t lba, uint32_t nlb, uint32_t bs, uint64_t seed);
long lab_pattern_check(const void *buf, uint64_t lba, uint32_t nlb, uint32_t bs, uint64_t seed);

/* Read a whole small sysfs/proc file (trailing newline removed): 0 or -errno. */
int lab_read_file(const char *path, char *buf, size_t len);
/* Write a string to a sysfs/proc file: 0 or -errno. */
int lab_write_file(const char *path, const char *s);

/*
 * Kernel log.  lab_kmsg_mark() returns the sequence number the next kernel
 * message will get; lab_kmsg_find() waits up to timeout_ms for a message at
 * or after `since` that matches the POSIX extended regex `pattern` (e.g.
 * "DMAR: \\[DMA Write"), copies it to line (if not NULL) and returns 1;
 * 0 if none came, -errno on error.  lab_kmsg_mark() first waits out the
 * kernel's rate limit on IOMMU fault lines (up to 5.2 s after the last DMAR
 * line) so that a fault provoked next is printed.
 */
uint64_t lab_kmsg_mark(void);
int lab_kmsg_find(uint64_t since, const char *pattern, int timeout_ms, char *line, size_t len);

/*
 * Send one QMP command to the QEMU that runs this guest (hot-plug), through
 * the lab share (lab.py's QMP bridge).  command is a JSON object, e.g.
 * {"execute":"device_del","arguments":{"id":"nvme1"}}; with wait_event (e.g.
 * "DEVICE_DELETED") the host also waits up to timeout_s for that event.  The
 * answer, {"reply": {...}, "events": [...]}, goes to out (if not NULL).
 * Returns 0 when QEMU returned success (and the event came, if asked for),
 * -EIO when it answered with an error or the event did not come, -ETIMEDOUT
 * when the host did not answer at all.  QEMU's device ids: nvme0, nvme1 (on
 * root port rp1, the one to unplug), vnet0, e1000e0, e1000a, e1000b; the host
 * path of the share, for blockdev-add, is lab_env("UDK_LAB_HOST_DIR"), with a
 * spare image nvme-hotplug.img in it.
 */
int lab_qmp(const char *command, const char *wait_event, int timeout_s, char *out, size_t len);

/* Free and total 2 MiB hugepages (from /proc/meminfo); -1 if unknown. */
long lab_hugepages_free(void);
long lab_hugepages_total(void);

/*
 * Run a shell command, print it and what it wrote, keep its stdout in out
 * (NUL-terminated, cut at len - 1).  Returns its exit status, or -1.
 */
int lab_run_output(const char *cmd, char *out, size_t len);

#endif /* UDK_LABUTIL_H */
