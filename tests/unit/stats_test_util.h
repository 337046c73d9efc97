/* stats_test_util.h — helpers shared by the stats, extra API and internal thread unit
 * tests: a scratch directory for segments and the Check runner's main. */
#ifndef SHIM_STATS_TEST_UTIL_H
#define SHIM_STATS_TEST_UTIL_H

#include <check.h>
#include <stddef.h>

/* mkdtemp() under /tmp with this prefix into buf; the test fails if it cannot. */
void stats_test_mkdir(char *buf, size_t size, const char *prefix);
/* Remove the directory and everything in it. */
void stats_test_rmdir(const char *dir);
/* Run the suite; the exit status of a test program. */
int stats_test_run(Suite *s);

#endif
