/* SPDX-License-Identifier: BSD-3-Clause */
/* lcore.c - worker lcores: one pthread per lcore after the first, pinned to
 * its CPU, parked on a condition variable until udk_lcore_launch() hands it a
 * function.  Lcore 0 is the thread that called udk_eal_init().
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "eal_internal.h"
#include "udk_util.h"

struct lcore {
	pthread_t thread;
	unsigned int cpu;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* work arrived, work finished, or quit */
	int (*fn)(void *arg);
	void *arg;
	int ret;
	bool busy;  /* fn is set and has not returned yet */
	bool quit;
};

static struct lcore lcores[UDK_MAX_LCORES];
/* Poll counters (udk_lcore_poll()): one cache line per lcore, and one for
 * every thread that is not an lcore, whose counts nobody reads. */
static struct udk_lcore_stats lcore_stats[UDK_MAX_LCORES];
static struct udk_lcore_stats lcore_stats_none;
_Thread_local struct udk_lcore_stats *udk_lcore_stats_self_ = &lcore_stats_none;
static unsigned int nb_lcores;
_Thread_local unsigned int udk_lcore_id_ __attribute__((tls_model("initial-exec"))) = UDK_LCORE_ANY;
/* The main thread's affinity before -l pinned it, restored at cleanup. */
static cpu_set_t main_saved;
static bool main_pinned;

unsigned int udk_lcore_count(void)
{
	return nb_lcores;
}

static void *worker(void *p)
{
	struct lcore *lc = p;

	udk_lcore_id_ = (unsigned int)(lc - lcores);
	udk_lcore_stats_self_ = &lcore_stats[udk_lcore_id_];
	/* Per-I/O IOVAs of this lcore come from its own lib/iova cache. */
	udk_iova_thread_set_cache(udk_lcore_id_);
	pthread_mutex_lock(&lc->lock);
	for (;;) {
		while (!lc->quit && !lc->busy)
			pthread_cond_wait(&lc->cond, &lc->lock);
		if (lc->quit)
			break;
		pthread_mutex_unlock(&lc->lock);
		int ret = lc->fn(lc->arg);
		pthread_mutex_lock(&lc->lock);
		lc->ret = ret;
		lc->fn = NULL;
		lc->busy = false;
		pthread_cond_broadcast(&lc->cond);
	}
	pthread_mutex_unlock(&lc->lock);
	return NULL;
}

static void stop_one(struct lcore *lc)
{
	pthread_mutex_lock(&lc->lock);
	lc->quit = true;
	pthread_cond_broadcast(&lc->cond);
	pthread_mutex_unlock(&lc->lock);
	pthread_join(lc->thread, NULL);
	pthread_cond_destroy(&lc->cond);
	pthread_mutex_destroy(&lc->lock);
}

static void pin_set(unsigned int cpu, cpu_set_t *set)
{
	CPU_ZERO(set);
	CPU_SET(cpu, set);
}

int eal_lcores_start(const unsigned int *cpus, size_t n)
{
	pthread_attr_t attr;
	cpu_set_t set;
	unsigned int i;
	int ret;

	main_pinned = false;
	memset(lcore_stats, 0, sizeof(lcore_stats));
	udk_lcore_stats_self_ = &lcore_stats[0];
	if (n == 0) {
		/* No -l: one lcore, the caller, wherever it runs now. */
		int cpu = sched_getcpu();

		lcores[0].cpu = cpu < 0 ? 0 : (unsigned int)cpu;
		nb_lcores = 1;
		udk_lcore_id_ = 0;
		udk_iova_thread_set_cache(0);
		return 0;
	}
	lcores[0].cpu = cpus[0];
	if (pthread_getaffinity_np(pthread_self(), sizeof(main_saved), &main_saved) == 0) {
		pin_set(cpus[0], &set);
		ret = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
		if (ret != 0) {
			udk_log(UDK_LOG_ERR, "eal", "lcore 0: cannot pin the main thread to CPU %u: %s",
				cpus[0], strerror(ret));
			return -ret;
		}
		main_pinned = true;
	}
	udk_lcore_id_ = 0;
	udk_iova_thread_set_cache(0);
	nb_lcores = 1;

	for (i = 1; i < n; i++) {
		struct lcore *lc = &lcores[i];

		memset(lc, 0, sizeof(*lc));
		lc->cpu = cpus[i];
		pthread_mutex_init(&lc->lock, NULL);
		pthread_cond_init(&lc->cond, NULL);
		pthread_attr_init(&attr);
		/* Pinned before it runs a single instruction: nothing it touches
		 * first lands on another node. */
		pin_set(cpus[i], &set);
		pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
		ret = pthread_create(&lc->thread, &attr, worker, lc);
		pthread_attr_destroy(&attr);
		if (ret != 0) {
			udk_log(UDK_LOG_ERR, "eal", "lcore %u: cannot start a thread on CPU %u: %s",
				i, cpus[i], strerror(ret));
			pthread_cond_destroy(&lc->cond);
			pthread_mutex_destroy(&lc->lock);
			eal_lcores_stop();
			return -ret;
		}
		nb_lcores = i + 1;
	}
	return 0;
}

void eal_lcores_stop(void)
{
	for (unsigned int i = nb_lcores; i-- > 1;)
		stop_one(&lcores[i]);
	if (main_pinned)
		pthread_setaffinity_np(pthread_self(), sizeof(main_saved), &main_saved);
	main_pinned = false;
	nb_lcores = 0;
	udk_lcore_id_ = UDK_LCORE_ANY;
	udk_lcore_stats_self_ = &lcore_stats_none;
	udk_iova_thread_set_cache(UDK_IOVA_SHARED);
}

static int check_worker(unsigned int id, const char *what)
{
	if (nb_lcores < 2) {
		udk_log(UDK_LOG_ERR, "eal", "%s: lcore %u: there are no worker lcores (give -l with "
			"more than one CPU)", what, id);
		return -EINVAL;
	}
	if (id == 0 || id >= nb_lcores) {
		udk_log(UDK_LOG_ERR, "eal", "%s: lcore %u is not a worker lcore (workers are 1-%u)",
			what, id, nb_lcores - 1);
		return -EINVAL;
	}
	return 0;
}

int udk_lcore_launch(unsigned int id, int (*fn)(void *arg), void *arg)
{
	struct lcore *lc;
	int ret = check_worker(id, "launch");

	if (ret < 0)
		return ret;
	if (fn == NULL)
		return -EINVAL;
	lc = &lcores[id];
	pthread_mutex_lock(&lc->lock);
	if (lc->busy) {
		pthread_mutex_unlock(&lc->lock);
		return -EBUSY;
	}
	lc->fn = fn;
	lc->arg = arg;
	lc->ret = 0;
	lc->busy = true;
	pthread_cond_broadcast(&lc->cond);
	pthread_mutex_unlock(&lc->lock);
	return 0;
}

int udk_lcore_wait(unsigned int id)
{
	struct lcore *lc;
	int ret = check_worker(id, "wait");

	if (ret < 0)
		return ret;
	lc = &lcores[id];
	pthread_mutex_lock(&lc->lock);
	while (lc->busy)
		pthread_cond_wait(&lc->cond, &lc->lock);
	ret = lc->ret;
	pthread_mutex_unlock(&lc->lock);
	return ret;
}

int udk_lcore_info(unsigned int id, struct udk_lcore_info *info)
{
	if (id >= nb_lcores)
		return -EINVAL;
	info->cpu = lcores[id].cpu;
	info->busy_polls = udk_counter_read(&lcore_stats[id].busy);
	info->idle_polls = udk_counter_read(&lcore_stats[id].idle);
	info->sleeps = udk_counter_read(&lcore_stats[id].sleeps);
	info->wakeups = udk_counter_read(&lcore_stats[id].wakeups);
	info->sleep_ns = udk_counter_read(&lcore_stats[id].sleep_ns);
	if (id == 0) {
		info->running = true; /* the main thread runs the application */
	} else {
		pthread_mutex_lock(&lcores[id].lock);
		info->running = lcores[id].busy;
		pthread_mutex_unlock(&lcores[id].lock);
	}
	return 0;
}
