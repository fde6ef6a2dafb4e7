/*
 * test_tcp_options.c: every TCP option cio offers, set and read back from the kernel (on
 * the builder, the stream and the listener), out-of-range values refused without changing
 * anything, options inherited by accepted connections, SO_REUSEPORT sharing, bind to "lo",
 * and the TCP options taking any TCP handle (a listener made by cio_tcp_listener_new too) and
 * refusing a socket that is not TCP. That TCP Fast Open works is test_tcp_fastopen.c's.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio/socket.h"
#include "cio/tcp.h"
#include "cio/udp.h"
#include "harness.h"
#include "test_tcp_helpers.h"

static int read_sysctl(const char *path, int fallback)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return fallback;
    int value = fallback;
    if (fscanf(f, "%d", &value) != 1)
        value = fallback;
    fclose(f);
    return value;
}

/* What Linux stores for SO_SNDBUF/SO_RCVBUF = bytes (doubled, clamped to the sysctl). */
static int expected_bufsize(int bytes, const char *max_path)
{
    int max = read_sysctl(max_path, INT_MAX / 2);
    return 2 * (bytes < max ? bytes : max);
}

static int raw_int(int fd, int level, int name)
{
    int value = -12345;
    socklen_t len = sizeof(value);
    CHECK_SYS(getsockopt(fd, level, name, &value, &len));
    return value;
}

static void test_builder_options_v4(void)
{
    cio_tcp_socket *s;
    CHECK_RC(cio_tcp_socket_new_v4(&s));
    CHECK_FD_FLAGS(cio_socket_fd(s));
    int fd = cio_socket_fd(s);
    bool on;
    int value;

    CHECK_RC(cio_socket_set_reuseaddr(s, true));
    CHECK_RC(cio_socket_reuseaddr(s, &on));
    CHECK(on);
    CHECK_RC(cio_socket_set_reuseaddr(s, false));
    CHECK_RC(cio_socket_reuseaddr(s, &on));
    CHECK(!on);

    CHECK_RC(cio_socket_set_reuseport(s, true));
    CHECK_RC(cio_socket_reuseport(s, &on));
    CHECK(on);
    CHECK_EQ(raw_int(fd, SOL_SOCKET, SO_REUSEPORT), 1);

    CHECK_RC(cio_socket_set_send_buffer_size(s, 65536));
    CHECK_RC(cio_socket_send_buffer_size(s, &value));
    CHECK_EQ(value, expected_bufsize(65536, "/proc/sys/net/core/wmem_max"));
    CHECK_RC(cio_socket_set_recv_buffer_size(s, 32768));
    CHECK_RC(cio_socket_recv_buffer_size(s, &value));
    CHECK_EQ(value, expected_bufsize(32768, "/proc/sys/net/core/rmem_max"));
    CHECK_ERR(cio_socket_set_send_buffer_size(s, -1), -EINVAL);
    CHECK_ERR(cio_socket_set_recv_buffer_size(s, -1), -EINVAL);
    CHECK_ERR(cio_socket_send_buffer_size(s, NULL), -EINVAL);

    cio_tcp_keepalive_params ka = {.idle_s = 30, .interval_s = 5, .count = 4}, got;
    CHECK_RC(cio_tcp_set_keepalive(s, true, &ka));
    CHECK_RC(cio_tcp_keepalive(s, &on, &got));
    CHECK(on);
    CHECK_EQ(got.idle_s, 30);
    CHECK_EQ(got.interval_s, 5);
    CHECK_EQ(got.count, 4);
    CHECK_EQ(raw_int(fd, IPPROTO_TCP, TCP_KEEPIDLE), 30);
    CHECK_RC(cio_tcp_set_keepalive(s, false, NULL));
    CHECK_RC(cio_tcp_keepalive(s, &on, NULL));
    CHECK(!on);
    /* Out of range: refused, and nothing changed (idle still 30). */
    cio_tcp_keepalive_params bad = {.idle_s = 40000};
    CHECK_ERR(cio_tcp_set_keepalive(s, true, &bad), -EINVAL);
    bad = (cio_tcp_keepalive_params){.idle_s = 10, .count = 200};
    CHECK_ERR(cio_tcp_set_keepalive(s, true, &bad), -EINVAL);
    bad = (cio_tcp_keepalive_params){.interval_s = -1};
    CHECK_ERR(cio_tcp_set_keepalive(s, true, &bad), -EINVAL);
    CHECK_RC(cio_tcp_keepalive(s, &on, &got));
    CHECK(!on);
    CHECK_EQ(got.idle_s, 30);
    /* Zero fields leave values alone. */
    ka = (cio_tcp_keepalive_params){.count = 9};
    CHECK_RC(cio_tcp_set_keepalive(s, true, &ka));
    CHECK_RC(cio_tcp_keepalive(s, &on, &got));
    CHECK(on && got.idle_s == 30 && got.interval_s == 5 && got.count == 9);

    CHECK_RC(cio_socket_linger(s, &value));
    CHECK_EQ(value, CIO_LINGER_OFF);
    CHECK_RC(cio_socket_set_linger(s, 0));
    CHECK_RC(cio_socket_linger(s, &value));
    CHECK_EQ(value, 0);
    CHECK_RC(cio_socket_set_linger(s, 7));
    CHECK_RC(cio_socket_linger(s, &value));
    CHECK_EQ(value, 7);
    CHECK_RC(cio_socket_set_linger(s, CIO_LINGER_OFF));
    CHECK_RC(cio_socket_linger(s, &value));
    CHECK_EQ(value, CIO_LINGER_OFF);

    CHECK_RC(cio_tcp_set_nodelay(s, true));
    CHECK_RC(cio_tcp_nodelay(s, &on));
    CHECK(on);
    CHECK_EQ(raw_int(fd, IPPROTO_TCP, TCP_NODELAY), 1);

    CHECK_RC(cio_socket_set_tos(s, 0x10));
    CHECK_RC(cio_socket_tos(s, &value));
    CHECK_EQ(value, 0x10);
    CHECK_EQ(raw_int(fd, IPPROTO_IP, IP_TOS), 0x10);
    CHECK_ERR(cio_socket_set_tos(s, -1), -EINVAL);
    CHECK_ERR(cio_socket_set_tos(s, 256), -EINVAL);

    CHECK_ERR(cio_socket_set_v6only(s, true), -EINVAL); /* an IPv4 socket */
    CHECK_ERR(cio_socket_v6only(s, &on), -EINVAL);

    int rc = cio_tcp_set_fastopen_connect(s, true);
    if (rc != -ENOPROTOOPT) {
        CHECK_RC(rc);
        CHECK_RC(cio_tcp_fastopen_connect(s, &on));
        CHECK(on);
    }
    CHECK_RC(cio_tcp_set_fastopen(s, 16));
    CHECK_RC(cio_tcp_fastopen(s, &value));
    CHECK_EQ(value, 16);
    CHECK_ERR(cio_tcp_set_fastopen(s, -1), -EINVAL);

    /* Options set on the builder are on the listener it becomes. */
    cio_tcp_listener *listener;
    CHECK_RC(cio_tcp_socket_listen(s, 8, &listener));
    CHECK_EQ(raw_int(cio_socket_fd(listener), IPPROTO_TCP, TCP_FASTOPEN), 16);
    CHECK_EQ(raw_int(cio_socket_fd(listener), IPPROTO_TCP, TCP_NODELAY), 1);
    cio_socket_close(listener);
}

static void test_builder_bind_device(void)
{
    cio_tcp_socket *s;
    CHECK_RC(cio_tcp_socket_new_v4(&s));
    char name[32];
    CHECK_RC(cio_socket_bind_device(s, name, sizeof(name)));
    CHECK_EQ(name[0], '\0'); /* unbound */
    int rc = cio_socket_set_bind_device(s, "lo");
    if (rc == -EPERM) {
        cio_socket_close(s);
        TEST_SKIP("SO_BINDTODEVICE needs CAP_NET_RAW, which this process lacks");
    }
    CHECK_RC(rc);
    CHECK_RC(cio_socket_bind_device(s, name, sizeof(name)));
    CHECK(strcmp(name, "lo") == 0);
    CHECK_ERR(cio_socket_bind_device(s, name, 2), -ENOSPC); /* "lo" needs 3 */
    CHECK_RC(cio_socket_bind_device(s, name, 3));
    CHECK_ERR(cio_socket_bind_device(s, NULL, 3), -EINVAL);
    CHECK_ERR(cio_socket_set_bind_device(s, "nosuchdev0"), -ENODEV);
    CHECK_ERR(cio_socket_set_bind_device(s, "sixteen-chars-xx"), -EINVAL);
    CHECK_RC(cio_socket_bind_device(s, name, sizeof(name)));
    CHECK(strcmp(name, "lo") == 0); /* failures changed nothing */

    /* Bound to lo, it still reaches 127.0.0.1. */
    cio_addr addr;
    cio_tcp_listener *listener = listen_on("127.0.0.1:0", &addr);
    cio_tcp_stream *client;
    CHECK_RC(cio_tcp_socket_try_connect(s, &addr, &client));
    cio_tcp_stream *server = accept_one(listener, NULL);
    finish_connect(client);
    write_all(client, "lo", 2);
    read_exact(server, name, 2);
    cio_socket_close(client);
    cio_socket_close(server);
    cio_socket_close(listener);

    /* Unbinding: NULL or "". */
    CHECK_RC(cio_tcp_socket_new_v4(&s));
    CHECK_RC(cio_socket_set_bind_device(s, "lo"));
    CHECK_RC(cio_socket_set_bind_device(s, NULL));
    CHECK_RC(cio_socket_bind_device(s, name, sizeof(name)));
    CHECK_EQ(name[0], '\0');
    CHECK_RC(cio_socket_set_bind_device(s, "lo"));
    CHECK_RC(cio_socket_set_bind_device(s, ""));
    CHECK_RC(cio_socket_bind_device(s, name, sizeof(name)));
    CHECK_EQ(name[0], '\0');
    cio_socket_close(s);
}

static void test_builder_options_v6(void)
{
    const char *reason;
    if (!ipv6_loopback_available(&reason))
        TEST_SKIP("%s", reason);
    cio_tcp_socket *s;
    CHECK_RC(cio_tcp_socket_new_v6(&s));
    CHECK_FD_FLAGS(cio_socket_fd(s));
    bool on;
    CHECK_RC(cio_socket_set_v6only(s, true));
    CHECK_RC(cio_socket_v6only(s, &on));
    CHECK(on);
    CHECK_EQ(raw_int(cio_socket_fd(s), IPPROTO_IPV6, IPV6_V6ONLY), 1);
    CHECK_RC(cio_socket_set_v6only(s, false));
    CHECK_RC(cio_socket_v6only(s, &on));
    CHECK(!on);
    int tclass;
    CHECK_RC(cio_socket_set_tos(s, 0x28));
    CHECK_RC(cio_socket_tos(s, &tclass));
    CHECK_EQ(tclass, 0x28);
    CHECK_EQ(raw_int(cio_socket_fd(s), IPPROTO_IPV6, IPV6_TCLASS), 0x28);

    /* A dual-stack listener on [::] accepts IPv4 clients as v4-mapped peers. */
    cio_addr any, bound, v4;
    CHECK_RC(cio_addr_parse(&any, "[::]:0"));
    CHECK_RC(cio_socket_bind(s, &any));
    cio_tcp_listener *listener;
    CHECK_RC(cio_tcp_socket_listen(s, CIO_LISTEN_BACKLOG_DEFAULT, &listener));
    CHECK_RC(cio_socket_local_addr(listener, &bound));
    CHECK_RC(cio_addr_ipv4(&v4, CIO_IPV4_LOOPBACK, (uint16_t)cio_addr_port(&bound)));
    cio_tcp_stream *client, *server;
    CHECK_RC(cio_tcp_stream_try_connect(&client, &v4));
    cio_addr peer;
    server = accept_one(listener, &peer);
    finish_connect(client);
    char text[CIO_ADDR_STRLEN];
    CHECK_RC(cio_addr_format(&peer, text, sizeof(text)));
    CHECK(strncmp(text, "[::ffff:127.0.0.1]:", 19) == 0);
    cio_socket_close(client);
    cio_socket_close(server);
    cio_socket_close(listener);

    /* v6only: the same wildcard refuses IPv4. */
    CHECK_RC(cio_tcp_socket_new_v6(&s));
    CHECK_RC(cio_socket_set_v6only(s, true));
    CHECK_RC(cio_socket_bind(s, &any));
    CHECK_RC(cio_tcp_socket_listen(s, CIO_LISTEN_BACKLOG_DEFAULT, &listener));
    CHECK_RC(cio_socket_local_addr(listener, &bound));
    CHECK_RC(cio_addr_set_port(&v4, (uint16_t)cio_addr_port(&bound)));
    int rc = cio_tcp_stream_try_connect(&client, &v4);
    if (rc == 0) {
        int result = -EAGAIN;
        for (int i = 0; i < 100 && result == -EAGAIN; i++) {
            wait_fd(cio_socket_fd(client), CIO_WRITABLE, 100);
            result = cio_tcp_stream_try_finish_connect(client);
        }
        CHECK_ERR(result, -ECONNREFUSED);
        cio_socket_close(client);
    } else {
        CHECK_ERR(rc, -ECONNREFUSED);
    }
    cio_socket_close(listener);
}

static void test_reuseport_shares_a_port(void)
{
    cio_addr addr;
    CHECK_RC(cio_addr_parse(&addr, "127.0.0.1:0"));
    cio_tcp_socket *a, *b;
    CHECK_RC(cio_tcp_socket_new_v4(&a));
    CHECK_RC(cio_socket_set_reuseport(a, true));
    CHECK_RC(cio_socket_bind(a, &addr));
    CHECK_RC(cio_socket_local_addr(a, &addr));
    CHECK_RC(cio_tcp_socket_new_v4(&b));
    CHECK_RC(cio_socket_set_reuseport(b, true));
    CHECK_RC(cio_socket_bind(b, &addr)); /* same address and port */
    cio_tcp_listener *la, *lb;
    CHECK_RC(cio_tcp_socket_listen(a, CIO_LISTEN_BACKLOG_DEFAULT, &la));
    CHECK_RC(cio_tcp_socket_listen(b, CIO_LISTEN_BACKLOG_DEFAULT, &lb));
    /* Connections land on one or the other; 16 of them are all accepted by someone. */
    cio_tcp_stream *clients[16], *servers[16];
    int on_a = 0, on_b = 0;
    for (int i = 0; i < 16; i++) {
        CHECK_RC(cio_tcp_stream_try_connect(&clients[i], &addr));
        finish_connect(clients[i]);
        servers[i] = NULL;
        for (int k = 0; k < 200 && servers[i] == NULL; k++) {
            if (cio_tcp_listener_try_accept(la, &servers[i], NULL) == 0)
                on_a++;
            else if (cio_tcp_listener_try_accept(lb, &servers[i], NULL) == 0)
                on_b++;
            else
                usleep(5000);
        }
        CHECK(servers[i] != NULL);
    }
    CHECK_EQ(on_a + on_b, 16);
    for (int i = 0; i < 16; i++) {
        cio_socket_close(clients[i]);
        cio_socket_close(servers[i]);
    }
    cio_socket_close(la);
    cio_socket_close(lb);
}

static void test_stream_options(void)
{
    cio_tcp_stream *client, *server;
    tcp_pair(&client, &server);
    int fd = cio_socket_fd(client);
    bool on;
    int value;
    unsigned u;

    CHECK_RC(cio_tcp_set_nodelay(client, true));
    CHECK_RC(cio_tcp_nodelay(client, &on));
    CHECK(on);
    CHECK_RC(cio_tcp_set_nodelay(client, false));
    CHECK_RC(cio_tcp_nodelay(client, &on));
    CHECK(!on);

    CHECK_RC(cio_tcp_set_cork(client, true));
    CHECK_RC(cio_tcp_cork(client, &on));
    CHECK(on);
    CHECK_RC(cio_tcp_set_cork(client, false));
    CHECK_RC(cio_tcp_cork(client, &on));
    CHECK(!on);

    CHECK_RC(cio_socket_set_ttl(client, 17));
    CHECK_RC(cio_socket_ttl(client, &value));
    CHECK_EQ(value, 17);
    CHECK_EQ(raw_int(fd, IPPROTO_IP, IP_TTL), 17);
    CHECK_ERR(cio_socket_set_ttl(client, 0), -EINVAL);
    CHECK_ERR(cio_socket_set_ttl(client, 256), -EINVAL);
    CHECK_RC(cio_socket_ttl(client, &value));
    CHECK_EQ(value, 17);

    CHECK_RC(cio_socket_set_tos(client, 0x08));
    CHECK_RC(cio_socket_tos(client, &value));
    CHECK_EQ(value, 0x08);

    CHECK_RC(cio_tcp_set_quickack(client, true));
    CHECK_RC(cio_tcp_quickack(client, &on));
    CHECK(on);
    CHECK_RC(cio_tcp_set_quickack(client, false));
    CHECK_RC(cio_tcp_quickack(client, &on));
    CHECK(!on);

    CHECK_RC(cio_socket_set_linger(client, 0));
    CHECK_RC(cio_socket_linger(client, &value));
    CHECK_EQ(value, 0);
    CHECK_RC(cio_socket_set_linger(client, -5)); /* any negative value is OFF */
    CHECK_RC(cio_socket_linger(client, &value));
    CHECK_EQ(value, CIO_LINGER_OFF);

    cio_tcp_keepalive_params ka = {.idle_s = 60, .interval_s = 10, .count = 3}, got;
    CHECK_RC(cio_tcp_set_keepalive(client, true, &ka));
    CHECK_RC(cio_tcp_keepalive(client, &on, &got));
    CHECK(on && got.idle_s == 60 && got.interval_s == 10 && got.count == 3);
    CHECK_EQ(raw_int(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
    CHECK_EQ(raw_int(fd, IPPROTO_TCP, TCP_KEEPINTVL), 10);
    CHECK_EQ(raw_int(fd, IPPROTO_TCP, TCP_KEEPCNT), 3);

    CHECK_RC(cio_tcp_user_timeout(client, &u));
    CHECK_EQ(u, 0);
    CHECK_RC(cio_tcp_set_user_timeout(client, 5000));
    CHECK_RC(cio_tcp_user_timeout(client, &u));
    CHECK_EQ(u, 5000);
    CHECK_ERR(cio_tcp_set_user_timeout(client, UINT_MAX), -EINVAL);
    CHECK_ERR(cio_tcp_user_timeout(client, NULL), -EINVAL);

    CHECK_RC(cio_tcp_set_notsent_lowat(client, 16384));
    CHECK_RC(cio_tcp_notsent_lowat(client, &u));
    CHECK_EQ(u, 16384);
    CHECK_EQ(raw_int(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT), 16384);
    CHECK_RC(cio_tcp_set_notsent_lowat(client, 0));
    CHECK_RC(cio_tcp_notsent_lowat(client, &u));
    CHECK_EQ(u, 0);
    CHECK_ERR(cio_tcp_notsent_lowat(client, NULL), -EINVAL);

    CHECK_RC(cio_socket_set_send_buffer_size(client, 100000));
    CHECK_RC(cio_socket_send_buffer_size(client, &value));
    CHECK_EQ(value, expected_bufsize(100000, "/proc/sys/net/core/wmem_max"));
    CHECK_RC(cio_socket_set_recv_buffer_size(client, 50000));
    CHECK_RC(cio_socket_recv_buffer_size(client, &value));
    CHECK_EQ(value, expected_bufsize(50000, "/proc/sys/net/core/rmem_max"));

    /* Still a working connection after all that. */
    write_all(client, "ok", 2);
    char buf[2];
    read_exact(server, buf, 2);
    cio_socket_close(client);
    cio_socket_close(server);
}

static void test_congestion_control(void)
{
    cio_tcp_stream *client, *server;
    tcp_pair(&client, &server);
    char name[32];
    CHECK_RC(cio_tcp_congestion(client, name, sizeof(name)));
    CHECK(name[0] != '\0');
    char sysdefault[32] = "";
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_congestion_control", "re");
    if (f != NULL) {
        if (fscanf(f, "%31s", sysdefault) == 1)
            CHECK(strcmp(name, sysdefault) == 0);
        fclose(f);
    }
    /* "reno" is always built in. */
    CHECK_RC(cio_tcp_set_congestion(client, "reno"));
    CHECK_RC(cio_tcp_congestion(client, name, sizeof(name)));
    CHECK(strcmp(name, "reno") == 0);
    CHECK_ERR(cio_tcp_congestion(client, name, 4), -ENOSPC);
    CHECK_RC(cio_tcp_congestion(client, name, 5));
    CHECK(strcmp(name, "reno") == 0);
    /* Another one the kernel lists as available, if any. */
    char avail[256] = "";
    f = fopen("/proc/sys/net/ipv4/tcp_available_congestion_control", "re");
    if (f != NULL) {
        if (fgets(avail, sizeof(avail), f) == NULL)
            avail[0] = '\0';
        fclose(f);
    }
    char *save = NULL;
    for (char *tok = strtok_r(avail, " \n", &save); tok != NULL;
         tok = strtok_r(NULL, " \n", &save)) {
        if (strcmp(tok, "reno") == 0)
            continue;
        CHECK_RC(cio_tcp_set_congestion(client, tok));
        CHECK_RC(cio_tcp_congestion(client, name, sizeof(name)));
        CHECK(strcmp(name, tok) == 0);
        break;
    }
    CHECK_ERR(cio_tcp_set_congestion(client, "no-such-algo"), -ENOENT);
    CHECK_ERR(cio_tcp_set_congestion(client, ""), -EINVAL);
    CHECK_ERR(cio_tcp_set_congestion(client, "a-name-of-16-chr"), -EINVAL);
    CHECK_ERR(cio_tcp_set_congestion(client, NULL), -EINVAL);
    CHECK_ERR(cio_tcp_congestion(client, NULL, 16), -EINVAL);
    cio_socket_close(client);
    cio_socket_close(server);
}

static void test_listener_ttl_and_inheritance(void)
{
    cio_tcp_socket *s;
    CHECK_RC(cio_tcp_socket_new_v4(&s));
    CHECK_RC(cio_tcp_set_nodelay(s, true));
    cio_tcp_keepalive_params ka = {.idle_s = 77};
    CHECK_RC(cio_tcp_set_keepalive(s, true, &ka));
    cio_addr addr;
    CHECK_RC(cio_addr_parse(&addr, "127.0.0.1:0"));
    CHECK_RC(cio_socket_bind(s, &addr));
    cio_tcp_listener *listener;
    CHECK_RC(cio_tcp_socket_listen(s, CIO_LISTEN_BACKLOG_DEFAULT, &listener));
    CHECK_RC(cio_socket_set_ttl(listener, 99));
    int ttl;
    CHECK_RC(cio_socket_ttl(listener, &ttl));
    CHECK_EQ(ttl, 99);
    CHECK_ERR(cio_socket_set_ttl(listener, 0), -EINVAL);
    CHECK_ERR(cio_socket_ttl(listener, NULL), -EINVAL);

    cio_tcp_stream *client, *server;
    connect_pair(listener, &client, &server);
    bool on;
    cio_tcp_keepalive_params got;
    CHECK_RC(cio_tcp_nodelay(server, &on));
    CHECK(on);
    CHECK_RC(cio_tcp_keepalive(server, &on, &got));
    CHECK(on);
    CHECK_EQ(got.idle_s, 77);
    CHECK_RC(cio_socket_ttl(server, &ttl));
    CHECK_EQ(ttl, 99);
    cio_socket_close(client);
    cio_socket_close(server);
    cio_socket_close(listener);
}

/* One set of TCP options for every TCP handle: a listener (not only a builder) takes them
 * and passes them on; a socket that is not TCP is refused before the kernel is asked. */
static void test_options_on_any_tcp_handle(void)
{
    cio_addr addr;
    cio_tcp_listener *listener = listen_on("127.0.0.1:0", &addr);
    bool on = false;
    CHECK_RC(cio_tcp_set_nodelay(listener, true));
    CHECK_RC(cio_tcp_nodelay(listener, &on));
    CHECK(on);
    CHECK_EQ(raw_int(cio_socket_fd(listener), IPPROTO_TCP, TCP_NODELAY), 1);
    cio_tcp_keepalive_params ka = {.idle_s = 42}, got;
    CHECK_RC(cio_tcp_set_keepalive(listener, true, &ka));
    cio_tcp_stream *client, *server;
    connect_pair(listener, &client, &server);
    on = false;
    CHECK_RC(cio_tcp_nodelay(server, &on));
    CHECK(on); /* inherited from the listener */
    CHECK_RC(cio_tcp_keepalive(server, &on, &got));
    CHECK(on);
    CHECK_EQ(got.idle_s, 42);
    cio_socket_close(client);
    cio_socket_close(server);
    cio_socket_close(listener);

    /* The plain functions take any cio_socket (the macros only let TCP handles through). */
    cio_udp_socket *udp;
    CHECK_RC(cio_addr_parse(&addr, "127.0.0.1:0"));
    CHECK_RC(cio_udp_socket_new(&udp, &addr));
    CHECK_ERR((cio_tcp_set_nodelay)(cio_as_socket(udp), true), -ENOPROTOOPT);
    CHECK_ERR((cio_tcp_nodelay)(cio_as_socket(udp), &on), -ENOPROTOOPT);
    CHECK_ERR((cio_tcp_set_keepalive)(cio_as_socket(udp), true, NULL), -ENOPROTOOPT);
    cio_socket_close(udp);
}

CIO_TEST_MAIN(TEST(test_builder_options_v4), TEST(test_builder_bind_device),
              TEST(test_builder_options_v6), TEST(test_reuseport_shares_a_port),
              TEST(test_stream_options), TEST(test_congestion_control),
              TEST(test_listener_ttl_and_inheritance), TEST(test_options_on_any_tcp_handle))
