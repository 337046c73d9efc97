/* extra_api_app.c — an application of the extra API, built without libshim: asks for
 * the table, and when it gets one registers custom stats, counts, checks the entries
 * and stays up ("ready") until SIGTERM so shim_stats can look at it. Prints
 * "api: none" and exits 0 when libshim is not loaded. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <shim_extra.h>

static volatile sig_atomic_t done;

static void on_term(int sig)
{
	done = 1;
}

#define CHECK(cond)                                                             \
	do {                                                                    \
		if (!(cond)) {                                                  \
			printf("check failed: %s (line %d)\n", #cond, __LINE__); \
			return 1;                                               \
		}                                                               \
	} while (0)

int main(void)
{
	struct shim_api *api = shim_get_api();
	uint64_t v;

	signal(SIGTERM, on_term);
	if (!api) {
		printf("api: none\n");
		return 0;
	}
	printf("api: version %u size %u caps 0x%llx\n", api->version, api->size,
	       (unsigned long long)api->cap_mask);
	CHECK(api->magic == SHIM_API_MAGIC);
	CHECK(SHIM_API_HAS(api, stat_get));
	int orders = api->add_stat("myapp.orders", SHIM_STAT_MODE_COUNTER);
	int depth = api->add_stat("myapp.book_depth", SHIM_STAT_MODE_MAXIMUM);
	CHECK(orders >= 0 && depth == orders + 1);
	CHECK(api->add_stat("myapp.orders", SHIM_STAT_MODE_COUNTER) == -EEXIST);
	CHECK(api->stat_index("myapp.orders") == orders);
	for (int i = 0; i < 1000; i++)
		CHECK(api->stat_add(orders, 1) == 0);
	CHECK(api->stat_max(depth, 37) == 0 && api->stat_max(depth, 5) == 0);
	CHECK(api->stat_get(orders, &v) == 0 && v == 1000);
	CHECK(api->stat_get(depth, &v) == 0 && v == 37);
	CHECK(api->thread_offload(0, pthread_self()) == 0);
	CHECK(api->thread_offload(1, pthread_self()) == 0);
	CHECK(api->dump_fd_stats(12345, 3) == -ENOENT);
	printf("ready %d\n", getpid());
	fflush(stdout);
	while (!done)
		pause();
	return 0;
}
