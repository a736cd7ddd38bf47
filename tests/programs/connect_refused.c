/* connect-refused without tcptrace-viz: connect() to a port nobody listens on. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t len = sizeof addr;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int unused = socket(AF_INET, SOCK_STREAM, 0);  /* holds a free port nobody listens on */
    if (bind(unused, (struct sockaddr *)&addr, sizeof addr)) return 1;
    getsockname(unused, (struct sockaddr *)&addr, &len);
    int client = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(client, (struct sockaddr *)&addr, sizeof addr) < 0)
        printf("connect: %s\n", strerror(errno));
    return 0;
}
