/* SPDX-License-Identifier: BSD-3-Clause */
/* A program with a function named like one of libudk's internal ones
 * (heap_init, in lib/mem) must not have it called by libudk: linked against
 * libudk.so, whose internal symbols are local (lib/udk.map).  Exit 0 when
 * udk_eal_init() works and never called this heap_init, 1 otherwise. */
#include <stdio.h>

#include "udk_eal.h"

static int calls;

/* Not libudk's signature, on purpose: any program may use the name. */
void heap_init(void *h, int node);
void heap_init(void *h, int node)
{
	(void)h;
	(void)node;
	calls++;
}

int main(void)
{
	char *argv[] = {"interpose", "--no-huge", "-m", "16", "-l", "0", NULL};
	int ret = udk_eal_init(6, argv);

	if (ret < 0) {
		fprintf(stderr, "interpose: udk_eal_init: %d\n", ret);
		return 1;
	}
	udk_eal_cleanup();
	if (calls != 0) {
		fprintf(stderr, "interpose: libudk called the program's heap_init %d times\n", calls);
		return 1;
	}
	printf("interpose: the program's heap_init was left alone\n");
	return 0;
}
