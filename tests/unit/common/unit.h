/* unit.h - the few lines every CUnit suite of udk shares: run the registry
 * verbosely and turn failures into the exit code meson reads. */
#ifndef UDK_TEST_UNIT_H
#define UDK_TEST_UNIT_H

#include <CUnit/Basic.h>
#include <string.h>

struct unit_test {
	const char *name;
	void (*fn)(void);
};

/* Register one suite of tests and run it; returns the exit code for main. */
static inline int unit_run(const char *suite, const struct unit_test *t, size_t n)
{
	unsigned int failed;
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite(suite, NULL, NULL);
	for (size_t i = 0; i < n; i++)
		CU_add_test(s, t[i].name, t[i].fn);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}

/* Assert that the calling thread's last error line contains text. */
#define CU_ASSERT_LAST_ERROR_HAS(text) CU_ASSERT_PTR_NOT_NULL(strstr(udk_last_error(), (text)))

#endif
