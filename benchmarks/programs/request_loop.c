/* A loopback client/server loop: N requests of 64 bytes, each answered with 64 bytes, over
 * one connection; the server is a forked child.  Prints the loop's own wall time in seconds
 * (from the first request to the last answer), so whatever runs it is not counted. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
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
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t len = sizeof addr;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) || listen(listener, 1)) return 1;
    getsockname(listener, (struct sockaddr *)&addr, &len);
    pid_t server = fork();
    if (server == 0) {
        int conn = accept(listener, NULL, NULL);
        char buf[64];
        while (full(conn, buf, sizeof buf) == 0) send(conn, buf, sizeof buf, 0);
        close(conn);
        _exit(0);
    }
    close(listener);
    int client = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(client, (struct sockaddr *)&addr, sizeof addr)) return 1;
    char buf[64] = "request";
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < requests; i++) {
        send(client, buf, sizeof buf, 0);
        if (full(client, buf, sizeof buf)) return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    close(client);
    waitpid(server, NULL, 0);
    printf("%.6f\n", (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9);
    return 0;
}
