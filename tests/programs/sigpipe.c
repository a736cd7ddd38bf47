/* close-then-write without MSG_NOSIGNAL: the second write raises SIGPIPE, which kills us. */
#define _GNU_SOURCE  /* POLLRDHUP */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
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
    close(client);
    struct pollfd wait_fin = {.fd = server, .events = POLLIN | POLLRDHUP};
    poll(&wait_fin, 1, 5000);
    write(server, "123", 3);
    struct pollfd wait_rst = {.fd = server, .events = 0};
    poll(&wait_rst, 1, 5000);
    write(server, "456", 3);                  /* EPIPE, and SIGPIPE: the process dies here */
    return 0;
}
