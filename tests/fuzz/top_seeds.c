/* SPDX-License-Identifier: BSD-3-Clause */
/* top_seeds: write fuzz_top_answer's starting corpus into DIR: the sort
 * byte, then two samples of the six answers a udk process gives udk-top
 * (as lib/telemetry and its providers write them), one per line. */
#include <stdio.h>

#define INFO "{\"data\":{\"pid\":4242,\"prog\":\"/usr/bin/udk-nvme-perf\",\"uptime_s\":%d," \
	     "\"lcores\":2,\"socket\":\"/run/udk/udk-nvme-perf.4242.sock\",\"args\":[\"-l\",\"0-1\"]}}\n"
#define LCORES "{\"data\":[{\"lcore\":0,\"cpu\":0,\"busy_polls\":%d,\"idle_polls\":%d," \
	       "\"running\":true},{\"lcore\":1,\"cpu\":1,\"busy_polls\":0,\"idle_polls\":9," \
	       "\"running\":false}]}\n"
#define PORTS "{\"data\":[{\"port\":0,\"name\":\"net_ring0\",\"driver\":\"net_ring\"," \
	      "\"link\":{\"up\":true,\"speed_mbps\":10000},\"stats\":{\"ipackets\":%d," \
	      "\"opackets\":%d,\"ibytes\":%d,\"obytes\":%d,\"imissed\":0,\"ierrors\":0," \
	      "\"oerrors\":1}}]}\n"
#define NVME "{\"data\":[{\"bdf\":\"0000:00:04.0\",\"model\":\"QEMU NVMe Ctrl\",\"qpairs\":" \
	     "[{\"qid\":1,\"completed\":%d,\"in_flight\":4,\"errors\":0,\"timeouts\":0," \
	     "\"latency\":{\"count\":%d,\"sum_ns\":%d,\"buckets\":[[0,1],[1024,%d],[4096,2]]}}]}]}\n"
#define REST "{\"data\":{\"maps\":[{\"bytes_mapped\":67108864}],\"memory\":" \
	     "{\"bytes_reserved\":4096}}}\n{\"error\":{\"code\":-2,\"message\":\"no devices\"}}\n"

int main(int argc, char **argv)
{
	char path[512];
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: top_seeds DIR\n");
		return 2;
	}
	for (int sort = 0; sort < 3; sort++) {
		snprintf(path, sizeof(path), "%s/snapshot%d", argv[1], sort);
		f = fopen(path, "wb");
		if (f == NULL)
			return 1;
		fputc(sort, f);
		for (int k = 1; k <= 2; k++) {
			fprintf(f, INFO, k);
			fprintf(f, LCORES, 100 * k, 50 * k);
			fprintf(f, PORTS, 1000 * k, 900 * k, 64000 * k, 57600 * k);
			fprintf(f, NVME, 300 * k, 300 * k, 9000000 * k, 297 * k);
			fprintf(f, REST);
		}
		if (fclose(f) != 0)
			return 1;
	}
	return 0;
}
