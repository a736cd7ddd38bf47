/* A loopback client/server loop: N requests of 64 bytes, each answered with 64 bytes, over
 * one connection (or, with "connect" as the second argument, each on a connection of its own,
 * closed by the client after the answer); the server is a forked child.  Prints the loop's own
 * wall time in seconds (first request to last answer): whatever runs it is not counted. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int full(int fd, char *buf, int len) {
    for (int got = 0; got < len;) {
        ssize_t n = recv(fd, buf + got, len - got, 0);
        if (n <= 0) return -1;
        got += n;
    }
    return 0;
}

int main(int argc, char **argv) {
    int requests = argc > 1 ? atoi(argv[1]) : 10000;
    int each = argc > 2 && strcmp(argv[2], "connect") == 0;
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t len = sizeof addr;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) || listen(listener, 1)) return 1;
    getsockname(listener, (struct sockaddr *)&addr, &len);
    pid_t server = fork();
    if (server == 0) {
        char buf[64];
        for (int served = 0; served < (each ? requests : 1); served++) {
            int conn = accept(listener, NULL, NULL);
            while (full(conn, buf, sizeof buf) == 0) send(conn, buf, sizeof buf, 0);
            close(conn);
        }
        _exit(0);
    }
    char buf[64] = "request";
    struct timespec start, end;
    int client = -1;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < requests; i++) {
        if (client < 0) {
            client = socket(AF_INET, SOCK_STREAM, 0);
            if (connect(client, (struct sockaddr *)&addr, sizeof addr)) return 1;
        }
        send(client, buf, sizeof buf, 0);
        if (full(client, buf, sizeof buf)) return 1;
        if (each) {
            close(client);
            client = -1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    if (client >= 0) close(client);
    close(listener);
    waitpid(server, NULL, 0);
    printf("%.6f\n", (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9);
    return 0;
}
