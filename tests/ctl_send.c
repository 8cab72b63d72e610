/* Test helper for the control socket, for what `memcoord status` never
 * sends:
 *   ctl_send SOCKET            send stdin as it is, print the reply
 *   ctl_send SOCKET --hold S   connect (say "connected" on stderr), send
 *                              nothing for S seconds, then print whatever
 *                              the server sent and close
 *   ctl_send SOCKET --stale    bind SOCKET and exit without removing it
 * Exit status 0 when a connection was made (or the socket bound). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int connect_to(const char *path, struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)sa, sizeof(*sa)) < 0) {
		perror("ctl_send: connect");
		exit(1);
	}
	(void)path;
	return fd;
}

static void copy_reply(int fd)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[65536];
	ssize_t n;
	int fd;

	if (argc < 2 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: ctl_send SOCKET [--hold SECONDS | --stale]\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	if (argc == 3 && strcmp(argv[2], "--stale") == 0) {
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			perror("ctl_send: bind");
			return 1;
		}
		return 0;
	}
	fd = connect_to(argv[1], &sa);
	if (argc == 4 && strcmp(argv[2], "--hold") == 0) {
		/* For the caller to know the connection is queued. */
		fprintf(stderr, "connected\n");
		sleep((unsigned)atoi(argv[3]));
		shutdown(fd, SHUT_WR);
		copy_reply(fd);
		close(fd);
		return 0;
	}
	while ((n = read(0, buf, sizeof(buf))) > 0)
		if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
			break;
	shutdown(fd, SHUT_WR);
	copy_reply(fd);
	close(fd);
	return 0;
}
