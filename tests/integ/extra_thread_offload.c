/* extra_thread_offload.c — the extra API's thread_offload() as an application uses
 * it: a worker thread says whether its new sockets may be offloaded, then creates a
 * UDP socket and exchanges datagrams with an echo peer.
 *   extra_thread_offload 0|1 PEER_ADDR PORT COUNT
 * Exit 0 when every datagram came back, 1 otherwise, 2 on a usage or API error. */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <shim_extra.h>

static int offload, count;
static struct sockaddr_in peer = { .sin_family = AF_INET };

static void *worker(void *arg)
{
	struct shim_api *api = shim_get_api();
	struct timeval tv = { .tv_sec = 2 };
	int s, got = 0;

	(void)arg;
	if (!api || !(api->cap_mask & SHIM_CAP_THREAD_OFFLOAD) ||
	    api->thread_offload(offload, pthread_self()) != 0) {
		printf("no extra API with thread_offload\n");
		return (void *)2;
	}
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		perror("socket");
		return (void *)2;
	}
	for (int i = 0; i < count; i++) {
		char out[32], in[64];
		int n = snprintf(out, sizeof(out), "dgram %d", i);
		ssize_t r;

		if (sendto(s, out, (size_t)n, 0, (struct sockaddr *)&peer, sizeof(peer)) != n) {
			perror("sendto");
			break;
		}
		r = recv(s, in, sizeof(in), 0);
		if (r == n && !memcmp(in, out, (size_t)n))
			got++;
	}
	close(s);
	printf("thread_offload(%d): %d of %d echoes\n", offload, got, count);
	return got == count ? NULL : (void *)1;
}

int main(int argc, char **argv)
{
	pthread_t t;
	void *res;

	if (argc != 5 || inet_pton(AF_INET, argv[2], &peer.sin_addr) != 1) {
		fprintf(stderr, "usage: %s 0|1 PEER_ADDR PORT COUNT\n", argv[0]);
		return 2;
	}
	offload = atoi(argv[1]);
	peer.sin_port = htons((unsigned short)atoi(argv[3]));
	count = atoi(argv[4]);
	if (pthread_create(&t, NULL, worker, NULL))
		return 2;
	pthread_join(t, &res);
	return (int)(intptr_t)res;
}
