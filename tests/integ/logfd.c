/* logfd.c — a daemon-style program that closes every fd above 2 (closefrom, a close
 * loop, close_range) and then opens its own file. logfd.sh checks that libshim's
 * SHIM_LOG_FILE survived all of it and that no log line landed in the program's file. */
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int f, s;

	closefrom(3);
	for (int fd = 3; fd < 4096; fd++)
		close(fd);
	close_range(3, ~0U, 0);
	f = open(argv[1], O_CREAT | O_WRONLY | O_TRUNC, 0644);
	/* A socket closed behind the library's back, then its number reused: the
	 * library logs (at debug level) that it dropped the stale object. */
	s = socket(AF_INET, SOCK_DGRAM, 0);
	syscall(SYS_close, s);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	printf("data file fd %d, socket fd %d\n", f, s);
	return f < 0 || s < 0;
}
