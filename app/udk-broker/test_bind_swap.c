/* SPDX-License-Identifier: BSD-3-Clause */
/* test_bind_swap: an LD_PRELOAD helper for test_broker_conn.py.  Right after
 * a UNIX socket is bound at a path, it puts a symlink to
 * $UDK_TEST_SWAP_TARGET in the socket's place, as whoever can write to the
 * socket's directory could: whatever the broker does to the path after
 * bind() must not reach the target. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	int (*real)(int, const struct sockaddr *, socklen_t) =
		(int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
	const char *target = getenv("UDK_TEST_SWAP_TARGET");
	char moved[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	int rc = real(fd, sa, len);

	if (rc == 0 && target != NULL && sa->sa_family == AF_UNIX) {
		const char *path = ((const struct sockaddr_un *)sa)->sun_path;

		snprintf(moved, sizeof(moved), "%s.real", path);
		if (rename(path, moved) < 0 || symlink(target, path) < 0)
			return -1;
	}
	return rc;
}
