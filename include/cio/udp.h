/*
 * cio/udp.h: UDP without a runtime — mio's UdpSocket, plus what mio and tokio users keep
 * asking for on Linux: batched I/O (sendmmsg/recvmmsg), segmentation offload in both
 * directions (GSO: one send split into equal datagrams by the kernel; GRO: several received
 * datagrams handed over in one buffer with their size), per-datagram packet info (which of
 * the host's addresses a datagram was sent to, and which to reply from), per-datagram TOS /
 * ECN bits, source-specific multicast, and the size and sender of the next datagram without
 * taking it. Every call returns at once; register cio_udp_socket_fd() with a cio_poll and
 * call the try_* functions until -EAGAIN after each event. The common rules (non-blocking
 * and close-on-exec descriptors, no SIGPIPE, adopting descriptors) are in cio/net.h.
 *
 * Datagrams, not streams. Where cio/net.h says a zero-length try_* call returns 0 without a
 * system call, datagram sockets differ, because an empty datagram is a message:
 *  - a send of 0 bytes sends an empty datagram;
 *  - a receive takes one whole datagram, whatever @len is; 0 is an empty datagram, never an
 *    end of stream (UDP has none).
 *
 * Truncation is never silent. A datagram longer than the buffer it is received into:
 *  - the simple calls (try_recv, try_recv_from, try_peek, try_peek_from) return -EMSGSIZE.
 *    The buffer holds the datagram's first @len bytes; a receive has taken the datagram off
 *    the queue, a peek has not. cio_udp_socket_try_peek_sender() tells the length of the next
 *    datagram, so a program that must not lose one can size its buffer first (or use 65536
 *    bytes, the most UDP carries).
 *  - the message calls (try_recv_msg, try_recv_batch) succeed and report it per message:
 *    CIO_UDP_MSG_TRUNC in flags, the bytes stored in len and the datagram's real length in
 *    datagram_len.
 * With GRO on, one received buffer can hold several datagrams. Only the message calls can
 * say where they split (segment_size); the simple calls return -EMSGSIZE for such a buffer
 * rather than pass several datagrams off as one.
 *
 * Errors a connected socket reports: after cio_udp_socket_connect(), an ICMP "port
 * unreachable" for a datagram sent earlier makes a later send or receive return
 * -ECONNREFUSED (once). Unconnected sockets do not get these errors (Linux, unless
 * IP_RECVERR is set).
 *
 * Handles: one thread at a time per handle, except that one thread may receive while another
 * sends. Every function accepts a NULL handle and returns -EINVAL (or does nothing, for
 * close).
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

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_udp_socket cio_udp_socket;

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
 * cio_udp_socket_bind() - create a UDP socket bound to @addr (mio's UdpSocket::bind).
 * @ret_socket: receives the socket (written only on success).
 * @addr: an IPv4 or IPv6 address; port 0 lets the kernel pick (read it back with
 *        cio_udp_socket_local_addr()). The wildcard addresses receive on every interface.
 *
 * No SO_REUSEADDR: two sockets on one port need cio_udp_socket_new_v4() / _v6(),
 * cio_udp_socket_set_reuseaddr() or _set_reuseport() on each, then cio_udp_socket_bind_to().
 *
 * Return: 0; -EINVAL for NULL; -EAFNOSUPPORT for a non-IP address (or no IPv6 here);
 * -EADDRINUSE; -EADDRNOTAVAIL (not an address of this host); -EACCES (a privileged port);
 * -EMFILE/-ENFILE; -ENOMEM.
 */
CIO_EXPORT int cio_udp_socket_bind(cio_udp_socket **ret_socket, const cio_addr *addr);

/**
 * cio_udp_socket_new_v4() / cio_udp_socket_new_v6() - an unbound UDP socket, to set options
 * that must come before bind (reuseaddr, reuseport, v6only, bind device), then bind with
 * cio_udp_socket_bind_to(). A send on an unbound socket binds it to a kernel-chosen port.
 * @ret_socket: receives the socket (written only on success).
 *
 * Return: 0; -EINVAL; -EAFNOSUPPORT (no IPv6 in this kernel); -EMFILE/-ENFILE; -ENOMEM.
 */
CIO_EXPORT int cio_udp_socket_new_v4(cio_udp_socket **ret_socket);
CIO_EXPORT int cio_udp_socket_new_v6(cio_udp_socket **ret_socket);

/**
 * cio_udp_socket_bind_to() - bind a socket made by cio_udp_socket_new_v4() / _v6().
 * @addr: an address of the socket's family (an IPv6 socket also takes an IPv4-mapped one).
 *
 * Return: 0; -EINVAL (NULL, or already bound); -EAFNOSUPPORT (another family, not IP);
 * -EADDRINUSE; -EADDRNOTAVAIL; -EACCES.
 */
CIO_EXPORT int cio_udp_socket_bind_to(cio_udp_socket *socket, const cio_addr *addr);

/**
 * cio_udp_socket_connect() - set the socket's peer: sends without an address go there, and
 * only datagrams from there are received. Returns at once (UDP has no handshake); binds an
 * unbound socket. May be called again to change the peer.
 *
 * Return: 0; -EINVAL for NULL; -EAFNOSUPPORT (not IP, or IPv6 on an IPv4 socket);
 * -ENETUNREACH; -EADDRNOTAVAIL.
 */
CIO_EXPORT int cio_udp_socket_connect(cio_udp_socket *socket, const cio_addr *addr);

/**
 * cio_udp_socket_disconnect() - forget the peer (connect to AF_UNSPEC): the socket receives
 * from anyone again and sends need an address. The local address and port are kept — also a
 * port the kernel chose, which Linux itself would release (cio binds it again at once).
 *
 * Return: 0 (also when not connected); -EADDRINUSE if another socket took the released port
 * in that instant (the socket is then disconnected and unbound); -EINVAL; -EBADF.
 */
CIO_EXPORT int cio_udp_socket_disconnect(cio_udp_socket *socket);

/** cio_udp_socket_local_addr() - the bound address. Return: 0; -EINVAL; -EBADF. */
CIO_EXPORT int cio_udp_socket_local_addr(const cio_udp_socket *socket, cio_addr *ret_addr);

/**
 * cio_udp_socket_peer_addr() - the connected peer.
 *
 * Return: 0; -ENOTCONN when not connected; -EINVAL; -EBADF.
 */
CIO_EXPORT int cio_udp_socket_peer_addr(const cio_udp_socket *socket, cio_addr *ret_addr);

/**
 * cio_udp_socket_take_error() - read and clear the pending error (SO_ERROR), e.g. the
 * -ECONNREFUSED a connected socket got from an ICMP port unreachable.
 *
 * Return: 0 when there is none; the pending error as a negative errno; or the query's own
 * error (-EINVAL, -EBADF).
 */
CIO_EXPORT int cio_udp_socket_take_error(cio_udp_socket *socket);

/**
 * cio_udp_socket_fd() - the descriptor, to register with a cio_poll. Still owned by the
 * socket. Return: the descriptor; -EINVAL for NULL; -EBADF.
 */
CIO_EXPORT int cio_udp_socket_fd(const cio_udp_socket *socket);

/**
 * cio_udp_socket_from_fd() - adopt a UDP socket made elsewhere (bound or not, connected or
 * not), making it non-blocking and close-on-exec.
 *
 * Return: 0; -EBADF; -ENOTSOCK; -EAFNOSUPPORT (not IPv4/IPv6); -EPROTOTYPE (not a datagram
 * socket, or not UDP — UDP-Lite, ICMP sockets); -ENOMEM. On failure @fd is untouched and
 * still the caller's.
 */
CIO_EXPORT int cio_udp_socket_from_fd(cio_udp_socket **ret_socket, int fd);

/**
 * cio_udp_socket_into_fd() - free the handle and return its descriptor (still open,
 * non-blocking, close-on-exec). Return: the descriptor; -EINVAL for NULL.
 */
CIO_EXPORT int cio_udp_socket_into_fd(cio_udp_socket *socket);

/** cio_udp_socket_close() - close the socket and free it (NULL is allowed). */
CIO_EXPORT void cio_udp_socket_close(cio_udp_socket *socket);

/* ======================================================================================== */
/* Sending and receiving                                                                    */
/* ======================================================================================== */

/**
 * cio_udp_socket_try_send() - send one datagram to the connected peer, without waiting.
 * @buf: the payload (may be NULL when @len is 0); @len: its size, 0 to CIO_UDP_PAYLOAD_MAX
 *       (with GSO on, up to the segment size times the kernel's segment limit).
 *
 * All or nothing: a datagram is never sent in part.
 *
 * Return: @len; -EAGAIN when the send buffer is full; -EDESTADDRREQ when not connected;
 * -EMSGSIZE for a datagram too large (UDP's limit, the route's MTU with don't-fragment);
 * -ECONNREFUSED (see the top of this header); -EINVAL; -EBADF.
 */
CIO_EXPORT ssize_t cio_udp_socket_try_send(cio_udp_socket *socket, const void *buf, size_t len);

/**
 * cio_udp_socket_try_send_to() - send one datagram to @addr, without waiting.
 * @addr: an IPv4 or IPv6 address (an IPv6 socket also sends to IPv4-mapped ones, and to
 *        plain IPv4 ones unless v6only).
 *
 * Return: as cio_udp_socket_try_send(); -EAFNOSUPPORT for an address the socket cannot
 * send to; -EINVAL for NULL; -EACCES for a broadcast address without broadcast on;
 * -ENETUNREACH. A connected socket may send elsewhere too (Linux).
 */
CIO_EXPORT ssize_t cio_udp_socket_try_send_to(cio_udp_socket *socket, const void *buf, size_t len,
                                              const cio_addr *addr);

/**
 * cio_udp_socket_try_recv() - receive one datagram from the connected peer (or anyone, if
 * not connected), without waiting.
 * @buf: where to store it (may be NULL when @len is 0); @len: its size.
 *
 * Return: the datagram's length (0 for an empty datagram); -EAGAIN when none is queued;
 * -EMSGSIZE when it was longer than @len (or GRO coalesced several; see the top of this
 * header) — the datagram is consumed, @buf holds its first @len bytes; -ECONNREFUSED;
 * -EINVAL; -EBADF.
 */
CIO_EXPORT ssize_t cio_udp_socket_try_recv(cio_udp_socket *socket, void *buf, size_t len);

/**
 * cio_udp_socket_try_recv_from() - cio_udp_socket_try_recv() that also reports the sender
 * in @ret_from (written only on success; may be NULL).
 */
CIO_EXPORT ssize_t cio_udp_socket_try_recv_from(cio_udp_socket *socket, void *buf, size_t len,
                                                cio_addr *ret_from);

/**
 * cio_udp_socket_try_peek() / cio_udp_socket_try_peek_from() - as try_recv / try_recv_from,
 * but the datagram stays queued: the next receive returns it again. -EMSGSIZE leaves it
 * queued too.
 */
CIO_EXPORT ssize_t cio_udp_socket_try_peek(cio_udp_socket *socket, void *buf, size_t len);
CIO_EXPORT ssize_t cio_udp_socket_try_peek_from(cio_udp_socket *socket, void *buf, size_t len,
                                                cio_addr *ret_from);

/**
 * cio_udp_socket_try_peek_sender() - the length and sender of the next datagram, without
 * taking it or copying its data (tokio's peek_sender, plus the size).
 * @ret_from: receives the sender (may be NULL: only the length is wanted).
 *
 * With GRO, the length is that of the whole coalesced buffer.
 *
 * Return: the next datagram's length (0 for an empty one); -EAGAIN when none is queued;
 * -ECONNREFUSED; -EINVAL; -EBADF.
 */
CIO_EXPORT ssize_t cio_udp_socket_try_peek_sender(cio_udp_socket *socket, cio_addr *ret_from);

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
 * -EINVAL for a bad iovec, segment_size above 65535, tos outside 0-255, a @local address of
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

/* SO_BROADCAST: allow sending to broadcast addresses (255.255.255.255, a subnet's). */
CIO_EXPORT int cio_udp_socket_set_broadcast(cio_udp_socket *socket, bool on);
CIO_EXPORT int cio_udp_socket_broadcast(const cio_udp_socket *socket, bool *ret_on);

/* IP_TTL (IPv4) / IPV6_UNICAST_HOPS (IPv6): the hop limit of unicast datagrams, 1 to 255. */
CIO_EXPORT int cio_udp_socket_set_ttl(cio_udp_socket *socket, int ttl);
CIO_EXPORT int cio_udp_socket_ttl(const cio_udp_socket *socket, int *ret_ttl);

/* IP_TOS (IPv4) / IPV6_TCLASS (IPv6): the TOS byte of every datagram sent, 0 to 255, the two
 * ECN bits included (for one datagram, see CIO_UDP_MSG_TOS). */
CIO_EXPORT int cio_udp_socket_set_tos(cio_udp_socket *socket, int tos);
CIO_EXPORT int cio_udp_socket_tos(const cio_udp_socket *socket, int *ret_tos);

/* SO_REUSEADDR, before bind: several sockets may bind one port (each must set it); for
 * multicast receivers. Unicast datagrams then go to one of them (the last bound). */
CIO_EXPORT int cio_udp_socket_set_reuseaddr(cio_udp_socket *socket, bool on);
CIO_EXPORT int cio_udp_socket_reuseaddr(const cio_udp_socket *socket, bool *ret_on);

/* SO_REUSEPORT, before bind: several sockets of one user share a port; the kernel spreads
 * datagrams across them by flow hash (one socket per thread). */
CIO_EXPORT int cio_udp_socket_set_reuseport(cio_udp_socket *socket, bool on);
CIO_EXPORT int cio_udp_socket_reuseport(const cio_udp_socket *socket, bool *ret_on);

/* IPV6_V6ONLY, before bind (IPv6 sockets): refuse IPv4 traffic on [::]. */
CIO_EXPORT int cio_udp_socket_set_v6only(cio_udp_socket *socket, bool on);
CIO_EXPORT int cio_udp_socket_v6only(const cio_udp_socket *socket, bool *ret_on);

/* SO_SNDBUF / SO_RCVBUF in bytes. Linux doubles the value and clamps it to
 * net.core.wmem_max / rmem_max; the getter returns the kernel's number. A receive buffer too
 * small for a burst is the usual cause of lost datagrams. */
CIO_EXPORT int cio_udp_socket_set_send_buffer_size(cio_udp_socket *socket, int bytes);
CIO_EXPORT int cio_udp_socket_send_buffer_size(const cio_udp_socket *socket, int *ret_bytes);
CIO_EXPORT int cio_udp_socket_set_recv_buffer_size(cio_udp_socket *socket, int bytes);
CIO_EXPORT int cio_udp_socket_recv_buffer_size(const cio_udp_socket *socket, int *ret_bytes);

/* SO_BINDTODEVICE: only this interface ("lo"); NULL or "" removes the binding. Needs
 * CAP_NET_RAW (-EPERM); -ENODEV for no such interface; -EINVAL for a name of 16 bytes or
 * more. The getter writes "" when unbound, -ENOSPC if @size cannot hold the name. */
CIO_EXPORT int cio_udp_socket_set_bind_device(cio_udp_socket *socket, const char *ifname);
CIO_EXPORT int cio_udp_socket_bind_device(const cio_udp_socket *socket, char *buf, size_t size);

/*
 * UDP_SEGMENT (Linux 4.18+): the GSO segment size for every send, 0 (off) to 65535. A send
 * of more than this many bytes then goes out as several datagrams of this size (see
 * cio_udp_socket_try_send_msg() for the limits). A message's own segment_size overrides it.
 */
CIO_EXPORT int cio_udp_socket_set_gso_segment(cio_udp_socket *socket, size_t bytes);
CIO_EXPORT int cio_udp_socket_gso_segment(const cio_udp_socket *socket, size_t *ret_bytes);

/*
 * UDP_GRO (Linux 5.0+): accept datagrams coalesced by the kernel — consecutive datagrams of
 * one flow and one size handed over in one buffer, fewer system calls per byte. Receive
 * with try_recv_msg / try_recv_batch, which report the segment size; give them buffers of
 * 65535 bytes or more.
 */
CIO_EXPORT int cio_udp_socket_set_gro(cio_udp_socket *socket, bool on);
CIO_EXPORT int cio_udp_socket_gro(const cio_udp_socket *socket, bool *ret_on);

/*
 * IP_PKTINFO (IPv4) / IPV6_RECVPKTINFO (IPv6; covers IPv4 traffic of a dual-stack socket
 * too): report each datagram's destination address and arrival interface in the message
 * calls (msg->local, msg->ifindex). A server bound to a wildcard address answers from the
 * address it was asked on by sending with msg->local set to it.
 */
CIO_EXPORT int cio_udp_socket_set_recv_pktinfo(cio_udp_socket *socket, bool on);
CIO_EXPORT int cio_udp_socket_recv_pktinfo(const cio_udp_socket *socket, bool *ret_on);

/* IP_RECVTOS (IPv4) / IPV6_RECVTCLASS (IPv6): report each datagram's TOS byte, ECN bits
 * included, in the message calls (CIO_UDP_MSG_TOS, msg->tos). */
CIO_EXPORT int cio_udp_socket_set_recv_tos(cio_udp_socket *socket, bool on);
CIO_EXPORT int cio_udp_socket_recv_tos(const cio_udp_socket *socket, bool *ret_on);

/* ---- multicast ---- */

/*
 * cio_udp_socket_join_multicast_v4() / _leave_multicast_v4() - receive (stop receiving)
 * the IPv4 group @group on the interface that has address @interface (CIO_IPV4_ANY: the
 * kernel picks one by route). Addresses in host order (CIO_IPV4(239, 1, 2, 3)).
 * Group datagrams reach the sockets bound to their port (on the wildcard address or the group
 * address). Return: 0; -EINVAL (not a multicast
 * group); -EADDRINUSE (joined already); -EADDRNOTAVAIL (leaving a group not joined, or no
 * such interface); -ENODEV; -ENOBUFS (too many memberships: net.ipv4.igmp_max_memberships).
 */
CIO_EXPORT int cio_udp_socket_join_multicast_v4(cio_udp_socket *socket, uint32_t group,
                                                uint32_t interface);
CIO_EXPORT int cio_udp_socket_leave_multicast_v4(cio_udp_socket *socket, uint32_t group,
                                                 uint32_t interface);

/*
 * cio_udp_socket_join_multicast_v6() / _leave_multicast_v6() - the same for IPv6 (IPv6
 * sockets): @group is 16 bytes in network order, @ifindex the interface (0: by route).
 */
CIO_EXPORT int cio_udp_socket_join_multicast_v6(cio_udp_socket *socket, const uint8_t group[16],
                                                unsigned ifindex);
CIO_EXPORT int cio_udp_socket_leave_multicast_v6(cio_udp_socket *socket, const uint8_t group[16],
                                                 unsigned ifindex);

/*
 * cio_udp_socket_join_source_multicast() / _leave_source_multicast() - source-specific
 * multicast (MCAST_JOIN_SOURCE_GROUP, RFC 4607): receive @group only from @source, on
 * interface @ifindex (0: by route). Both addresses IPv4 (IPv4 socket) or both IPv6 (IPv6
 * socket); ports ignored. Return: as the v4/v6 joins, except that leaving a source
 * membership not held is -EINVAL (Linux); -EAFNOSUPPORT for mixed or non-IP families.
 */
CIO_EXPORT int cio_udp_socket_join_source_multicast(cio_udp_socket *socket, const cio_addr *group,
                                                    const cio_addr *source, unsigned ifindex);
CIO_EXPORT int cio_udp_socket_leave_source_multicast(cio_udp_socket *socket, const cio_addr *group,
                                                     const cio_addr *source, unsigned ifindex);

/* IP_MULTICAST_LOOP: multicast this socket sends is delivered to this host's members too
 * (the default: on). */
CIO_EXPORT int cio_udp_socket_set_multicast_loop_v4(cio_udp_socket *socket, bool on);
CIO_EXPORT int cio_udp_socket_multicast_loop_v4(const cio_udp_socket *socket, bool *ret_on);

/* IP_MULTICAST_TTL: the hop limit of multicast sent, 0 to 255 (default 1: this link). */
CIO_EXPORT int cio_udp_socket_set_multicast_ttl_v4(cio_udp_socket *socket, int ttl);
CIO_EXPORT int cio_udp_socket_multicast_ttl_v4(const cio_udp_socket *socket, int *ret_ttl);

/* IP_MULTICAST_IF: send multicast through the interface that has address @interface (host
 * order; CIO_IPV4_ANY: by route). */
CIO_EXPORT int cio_udp_socket_set_multicast_if_v4(cio_udp_socket *socket, uint32_t interface);
CIO_EXPORT int cio_udp_socket_multicast_if_v4(const cio_udp_socket *socket,
                                              uint32_t *ret_interface);

/*
 * IP_MULTICAST_ALL (Linux): on (the Linux default, surprising to most), a socket bound to a
 * wildcard address receives multicast for every group any socket of this host joined on its
 * port; off, only for the groups it joined itself. Turn it off in multicast receivers.
 */
CIO_EXPORT int cio_udp_socket_set_multicast_all_v4(cio_udp_socket *socket, bool on);
CIO_EXPORT int cio_udp_socket_multicast_all_v4(const cio_udp_socket *socket, bool *ret_on);

/* IPV6_MULTICAST_LOOP, as for IPv4. */
CIO_EXPORT int cio_udp_socket_set_multicast_loop_v6(cio_udp_socket *socket, bool on);
CIO_EXPORT int cio_udp_socket_multicast_loop_v6(const cio_udp_socket *socket, bool *ret_on);

/* IPV6_MULTICAST_HOPS: the hop limit of multicast sent, 0 to 255 (default 1). */
CIO_EXPORT int cio_udp_socket_set_multicast_hops_v6(cio_udp_socket *socket, int hops);
CIO_EXPORT int cio_udp_socket_multicast_hops_v6(const cio_udp_socket *socket, int *ret_hops);

/* IPV6_MULTICAST_IF: send multicast through interface @ifindex (0: by route). */
CIO_EXPORT int cio_udp_socket_set_multicast_if_v6(cio_udp_socket *socket, unsigned ifindex);
CIO_EXPORT int cio_udp_socket_multicast_if_v6(const cio_udp_socket *socket, unsigned *ret_ifindex);

/* IPV6_MULTICAST_ALL (Linux 4.20+), as IP_MULTICAST_ALL for IPv6. */
CIO_EXPORT int cio_udp_socket_set_multicast_all_v6(cio_udp_socket *socket, bool on);
CIO_EXPORT int cio_udp_socket_multicast_all_v6(const cio_udp_socket *socket, bool *ret_on);

#ifdef __cplusplus
}
#endif

#endif /* CIO_UDP_H */

/* ---- async operations (inside runtime tasks; see cio/io.h and cio/rt.h) ---- */
/*
 * tokio's UdpSocket in C. These functions suspend the calling runtime task where the try_*
 * functions above would return -EAGAIN, and return when a datagram has moved. They are
 * called from a task (else -EPERM), on a socket from any source (bind, new_v4/v6, from_fd).
 * The socket registers with the reactor of the calling task's worker the first time it has
 * to wait; the rules of cio/io.h apply:
 *  - A ready socket costs one system call per operation and no reactor round trip. Unlike a
 *    stream, a receive never takes one datagram as a sign that the queue is empty: the next
 *    receive tries the socket again and waits only when it says -EAGAIN.
 *  - One receiving task and one sending task may use a socket at once (on any workers); a
 *    second task waiting in a direction where one already waits gets -EBUSY. Share a socket
 *    between several receivers by giving each its own socket (SO_REUSEPORT) instead.
 *  - Closing the socket while a task waits on it wakes that task with -EBADF (it must not
 *    touch the handle again).
 *  - Every suspending call returns -ECANCELED when the task is cancelled and -ETIMEDOUT when
 *    its deadline (cio_deadline_set) passes (cio/rt.h).
 *
 * CANCEL SAFETY. Every function here is cancel safe: a receive or peek that returns
 * -ECANCELED or -ETIMEDOUT took no datagram (the next receive gets it), and a send that
 * returns them sent nothing (datagrams go whole or not at all; a batch reports how many
 * went only on success, and -ECANCELED/-ETIMEDOUT only when none did).
 *
 * Truncation is reported as by the try_* calls: -EMSGSIZE from the simple receives (the
 * datagram is consumed by a receive, left queued by a peek), CIO_UDP_MSG_TRUNC in the
 * message calls.
 *
 * The poll_* functions are for state machines that do not suspend: they return at once,
 * either with a result or with -EAGAIN after arming a wake callback (cio_wake_fn, cio/io.h)
 * called once the direction becomes ready; only the latest callback per direction is kept;
 * closing the socket calls an armed callback. They may be called outside a task once the
 * socket is registered (a first call from a task, or any earlier wait, registers it).
 */
#ifndef CIO_UDP_ASYNC_H
#define CIO_UDP_ASYNC_H

#include "cio/io.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * cio_udp_socket_send() - wait until the socket can take the datagram, then send it to the
 * connected peer (tokio's UdpSocket::send).
 *
 * Return: @len; -EDESTADDRREQ (not connected); -EMSGSIZE; -ECONNREFUSED (see the top of the
 * header); -EBUSY; -EBADF; -ECANCELED; -ETIMEDOUT (nothing sent); -EINVAL; -EPERM outside a
 * task.
 */
CIO_EXPORT ssize_t cio_udp_socket_send(cio_udp_socket *socket, const void *buf, size_t len);

/**
 * cio_udp_socket_send_to() - wait until the socket can take the datagram, then send it to
 * @addr (tokio's UdpSocket::send_to with an address; no name resolution).
 *
 * Return: as cio_udp_socket_send(); the address errors of cio_udp_socket_try_send_to().
 */
CIO_EXPORT ssize_t cio_udp_socket_send_to(cio_udp_socket *socket, const void *buf, size_t len,
                                          const cio_addr *addr);

/**
 * cio_udp_socket_recv() / cio_udp_socket_recv_from() - wait until a datagram is queued, then
 * receive it; @ret_from (may be NULL) receives the sender, written only on success.
 *
 * Return: the datagram's length (0 for an empty one); -EMSGSIZE (longer than @len: consumed,
 * @buf holds its first @len bytes); -ECONNREFUSED; -EBUSY; -EBADF; -ECANCELED; -ETIMEDOUT
 * (nothing taken); -EINVAL; -EPERM outside a task.
 */
CIO_EXPORT ssize_t cio_udp_socket_recv(cio_udp_socket *socket, void *buf, size_t len);
CIO_EXPORT ssize_t cio_udp_socket_recv_from(cio_udp_socket *socket, void *buf, size_t len,
                                            cio_addr *ret_from);

/**
 * cio_udp_socket_peek() / cio_udp_socket_peek_from() - as recv / recv_from, but the datagram
 * stays queued (-EMSGSIZE leaves it queued too).
 */
CIO_EXPORT ssize_t cio_udp_socket_peek(cio_udp_socket *socket, void *buf, size_t len);
CIO_EXPORT ssize_t cio_udp_socket_peek_from(cio_udp_socket *socket, void *buf, size_t len,
                                            cio_addr *ret_from);

/**
 * cio_udp_socket_peek_sender() - wait until a datagram is queued, then return its length and
 * sender (@ret_from, may be NULL) without taking it (tokio's peek_sender).
 *
 * Return: the length; the errors of cio_udp_socket_recv() except -EMSGSIZE.
 */
CIO_EXPORT ssize_t cio_udp_socket_peek_sender(cio_udp_socket *socket, cio_addr *ret_from);

/**
 * cio_udp_socket_send_msg() - wait until the socket can take it, then send the datagram
 * described by @msg (see cio_udp_socket_try_send_msg(): vectored data, destination, source
 * address, TOS, GSO segment size).
 *
 * Return: bytes sent (also in msg->len); the errors of cio_udp_socket_try_send_msg();
 * -EBUSY; -EBADF; -ECANCELED; -ETIMEDOUT (nothing sent); -EPERM outside a task.
 */
CIO_EXPORT ssize_t cio_udp_socket_send_msg(cio_udp_socket *socket, cio_udp_msg *msg);

/**
 * cio_udp_socket_recv_msg() - wait until a datagram is queued, then receive it into @msg
 * with its metadata (see cio_udp_socket_try_recv_msg(); truncation is CIO_UDP_MSG_TRUNC in
 * msg->flags, not an error).
 *
 * Return: bytes stored (also in msg->len); -ECONNREFUSED; -EBUSY; -EBADF; -ECANCELED;
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
 * -EBUSY; -EBADF; -ECANCELED; -ETIMEDOUT (none sent); -EINVAL; -EPERM outside a task.
 */
CIO_EXPORT int cio_udp_socket_send_batch(cio_udp_socket *socket, cio_udp_msg *msgs, size_t count);

/**
 * cio_udp_socket_recv_batch() - wait until at least one datagram is queued, then receive up
 * to @count (at most CIO_UDP_BATCH_MAX) of those queued in one system call (see
 * cio_udp_socket_try_recv_batch()); does not wait for more.
 *
 * Return: the number received (>= 1); 0 for @count 0; -ECONNREFUSED; -EBUSY; -EBADF;
 * -ECANCELED; -ETIMEDOUT (none taken); -EINVAL; -EPERM outside a task.
 */
CIO_EXPORT int cio_udp_socket_recv_batch(cio_udp_socket *socket, cio_udp_msg *msgs, size_t count);

/* ---- readiness ---- */

/**
 * cio_udp_socket_ready() - wait until the socket is ready for any of @interest
 * (CIO_READABLE and/or CIO_WRITABLE) (tokio's UdpSocket::ready).
 *
 * Returns the cached readiness, which may be stale: follow with try_* calls and, when one
 * says -EAGAIN, call cio_udp_socket_clear_ready() with what this returned — or use
 * cio_udp_socket_try_io(), which does it. Cancel safe.
 *
 * Return: a non-empty set of CIO_READY_* bits (CIO_READY_ERROR when an error is pending on a
 * connected socket); -EBUSY; -EBADF; -ECANCELED; -ETIMEDOUT; -EINVAL; -EPERM.
 */
CIO_EXPORT int cio_udp_socket_ready(cio_udp_socket *socket, unsigned interest);

/** cio_udp_socket_readable() - cio_udp_socket_ready(socket, CIO_READABLE). */
CIO_EXPORT int cio_udp_socket_readable(cio_udp_socket *socket);

/** cio_udp_socket_writable() - cio_udp_socket_ready(socket, CIO_WRITABLE). */
CIO_EXPORT int cio_udp_socket_writable(cio_udp_socket *socket);

/**
 * cio_udp_socket_clear_ready() - forget readiness found stale: clears the bits of @ready
 * unless a newer event arrived since. NULL is allowed.
 */
CIO_EXPORT void cio_udp_socket_clear_ready(cio_udp_socket *socket, int ready);

/**
 * cio_udp_socket_poll_recv_ready() - the receive readiness now, or arm @wake (tokio's
 * poll_recv_ready).
 *
 * Return: a CIO_READY_* set when readable; -EAGAIN (armed); -EBADF; -EINVAL; -EPERM.
 */
CIO_EXPORT int cio_udp_socket_poll_recv_ready(cio_udp_socket *socket, cio_wake_fn wake, void *ctx);

/** cio_udp_socket_poll_send_ready() - as poll_recv_ready, for sending. */
CIO_EXPORT int cio_udp_socket_poll_send_ready(cio_udp_socket *socket, cio_wake_fn wake, void *ctx);

/**
 * cio_udp_socket_poll_recv_from() - receive a queued datagram (@ret_from may be NULL), or arm
 * @wake for when one comes; never waits (tokio's poll_recv_from).
 *
 * Return: the datagram's length; -EAGAIN (armed); -EMSGSIZE; -ECONNREFUSED; -EBADF; -EINVAL;
 * -EPERM.
 */
CIO_EXPORT ssize_t cio_udp_socket_poll_recv_from(cio_udp_socket *socket, void *buf, size_t len,
                                                 cio_addr *ret_from, cio_wake_fn wake, void *ctx);

/**
 * cio_udp_socket_poll_send_to() - send a datagram to @addr (NULL: the connected peer), or arm
 * @wake for when the socket can take it; never waits (tokio's poll_send_to).
 *
 * Return: @len; -EAGAIN (armed); the errors of cio_udp_socket_send_to() except
 * -ECANCELED/-ETIMEDOUT/-EBUSY.
 */
CIO_EXPORT ssize_t cio_udp_socket_poll_send_to(cio_udp_socket *socket, const void *buf, size_t len,
                                               const cio_addr *addr, cio_wake_fn wake, void *ctx);

/**
 * cio_udp_socket_try_io() - run the caller's own non-blocking operation @fn(@ctx) on the
 * socket's descriptor once, under cio's readiness bookkeeping: if @fn returns -EAGAIN the
 * cached readiness for @interest is cleared (tokio's try_io). Never waits; usable outside a
 * task.
 * @interest: the direction @fn uses: CIO_READABLE or CIO_WRITABLE.
 *
 * Return: @fn's result; -EINVAL.
 */
CIO_EXPORT ssize_t cio_udp_socket_try_io(cio_udp_socket *socket, unsigned interest, cio_io_fn fn,
                                         void *ctx);

/**
 * cio_udp_socket_async_io() - run @fn(@ctx) until it does not return -EAGAIN, waiting for
 * @interest between attempts (tokio's async_io). Cancel safe as long as @fn consumes nothing
 * when it returns -EAGAIN.
 *
 * Return: @fn's result; -EBUSY; -EBADF; -ECANCELED; -ETIMEDOUT; -EINVAL; -EPERM.
 */
CIO_EXPORT ssize_t cio_udp_socket_async_io(cio_udp_socket *socket, unsigned interest, cio_io_fn fn,
                                           void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* CIO_UDP_ASYNC_H */
