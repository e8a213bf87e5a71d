/* SPDX-License-Identifier: BSD-3-Clause */
/* unit.h - the few lines every CUnit suite of udk shares: register suites,
 * keep expected error lines off the output, run verbosely and turn failures
 * into the exit code meson reads. */
#ifndef UDK_TEST_UNIT_H
#define UDK_TEST_UNIT_H

#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

#include "udk_util.h"

struct unit_test {
	const char *name;
	void (*fn)(void);
};

static inline void unit_quiet_sink(int level, const char *comp, const char *msg, void *arg)
{
	(void)level;
	(void)comp;
	(void)msg;
	(void)arg;
}

/* Tests check error lines through udk_last_error(), which records them even
 * with this sink; UDK_TEST_VERBOSE=1 shows them. */
static inline void unit_quiet_logs(void)
{
	if (getenv("UDK_TEST_VERBOSE") == NULL)
		udk_log_set_sink(unit_quiet_sink, NULL);
}

/* Add one suite (init/fini may be NULL).  0, or 1 if CUnit failed. */
static inline int unit_add(const char *suite, CU_InitializeFunc init, CU_CleanupFunc fini,
			   const struct unit_test *t, size_t n)
{
	CU_pSuite s;

	if (CU_get_registry() == NULL && CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite(suite, init, fini);
	if (s == NULL)
		return 1;
	for (size_t i = 0; i < n; i++)
		if (CU_add_test(s, t[i].name, t[i].fn) == NULL)
			return 1;
	return 0;
}

/* Run every suite added; returns the exit code for main. */
static inline int unit_run_all(void)
{
	unsigned int failed;

	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}

/* One suite: add it and run it. */
static inline int unit_run(const char *suite, const struct unit_test *t, size_t n)
{
	if (unit_add(suite, NULL, NULL, t, n) != 0)
		return 1;
	return unit_run_all();
}

/* Assert that the calling thread's last error line contains text. */
#define CU_ASSERT_LAST_ERROR_HAS(text) CU_ASSERT_PTR_NOT_NULL(strstr(udk_last_error(), (text)))

#endif
