/* stats_test_util.c — see stats_test_util.h. */
#include "stats_test_util.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

void stats_test_mkdir(char *buf, size_t size, const char *prefix)
{
	snprintf(buf, size, "/tmp/%s.XXXXXX", prefix);
	ck_assert_ptr_nonnull(mkdtemp(buf));
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

void stats_test_rmdir(const char *dir)
{
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

int stats_test_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
