/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_broker_proto: libFuzzer target for udk-broker's message parser
 * (lib/broker/proto.c), the code a hostile client reaches first.  The first
 * input byte picks the side and the number of descriptors "received"; the
 * rest is the message.  Beyond not crashing (ASan, UBSan), every message the
 * parser accepts must build back to the same bytes and parse again to the
 * same result. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "udk_broker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct udk_broker_msg m, again;
	static char buf[UDK_BROKER_MSG_MAX];
	enum udk_broker_side side;
	unsigned int nfds;
	char why[256];
	int n;

	if (size < 1)
		return 0;
	side = (data[0] & 1) ? UDK_BROKER_FROM_BROKER : UDK_BROKER_FROM_CLIENT;
	nfds = data[0] >> 1;
	data++;
	size--;
	if (udk_broker_parse(data, size, nfds, side, &m, why, sizeof(why)) < 0) {
		if (why[0] == '\0' || strnlen(why, sizeof(why)) == sizeof(why))
			abort(); /* every refusal says why */
		return 0;
	}
	n = udk_broker_build(&m, buf, sizeof(buf), why, sizeof(why));
	if (n < 0 || (size_t)n != size || memcmp(buf, data, size) != 0)
		abort();
	if (udk_broker_parse(buf, (size_t)n, nfds, side, &again, why, sizeof(why)) != 0 ||
	    memcmp(&m, &again, sizeof(m)) != 0)
		abort();
	return 0;
}
