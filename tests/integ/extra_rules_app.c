/* extra_rules_app.c — add_conf_rule() through the extra API: a UDP receiver bound
 * before the rule keeps its offload decision, one bound after "use os udp_receiver"
 * stays with the kernel. Binds ADDR:PORT and ADDR:PORT+1, prints
 * "ready <pid> <fd before> <fd after>" and waits for SIGTERM. */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <shim_extra.h>

static volatile sig_atomic_t done;

static void on_term(int sig)
{
	done = 1;
}

static int bound(const char *addr, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	if (s < 0 || inet_pton(AF_INET, addr, &a.sin_addr) != 1 ||
	    bind(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("bind");
		exit(1);
	}
	return s;
}

int main(int argc, char **argv)
{
	struct shim_api *api = shim_get_api();
	const char *addr = argc > 1 ? argv[1] : "127.0.0.1";
	int port = argc > 2 ? atoi(argv[2]) : 5001;

	signal(SIGTERM, on_term);
	if (!api) {
		printf("api: none\n");
		return 0;
	}
	int before = bound(addr, port);
	int r = api->add_conf_rule("use os udp_receiver *:*");
	if (r) {
		printf("add_conf_rule: %d\n", r);
		return 1;
	}
	if (api->add_conf_rule("use nonsense") != -22) {
		printf("a bad rule was accepted\n");
		return 1;
	}
	int after = bound(addr, port + 1);
	printf("ready %d %d %d\n", getpid(), before, after);
	fflush(stdout);
	while (!done)
		pause();
	return 0;
}
