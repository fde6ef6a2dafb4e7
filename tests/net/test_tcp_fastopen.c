/*
 * test_tcp_fastopen.c: TCP Fast Open proven, not only requested. A listener with
 * cio_tcp_set_fastopen() and a client with cio_tcp_set_fastopen_connect() connect twice: the
 * first connection fetches a cookie, the second sends its first write in the SYN. Both ends of
 * the second connection must report TCPI_OPT_SYN_DATA in tcp_info ("the SYN-ACK acked data in
 * the SYN"), and in a fresh network namespace the first must not (no cookie yet).
 *
 * The server side of TFO needs the 2 bit of net.ipv4.tcp_fastopen, which is off by default
 * (1: client only). As root the case makes its own network namespace (unshare(CLONE_NEWNET),
 * in the forked process that runs it), brings up its loopback and sets tcp_fastopen to 3
 * there, leaving the host alone. Without that right it runs on the host's loopback when the
 * host's setting already has both bits, and otherwise skips saying why.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio/socket.h"
#include "cio/tcp.h"
#include "harness.h"
#include "test_tcp_helpers.h"

#define TFO_SYSCTL "/proc/sys/net/ipv4/tcp_fastopen"
#define TFO_CLIENT 1
#define TFO_SERVER 2

static int read_tfo_sysctl(void)
{
    int value = -1;
    FILE *f = fopen(TFO_SYSCTL, "re");
    if (f != NULL) {
        if (fscanf(f, "%d", &value) != 1)
            value = -1;
        fclose(f);
    }
    return value;
}

/* Bring up "lo" in the current network namespace. Return: 0 or a negative errno. */
static int loopback_up(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strcpy(ifr.ifr_name, "lo");
    int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP;
        rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    rc = rc < 0 ? -errno : 0;
    close(fd);
    return rc;
}

/*
 * Make this process's network namespace one where both TFO sides are on. Return: true in a
 * fresh namespace of our own, false on the host (whose setting already has both bits); skips
 * the case when neither is possible.
 */
static bool enter_tfo_namespace(void)
{
    int err = 0;
    if (unshare(CLONE_NEWNET) == 0) {
        err = loopback_up();
        if (err == 0) {
            int fd = open(TFO_SYSCTL, O_WRONLY | O_CLOEXEC);
            if (fd < 0 || write(fd, "3", 1) != 1)
                err = -errno;
            if (fd >= 0)
                close(fd);
        }
        if (err < 0)
            TEST_FAIL("in a new network namespace: %s", strerror(-err)); /* root, yet failed */
        CHECK_EQ(read_tfo_sysctl(), TFO_CLIENT | TFO_SERVER);
        return true;
    }
    err = errno;
    int host = read_tfo_sysctl();
    if (host >= 0 && (host & (TFO_CLIENT | TFO_SERVER)) == (TFO_CLIENT | TFO_SERVER))
        return false;
    TEST_SKIP("server-side TCP Fast Open is off here (net.ipv4.tcp_fastopen = %d) and no "
              "network namespace could be made to turn it on (unshare: %s; needs root)",
              host, strerror(err));
}

static bool syn_carried_data(cio_tcp_stream *stream)
{
    struct tcp_info info;
    socklen_t len = sizeof(info);
    CHECK_SYS(getsockopt(cio_socket_fd(stream), IPPROTO_TCP, TCP_INFO, &info, &len));
    return (info.tcpi_options & TCPI_OPT_SYN_DATA) != 0;
}

/* One connection with TFO requested; the first write is the request. Return: whether the SYN
 * carried it, as the client saw it; *ret_server_saw as the server saw it. */
static bool fastopen_round(cio_tcp_listener *listener, const cio_addr *addr, bool *ret_server_saw)
{
    cio_tcp_socket *cs;
    CHECK_RC(cio_tcp_socket_new_v4(&cs));
    int rc = cio_tcp_set_fastopen_connect(cs, true);
    if (rc == -ENOPROTOOPT) {
        cio_socket_close(cs);
        cio_socket_close(listener);
        TEST_SKIP("TCP_FASTOPEN_CONNECT is not supported by this kernel");
    }
    CHECK_RC(rc);
    cio_tcp_stream *client;
    CHECK_RC(cio_tcp_socket_try_connect(cs, addr, &client));
    CHECK_FD_FLAGS(cio_socket_fd(client));
    write_all(client, "fast open", 9); /* the first write may return -EAGAIN */
    cio_tcp_stream *server = accept_one(listener, NULL);
    char buf[9];
    read_exact(server, buf, 9);
    CHECK(memcmp(buf, "fast open", 9) == 0);
    finish_connect(client);
    write_all(server, "back", 4);
    read_exact(client, buf, 4);
    CHECK(memcmp(buf, "back", 4) == 0);
    bool carried = syn_carried_data(client);
    *ret_server_saw = syn_carried_data(server);
    cio_socket_close(client);
    cio_socket_close(server);
    return carried;
}

static void test_syn_carries_data(void)
{
    bool own_namespace = enter_tfo_namespace();
    cio_addr addr;
    cio_tcp_socket *ls;
    CHECK_RC(cio_tcp_socket_new_v4(&ls));
    CHECK_RC(cio_tcp_set_fastopen(ls, 32));
    CHECK_RC(cio_addr_parse(&addr, "127.0.0.1:0"));
    CHECK_RC(cio_socket_bind(ls, &addr));
    CHECK_RC(cio_socket_local_addr(ls, &addr));
    cio_tcp_listener *listener;
    CHECK_RC(cio_tcp_socket_listen(ls, CIO_LISTEN_BACKLOG_DEFAULT, &listener));

    /* First: an ordinary handshake that asks for a cookie. On the host a cookie for 127.0.0.1
     * may be cached from an earlier run, so only a fresh namespace knows it has none. */
    bool server_saw;
    bool carried = fastopen_round(listener, &addr, &server_saw);
    if (own_namespace) {
        CHECK(!carried);
        CHECK(!server_saw);
    }
    /* Second: the cookie is known, the request rides in the SYN and the server takes it. */
    carried = fastopen_round(listener, &addr, &server_saw);
    CHECK(carried);
    CHECK(server_saw);
    cio_socket_close(listener);
    printf("TCP Fast Open: data in the SYN, acknowledged (%s)\n",
           own_namespace ? "own network namespace, tcp_fastopen = 3" : "host network");
}

/* The same listener without TCP_FASTOPEN: the client's data waits for the handshake. */
static void test_no_syn_data_without_listener_fastopen(void)
{
    bool own_namespace = enter_tfo_namespace();
    (void)own_namespace;
    cio_addr addr;
    cio_tcp_listener *listener = listen_on("127.0.0.1:0", &addr);
    bool server_saw;
    for (int round = 0; round < 2; round++) {
        CHECK(!fastopen_round(listener, &addr, &server_saw));
        CHECK(!server_saw);
    }
    cio_socket_close(listener);
}

CIO_TEST_MAIN(TEST(test_syn_carries_data), TEST(test_no_syn_data_without_listener_fastopen))
