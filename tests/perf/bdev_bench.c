/* SPDX-License-Identifier: BSD-3-Clause */
/* bdev_bench - what lib/bdev itself costs: 4 KiB reads (or writes) at a
 * queue depth on a null or malloc bdev, one channel per thread, each
 * callback submitting the next I/O; prints IOPS per thread and in total, and
 * nanoseconds per I/O.  No device: the figure is the layer's floor (the
 * null backend) or the layer plus a memcpy (malloc).
 * Run: build/tests/perf/bdev_bench [--backend null|malloc] [--threads N]
 *      [--qd N] [--seconds S] [--bs BYTES] [--write] */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "udk_bdev.h"
#include "udk_util.h"

#define MAX_THREADS 64
#define MAX_QD 256
#define BLOCKS 16384u

struct worker {
	pthread_t thr;
	struct udk_bdev *b;
	struct udk_bdev_channel *ch;
	int qd, idx;
	uint32_t nblk;
	bool write;
	double secs;
	uint64_t done, errors;
	bool *stop; /* atomic: set by main */
	uint8_t *bufs;
	uint64_t lba;
	int rc;
};

struct slot {
	struct worker *w;
	uint8_t *buf;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int submit(struct slot *s);

static void on_done(void *arg, int status)
{
	struct slot *s = arg;

	s->w->done++;
	s->w->errors += status != 0;
	if (!__atomic_load_n(s->w->stop, __ATOMIC_RELAXED))
		submit(s);
}

static int submit(struct slot *s)
{
	struct worker *w = s->w;
	uint64_t lba = w->lba;

	w->lba = (w->lba + w->nblk) % (BLOCKS - w->nblk);
	return w->write ? udk_bdev_write(w->ch, s->buf, lba, w->nblk, on_done, s) :
			  udk_bdev_read(w->ch, s->buf, lba, w->nblk, on_done, s);
}

static void *run(void *arg)
{
	struct worker *w = arg;
	struct slot slots[MAX_QD];
	size_t len = (size_t)w->nblk * 512;
	double t0;

	w->rc = udk_bdev_channel_get(w->b, &w->ch);
	if (w->rc != 0)
		return NULL;
	w->bufs = calloc((size_t)w->qd, len);
	if (w->bufs == NULL) {
		w->rc = -ENOMEM;
		return NULL;
	}
	w->lba = (uint64_t)w->idx * 977 % (BLOCKS - w->nblk);
	for (int i = 0; i < w->qd; i++) {
		slots[i].w = w;
		slots[i].buf = w->bufs + (size_t)i * len;
		if (submit(&slots[i]) != 0) {
			w->rc = -EIO;
			return NULL;
		}
	}
	t0 = now();
	while (!__atomic_load_n(w->stop, __ATOMIC_RELAXED))
		udk_bdev_channel_poll(w->ch, 0);
	w->secs = now() - t0;
	udk_bdev_channel_put(w->ch); /* ends the last qd in flight */
	free(w->bufs);
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bdev_bench [--backend null|malloc] [--threads N] [--qd N] "
		   "[--seconds S] [--bs BYTES] [--write]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"backend", required_argument, NULL, 'b'}, {"threads", required_argument, NULL, 't'},
		{"qd", required_argument, NULL, 'q'},      {"seconds", required_argument, NULL, 's'},
		{"bs", required_argument, NULL, 'B'},      {"write", no_argument, NULL, 'w'},
		{"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
	};
	const char *backend = "null";
	int threads = 1, qd = 32, c;
	double seconds = 2;
	uint32_t bs = 4096;
	bool write = false;
	static struct worker w[MAX_THREADS];
	bool stop = false;
	struct udk_bdev *b;
	uint64_t total = 0, errors = 0;
	int rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'b': backend = optarg; break;
		case 't': threads = atoi(optarg); break;
		case 'q': qd = atoi(optarg); break;
		case 's': seconds = atof(optarg); break;
		case 'B': bs = (uint32_t)atoi(optarg); break;
		case 'w': write = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (threads < 1 || threads > MAX_THREADS || qd < 1 || qd > MAX_QD || seconds <= 0 ||
	    bs < 512 || bs % 512 != 0 || bs / 512 >= BLOCKS) {
		fprintf(stderr, "bdev_bench: threads 1..%d, qd 1..%d, seconds > 0, bs a multiple "
			"of 512 below %u\n", MAX_THREADS, MAX_QD, BLOCKS * 512);
		return 2;
	}
	if (strcmp(backend, "null") == 0)
		rc = udk_bdev_null_create("bench", BLOCKS, 512, &b);
	else if (strcmp(backend, "malloc") == 0)
		rc = udk_bdev_malloc_create("bench", BLOCKS, 512, &b);
	else {
		usage(stderr);
		return 2;
	}
	if (rc != 0) {
		fprintf(stderr, "bdev_bench: %s bdev: %s\n", backend, udk_last_error());
		return 1;
	}
	for (int i = 0; i < threads; i++) {
		w[i] = (struct worker){.b = b, .qd = qd, .idx = i, .nblk = bs / 512,
				       .write = write, .stop = &stop};
		if (pthread_create(&w[i].thr, NULL, run, &w[i]) != 0) {
			fprintf(stderr, "bdev_bench: pthread_create failed\n");
			return 1;
		}
	}
	struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
	nanosleep(&ts, NULL);
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	for (int i = 0; i < threads; i++) {
		pthread_join(w[i].thr, NULL);
		if (w[i].rc != 0) {
			fprintf(stderr, "bdev_bench: thread %d: %s\n", i, udk_strerror(w[i].rc));
			return 1;
		}
		printf("thread %d: %.0f IOPS (%.0f ns per I/O)\n", i, (double)w[i].done / w[i].secs,
		       w[i].secs * 1e9 / (double)w[i].done);
		total += w[i].done;
		errors += w[i].errors;
	}
	printf("%s bdev, %u-byte %s, QD %d, %d thread%s: %.0f IOPS in total, %llu errors\n",
	       backend, bs, write ? "writes" : "reads", qd, threads, threads == 1 ? "" : "s",
	       (double)total / w[0].secs, (unsigned long long)errors);
	udk_bdev_destroy(b);
	return errors != 0;
}
