/*
 * Test helper: see httpc.h.
 */
#include "tests/unit/support/httpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

int test_http_connect(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

bool test_http_send(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Wait for FD to be readable until DEADLINE; fails the test past it. */
static void wait_readable(int fd, long deadline, const char *what)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        long left = deadline - now_ms();
        int r;

        if (left <= 0)
            fail_msg("timed out waiting for %s", what);
        r = poll(&p, 1, (int)left);
        if (r > 0)
            return;
        if (r < 0 && errno != EINTR)
            fail_msg("poll: %s", strerror(errno));
    }
}

/* BUF past any interim "100 Continue" responses it starts with. */
static const char *skip_interim(const char *buf)
{
    while (strncmp(buf, "HTTP/1.", 7) == 0 &&
           strncmp(buf + 8, " 100", 4) == 0) {
        const char *e = strstr(buf, "\r\n\r\n");
        if (!e)
            break;
        buf = e + 4;
    }
    return buf;
}

/* The Content-Length of the response head at P, or -1 when it has none
 * (or the head is not complete). */
static long content_length(const char *p)
{
    const char *hend = strstr(p, "\r\n\r\n");
    const char *cl = strcasestr(p, "\r\nContent-Length:");

    if (!hend || !cl || cl > hend)
        return -1;
    return atol(cl + 17);
}

/* Whether BUF (LEN bytes) holds a whole response with a Content-Length. */
static bool response_complete(const char *buf, size_t len)
{
    const char *p = skip_interim(buf);
    long cl = content_length(p);

    return cl >= 0 &&
           len >= (size_t)(strstr(p, "\r\n\r\n") + 4 - buf) + (size_t)cl;
}

int test_http_read_response(int fd, char *buf, size_t cap, int timeout_ms)
{
    long deadline = now_ms() + timeout_ms;
    size_t len = 0;
    bool closed = false;
    const char *p;

    buf[0] = '\0';
    while (!response_complete(buf, len)) {
        ssize_t n;
        if (len + 1 >= cap)
            fail_msg("response larger than %zu bytes", cap);
        wait_readable(fd, deadline, "a response");
        n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            closed = true; /* or reset */
            break;
        }
        len += (size_t)n;
        buf[len] = '\0';
    }
    p = skip_interim(buf);
    /* Cut short, unless it had no length and ends with the connection. */
    if (closed && (!strstr(p, "\r\n\r\n") || content_length(p) >= 0))
        return -1;
    if (strncmp(p, "HTTP/1.", 7) != 0 || strlen(p) < 12)
        return -1;
    return atoi(p + 9);
}

size_t test_http_read_until_close(int fd, char *buf, size_t cap, int timeout_ms)
{
    long deadline = now_ms() + timeout_ms;
    size_t len = 0;

    buf[0] = '\0';
    for (;;) {
        char scratch[4096];
        char *into = len + 1 < cap ? buf + len : scratch;
        size_t room = len + 1 < cap ? cap - 1 - len : sizeof(scratch);
        ssize_t n;

        wait_readable(fd, deadline, "the connection to close");
        n = recv(fd, into, room, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (into != scratch) {
            len += (size_t)n;
            buf[len] = '\0';
        }
    }
    return len;
}

bool test_http_closed(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char c;
    ssize_t n;

    if (poll(&p, 1, 0) <= 0)
        return false;
    n = recv(fd, &c, 1, MSG_DONTWAIT);
    if (n > 0)
        fail_msg("unexpected data on an idle connection");
    return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

int test_http_exchange(int port, const char *raw, size_t len, char *buf,
                       size_t cap)
{
    int fd = test_http_connect(port);
    int code;

    if (fd < 0)
        fail_msg("cannot connect to port %d: %s", port, strerror(errno));
    test_http_send(fd, raw, len);
    code = test_http_read_response(fd, buf, cap, 5000);
    close(fd);
    return code;
}
