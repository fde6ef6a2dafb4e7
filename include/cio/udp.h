/*
 * cio/udp.h: UDP without a runtime — mio's UdpSocket, plus what mio and tokio users keep
 * asking for on Linux: batched I/O (sendmmsg/recvmmsg), segmentation offload in both
 * directions (GSO: one send split into equal datagrams by the kernel; GRO: several received
 * datagrams handed over in one buffer with their size), per-datagram packet info (which of
 * the host's addresses a datagram was sent to, and which to reply from), per-datagram TOS /
 * ECN bits, source-specific multicast, and the size and sender of the next datagram without
 * taking it. What a UDP socket shares with other sockets is in the cores, which take a
 * cio_udp_socket directly: cio/socket.h (close, descriptor, addresses, options, readiness)
 * and cio/dgram.h (connect, send, receive, peek, without waiting or in a task). This header
 * holds what is UDP's own: constructors, message and batch calls, offloads, broadcast and
 * multicast. The common rules (non-blocking and close-on-exec descriptors, no SIGPIPE,
 * adopting descriptors) are in cio/net.h.
 *
 * Datagrams, not streams. Where cio/net.h says a zero-length try_* call returns 0 without a
 * system call, datagram sockets differ, because an empty datagram is a message:
 *  - a send of 0 bytes sends an empty datagram;
 *  - a receive takes one whole datagram, whatever @len is; 0 is an empty datagram, never an
 *    end of stream (UDP has none).
 *
 * Truncation is never silent. A datagram longer than the buffer it is received into:
 *  - the datagram core's calls (cio_dgram_recv, _recv_from, _peek, _peek_from and their try_
 *    forms) return -EMSGSIZE. The buffer holds the datagram's first @len bytes; a receive has
 *    taken the datagram off the queue, a peek has not. cio_dgram_try_peek_sender() tells the length
 * of the next datagram, so a program that must not lose one can size its buffer first (or use 65536
 *    bytes, the most UDP carries).
 *  - the message calls (try_recv_msg, try_recv_batch) succeed and report it per message:
 *    CIO_UDP_MSG_TRUNC in flags, the bytes stored in len and the datagram's real length in
 *    datagram_len.
 * With GRO on, one received buffer can hold several datagrams. Only the message calls can
 * say where they split (segment_size); the simple calls return -EMSGSIZE for such a buffer
 * rather than pass several datagrams off as one.
 *
 * Errors a connected socket reports: after cio_dgram_connect(), an ICMP "port
 * unreachable" for a datagram sent earlier makes a later send or receive return
 * -ECONNREFUSED (once). Unconnected sockets do not get these errors (Linux, unless
 * IP_RECVERR is set).
 *
 * Handles: one thread at a time per handle, except that one thread may receive while another
 * sends. Every function accepts a NULL handle and returns -EINVAL. The message and batch
 * calls in a task follow cio/io.h; each is cancel safe: a receive that fails took no
 * datagram, a send that fails sent none (a batch reports how many went only on success).
 */
#ifndef CIO_UDP_H
#define CIO_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "cio/addr.h"
#include "cio/common.h"
#include "cio/net.h"
#include "cio/socket.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most messages one cio_udp_socket_try_send_batch() / try_recv_batch() call handles;
 * larger arrays are done in part (the return value says how far). */
#define CIO_UDP_BATCH_MAX 32

/* The largest UDP payload (IPv4: 65535 - 20 - 8; IPv6 jumbograms aside). */
#define CIO_UDP_PAYLOAD_MAX 65507

/* cio_udp_msg flags. */
enum {
    /* Receive (out): the datagram was longer than the buffers; len bytes were stored, the
     * rest is lost; datagram_len is the real length. */
    CIO_UDP_MSG_TRUNC = 1u << 0,
    /* Send (in): set this datagram's TOS byte (IPv6: traffic class) from tos, ECN bits
     * included. Receive (out): tos holds the received datagram's TOS byte (reported when
     * cio_udp_socket_set_recv_tos() is on). */
    CIO_UDP_MSG_TOS = 1u << 1,
    /* Receive (out): the kernel had more control data than cio makes room for (an option
     * cio does not know was enabled on the descriptor); what cio knows was still parsed. */
    CIO_UDP_MSG_CTRUNC = 1u << 2,
};

/*
 * One datagram for the message calls (try_send_msg / try_recv_msg and the batches).
 * Zero-initialise it, then set what the call reads:
 *
 *   field         send (in)                                  receive (out unless noted)
 *   iov, iovcnt   the data (in)                              the buffers to fill (in)
 *   addr          destination; CIO_ADDR_NONE: the connected   the sender
 *                 peer
 *   local         source address to send from (must be one   the address the datagram was
 *                 of this host's; port ignored); NONE: the   sent to, port 0 — with
 *                 kernel chooses                             set_recv_pktinfo on, else NONE
 *   ifindex       interface to send through (0: by route)    the interface it arrived on
 *                                                            (with pktinfo), else 0
 *   segment_size  GSO: split the data into datagrams of      GRO: the size of each datagram
 *                 this many bytes (the last may be shorter); coalesced into the buffer (all
 *                 0: the socket's setting                    but the last have it); 0 when
 *                                                            the buffer holds one datagram
 *   tos           with CIO_UDP_MSG_TOS in flags: TOS byte    TOS byte, if flags has
 *                                                            CIO_UDP_MSG_TOS
 *   flags         CIO_UDP_MSG_TOS (in)                       CIO_UDP_MSG_* (out)
 *   len           bytes sent (out)                           bytes stored in the buffers
 *   datagram_len  -                                          the datagram's real length
 *                                                            (> len when truncated; with
 *                                                            GRO, of all coalesced ones)
 */
typedef struct cio_udp_msg {
    struct iovec *iov;
    int iovcnt;
    cio_addr addr;
    cio_addr local;
    unsigned ifindex;
    size_t segment_size;
    int tos;
    unsigned flags;
    size_t len;
    size_t datagram_len;
} cio_udp_msg;

/* ======================================================================================== */
/* Creating, binding, connecting                                                            */
/* ======================================================================================== */

/**
 * cio_udp_socket_new() - create a UDP socket bound to @addr (mio's UdpSocket::bind).
 * @ret_socket: receives the socket (written only on success).
 * @addr: an IPv4 or IPv6 address; port 0 lets the kernel pick (read it back with
 *        cio_socket_local_addr()). The wildcard addresses receive on every interface.
 *
 * No SO_REUSEADDR: two sockets on one port need cio_udp_socket_new_v4() / _v6(),
 * cio_socket_set_reuseaddr() or _set_reuseport() on each, then cio_socket_bind().
 *
 * Return: 0; -EINVAL for NULL; -EAFNOSUPPORT for a non-IP address (or no IPv6 here);
 * -EADDRINUSE; -EADDRNOTAVAIL (not an address of this host); -EACCES (a privileged port);
 * -EMFILE/-ENFILE; -ENOMEM.
 */
CIO_EXPORT int cio_udp_socket_new(cio_udp_socket **ret_socket, const cio_addr *addr);

/**
 * cio_udp_socket_new_v4() / cio_udp_socket_new_v6() - an unbound UDP socket, to set options
 * that must come before bind (reuseaddr, reuseport, v6only, bind device), then bind with
 * cio_socket_bind(). A send on an unbound socket binds it to a kernel-chosen port.
 * @ret_socket: receives the socket (written only on success).
 *
 * Return: 0; -EINVAL; -EAFNOSUPPORT (no IPv6 in this kernel); -EMFILE/-ENFILE; -ENOMEM.
 */
CIO_EXPORT int cio_udp_socket_new_v4(cio_udp_socket **ret_socket);
CIO_EXPORT int cio_udp_socket_new_v6(cio_udp_socket **ret_socket);

/**
 * cio_udp_socket_from_fd() - adopt a UDP socket made elsewhere (bound or not, connected or
 * not), making it non-blocking and close-on-exec.
 *
 * Return: 0; -EBADF; -ENOTSOCK; -EAFNOSUPPORT (not IPv4/IPv6); -EPROTOTYPE (not a datagram
 * socket, or not UDP — UDP-Lite, ICMP sockets); -ENOMEM. On failure @fd is untouched and
 * still the caller's.
 */
CIO_EXPORT int cio_udp_socket_from_fd(cio_udp_socket **ret_socket, int fd);

/* ======================================================================================== */
/* Sending and receiving                                                                    */
/* ======================================================================================== */

/**
 * cio_udp_socket_try_send_msg() - send one datagram described by @msg (see cio_udp_msg):
 * vectored data, a destination, a source address and interface, a TOS byte, a GSO segment
 * size — each optional.
 * @msg: in: iov, iovcnt, addr, local, ifindex, segment_size, tos, flags; out: len.
 *
 * With a segment size, the kernel sends ceil(total / segment_size) datagrams of
 * segment_size bytes (the last may be shorter) from one call — much cheaper than one send
 * each. Linux limits: at most 64 segments (128 on newer kernels), the total at most 65507
 * bytes, segment_size plus headers within the route's MTU, checksums on; otherwise
 * -EINVAL (or -EIO for a route that cannot offload).
 *
 * Return: bytes sent (also stored in msg->len); the errors of try_send / try_send_to;
 * -EINVAL for a bad iovec, segment_size above 65535, tos outside 0-255, a msg->local address of
 * the wrong family; -EAFNOSUPPORT for a non-IP addr.
 */
CIO_EXPORT ssize_t cio_udp_socket_try_send_msg(cio_udp_socket *socket, cio_udp_msg *msg);

/**
 * cio_udp_socket_try_recv_msg() - receive one datagram into @msg, with its sender,
 * destination address, interface, TOS byte and GRO segment size as available (see
 * cio_udp_msg). Truncation is reported in the message (CIO_UDP_MSG_TRUNC), not as an error.
 * @msg: in: iov, iovcnt; out: everything else (written only on success).
 *
 * Return: bytes stored (also in msg->len); -EAGAIN; -ECONNREFUSED; -EINVAL; -EBADF.
 */
CIO_EXPORT ssize_t cio_udp_socket_try_recv_msg(cio_udp_socket *socket, cio_udp_msg *msg);

/**
 * cio_udp_socket_try_send_batch() - send up to CIO_UDP_BATCH_MAX datagrams in one system
 * call (sendmmsg), each described as for cio_udp_socket_try_send_msg() (GSO included: one
 * message can itself be many datagrams).
 * @msgs: the messages; each sent one gets msg->len.
 * @count: how many (0 returns 0 at once; only the first CIO_UDP_BATCH_MAX are tried).
 *
 * Sends in order and stops at the first that cannot go (send buffer full, or an error): the
 * return value says how many went. Send the rest again; if the first of them fails, that
 * call returns the error. Every message is checked before anything is sent.
 *
 * Return: the number of messages sent (>= 1); -EAGAIN when none could be; the error of the
 * first message; -EINVAL for NULL @msgs with a count or a bad message.
 */
CIO_EXPORT int cio_udp_socket_try_send_batch(cio_udp_socket *socket, cio_udp_msg *msgs,
                                             size_t count);

/**
 * cio_udp_socket_try_recv_batch() - receive up to CIO_UDP_BATCH_MAX datagrams in one system
 * call (recvmmsg), each into its own cio_udp_msg as cio_udp_socket_try_recv_msg() does.
 * @msgs: the messages (in: iov, iovcnt; out: the rest, for the first return-value ones).
 * @count: how many (0 returns 0 at once; at most CIO_UDP_BATCH_MAX are filled).
 *
 * Takes what is queued, up to @count, and does not wait for more.
 *
 * Return: the number of messages received (>= 1); -EAGAIN when none is queued;
 * -ECONNREFUSED; -EINVAL.
 */
CIO_EXPORT int cio_udp_socket_try_recv_batch(cio_udp_socket *socket, cio_udp_msg *msgs,
                                             size_t count);

/* ======================================================================================== */
/* Options                                                                                  */
/* ======================================================================================== */

/*
 * Each setter returns 0 or a negative errno (-EINVAL for NULL or an out-of-range value,
 * -EBADF, or the kernel's refusal); each getter reads the kernel's current value into its
 * ret_ parameter (written only on success) and returns 0 or a negative errno. The _v6
 * options return -EINVAL on an IPv4 socket; the _v4 ones work on both (on an IPv6 socket
 * they govern IPv4 traffic of a dual-stack socket).
 */

/**
 * cio_udp_socket_set_broadcast() - SO_BROADCAST: allow sending to broadcast addresses
 * (255.255.255.255, a subnet's).
 */
CIO_EXPORT int cio_udp_socket_set_broadcast(cio_udp_socket *socket, bool on);
CIO_EXPORT int cio_udp_socket_broadcast(const cio_udp_socket *socket, bool *ret_on);

/**
 * cio_udp_socket_set_gso_segment() - UDP_SEGMENT (Linux 4.18+): the GSO segment size for every
 * send, 0 (off) to 65535. A send of more than this many bytes then goes out as several
 * datagrams of this size (see cio_udp_socket_try_send_msg() for the limits). A message's own
 * segment_size overrides it.
 */
CIO_EXPORT int cio_udp_socket_set_gso_segment(cio_udp_socket *socket, size_t bytes);
CIO_EXPORT int cio_udp_socket_gso_segment(const cio_udp_socket *socket, size_t *ret_bytes);

/**
 * cio_udp_socket_set_gro() - UDP_GRO (Linux 5.0+): accept datagrams coalesced by the kernel —
 * consecutive datagrams of one flow and one size handed over in one buffer, fewer system calls
 * per byte. Receive with try_recv_msg / try_recv_batch, which report the segment size; give
 * them buffers of 65535 bytes or more.
 */
CIO_EXPORT int cio_udp_socket_set_gro(cio_udp_socket *socket, bool on);
CIO_EXPORT int cio_udp_socket_gro(const cio_udp_socket *socket, bool *ret_on);

/**
 * cio_udp_socket_set_recv_pktinfo() - IP_PKTINFO (IPv4) / IPV6_RECVPKTINFO (IPv6; covers IPv4
 * traffic of a dual-stack socket too): report each datagram's destination address and arrival
 * interface in the message calls (msg->local, msg->ifindex). A server bound to a wildcard
 * address answers from the address it was asked on by sending with msg->local set to it.
 */
CIO_EXPORT int cio_udp_socket_set_recv_pktinfo(cio_udp_socket *socket, bool on);
CIO_EXPORT int cio_udp_socket_recv_pktinfo(const cio_udp_socket *socket, bool *ret_on);

/**
 * cio_udp_socket_set_recv_tos() - IP_RECVTOS (IPv4) / IPV6_RECVTCLASS (IPv6): report each
 * datagram's TOS byte, ECN bits included, in the message calls (CIO_UDP_MSG_TOS, msg->tos).
 */
CIO_EXPORT int cio_udp_socket_set_recv_tos(cio_udp_socket *socket, bool on);
CIO_EXPORT int cio_udp_socket_recv_tos(const cio_udp_socket *socket, bool *ret_on);

/* ---- multicast ---- */

/**
 * cio_udp_socket_join_multicast_v4() / _leave_multicast_v4() - receive (stop receiving) the
 * IPv4 group @group on the interface that has address @interface (CIO_IPV4_ANY: the kernel
 * picks one by route). Addresses in host order (CIO_IPV4(239, 1, 2, 3)). Group datagrams reach
 * the sockets bound to their port (on the wildcard address or the group address).
 *
 * Return: 0; -EINVAL (not a multicast group); -EADDRINUSE (joined already); -EADDRNOTAVAIL
 * (leaving a group not joined, or no such interface); -ENODEV; -ENOBUFS (too many
 * memberships: net.ipv4.igmp_max_memberships).
 */
CIO_EXPORT int cio_udp_socket_join_multicast_v4(cio_udp_socket *socket, uint32_t group,
                                                uint32_t interface);
CIO_EXPORT int cio_udp_socket_leave_multicast_v4(cio_udp_socket *socket, uint32_t group,
                                                 uint32_t interface);

/**
 * cio_udp_socket_join_multicast_v6() / _leave_multicast_v6() - the same for IPv6 (IPv6
 * sockets): @group is 16 bytes in network order, @ifindex the interface (0: by route).
 */
CIO_EXPORT int cio_udp_socket_join_multicast_v6(cio_udp_socket *socket, const uint8_t group[16],
                                                unsigned ifindex);
CIO_EXPORT int cio_udp_socket_leave_multicast_v6(cio_udp_socket *socket, const uint8_t group[16],
                                                 unsigned ifindex);

/**
 * cio_udp_socket_join_source_multicast() / _leave_source_multicast() - source-specific
 * multicast (MCAST_JOIN_SOURCE_GROUP, RFC 4607): receive @group only from @source, on
 * interface @ifindex (0: by route). Both addresses IPv4 (IPv4 socket) or both IPv6 (IPv6
 * socket); ports ignored.
 *
 * Return: as the v4/v6 joins, except that leaving a source membership not held is -EINVAL
 * (Linux); -EAFNOSUPPORT for mixed or non-IP families.
 */
CIO_EXPORT int cio_udp_socket_join_source_multicast(cio_udp_socket *socket, const cio_addr *group,
                                                    const cio_addr *source, unsigned ifindex);
CIO_EXPORT int cio_udp_socket_leave_source_multicast(cio_udp_socket *socket, const cio_addr *group,
                                                     const cio_addr *source, unsigned ifindex);

/**
 * cio_udp_socket_set_multicast_loop_v4() - IP_MULTICAST_LOOP: multicast this socket sends is
 * delivered to this host's members too (the default: on).
 */
CIO_EXPORT int cio_udp_socket_set_multicast_loop_v4(cio_udp_socket *socket, bool on);
CIO_EXPORT int cio_udp_socket_multicast_loop_v4(const cio_udp_socket *socket, bool *ret_on);

/**
 * cio_udp_socket_set_multicast_ttl_v4() - IP_MULTICAST_TTL: the hop limit of multicast sent, 0
 * to 255 (default 1: this link).
 */
CIO_EXPORT int cio_udp_socket_set_multicast_ttl_v4(cio_udp_socket *socket, int ttl);
CIO_EXPORT int cio_udp_socket_multicast_ttl_v4(const cio_udp_socket *socket, int *ret_ttl);

/**
 * cio_udp_socket_set_multicast_if_v4() - IP_MULTICAST_IF: send multicast through the interface
 * that has address @interface (host order; CIO_IPV4_ANY: by route).
 */
CIO_EXPORT int cio_udp_socket_set_multicast_if_v4(cio_udp_socket *socket, uint32_t interface);
CIO_EXPORT int cio_udp_socket_multicast_if_v4(const cio_udp_socket *socket,
                                              uint32_t *ret_interface);

/**
 * cio_udp_socket_set_multicast_all_v4() - IP_MULTICAST_ALL (Linux): on (the Linux default,
 * surprising to most), a socket bound to a wildcard address receives multicast for every group
 * any socket of this host joined on its port; off, only for the groups it joined itself. Turn
 * it off in multicast receivers.
 */
CIO_EXPORT int cio_udp_socket_set_multicast_all_v4(cio_udp_socket *socket, bool on);
CIO_EXPORT int cio_udp_socket_multicast_all_v4(const cio_udp_socket *socket, bool *ret_on);

/** cio_udp_socket_set_multicast_loop_v6() - IPV6_MULTICAST_LOOP, as for IPv4. */
CIO_EXPORT int cio_udp_socket_set_multicast_loop_v6(cio_udp_socket *socket, bool on);
CIO_EXPORT int cio_udp_socket_multicast_loop_v6(const cio_udp_socket *socket, bool *ret_on);

/**
 * cio_udp_socket_set_multicast_hops_v6() - IPV6_MULTICAST_HOPS: the hop limit of multicast
 * sent, 0 to 255 (default 1).
 */
CIO_EXPORT int cio_udp_socket_set_multicast_hops_v6(cio_udp_socket *socket, int hops);
CIO_EXPORT int cio_udp_socket_multicast_hops_v6(const cio_udp_socket *socket, int *ret_hops);

/**
 * cio_udp_socket_set_multicast_if_v6() - IPV6_MULTICAST_IF: send multicast through interface
 * @ifindex (0: by route).
 */
CIO_EXPORT int cio_udp_socket_set_multicast_if_v6(cio_udp_socket *socket, unsigned ifindex);
CIO_EXPORT int cio_udp_socket_multicast_if_v6(const cio_udp_socket *socket, unsigned *ret_ifindex);

/**
 * cio_udp_socket_set_multicast_all_v6() - IPV6_MULTICAST_ALL (Linux 4.20+), as IP_MULTICAST_ALL
 * for IPv6.
 */
CIO_EXPORT int cio_udp_socket_set_multicast_all_v6(cio_udp_socket *socket, bool on);
CIO_EXPORT int cio_udp_socket_multicast_all_v6(const cio_udp_socket *socket, bool *ret_on);

/* ======================================================================================== */
/* Message and batch calls in a task                                                        */
/* ======================================================================================== */

/**
 * cio_udp_socket_send_msg() - wait until the socket can take it, then send the datagram
 * described by @msg (see cio_udp_socket_try_send_msg(): vectored data, destination, source
 * address, TOS, GSO segment size).
 *
 * Return: bytes sent (also in msg->len); the errors of cio_udp_socket_try_send_msg();
 * -EBADF; -ECANCELED; -ETIMEDOUT (nothing sent); -EPERM outside a task.
 */
CIO_EXPORT ssize_t cio_udp_socket_send_msg(cio_udp_socket *socket, cio_udp_msg *msg);

/**
 * cio_udp_socket_recv_msg() - wait until a datagram is queued, then receive it into @msg
 * with its metadata (see cio_udp_socket_try_recv_msg(); truncation is CIO_UDP_MSG_TRUNC in
 * msg->flags, not an error).
 *
 * Return: bytes stored (also in msg->len); -ECONNREFUSED; -EBADF; -ECANCELED;
 * -ETIMEDOUT (nothing taken); -EINVAL; -EPERM outside a task.
 */
CIO_EXPORT ssize_t cio_udp_socket_recv_msg(cio_udp_socket *socket, cio_udp_msg *msg);

/**
 * cio_udp_socket_send_batch() - wait until at least one datagram can go, then send up to
 * CIO_UDP_BATCH_MAX of @msgs in one system call (see cio_udp_socket_try_send_batch()).
 *
 * Does not wait for the rest: the return value says how many went; send the others again.
 *
 * Return: the number sent (>= 1); 0 for @count 0; the error of the first message;
 * -EBADF; -ECANCELED; -ETIMEDOUT (none sent); -EINVAL; -EPERM outside a task.
 */
CIO_EXPORT int cio_udp_socket_send_batch(cio_udp_socket *socket, cio_udp_msg *msgs, size_t count);

/**
 * cio_udp_socket_recv_batch() - wait until at least one datagram is queued, then receive up
 * to @count (at most CIO_UDP_BATCH_MAX) of those queued in one system call (see
 * cio_udp_socket_try_recv_batch()); does not wait for more.
 *
 * Return: the number received (>= 1); 0 for @count 0; -ECONNREFUSED; -EBADF;
 * -ECANCELED; -ETIMEDOUT (none taken); -EINVAL; -EPERM outside a task.
 */
CIO_EXPORT int cio_udp_socket_recv_batch(cio_udp_socket *socket, cio_udp_msg *msgs, size_t count);

#ifdef __cplusplus
}
#endif

#endif /* CIO_UDP_H */
