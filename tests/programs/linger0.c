/* linger0 without tcptrace-viz: SO_LINGER {1, 0}, then close(): RST, then ECONNRESET. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t len = sizeof addr;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) || listen(listener, 1)) return 1;
    getsockname(listener, (struct sockaddr *)&addr, &len);
    int client = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(client, (struct sockaddr *)&addr, sizeof addr)) return 1;
    int server = accept(listener, NULL, NULL);
    struct linger abort_on_close = {.l_onoff = 1, .l_linger = 0};
    setsockopt(client, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    close(client);
    struct pollfd wait_rst = {.fd = server, .events = 0};
    poll(&wait_rst, 1, 5000);                 /* POLLERR/POLLHUP: the client's RST */
    if (send(server, "123", 3, MSG_NOSIGNAL) < 0) printf("send: %s\n", strerror(errno));
    return 0;
}
