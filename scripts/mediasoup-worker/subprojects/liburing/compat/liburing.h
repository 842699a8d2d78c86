/* Roundtable compat layer over Debian 12's liburing 2.3 (the system header comes next on the include
 * path). mediasoup's worker uses three functions that liburing added in 2.4; they are defined here
 * as liburing defines them, only when the system library lacks them. */
#ifndef ROUNDTABLE_LIBURING_COMPAT_H
#define ROUNDTABLE_LIBURING_COMPAT_H

#include_next <liburing.h>

#ifndef IO_URING_VERSION_MAJOR
/* liburing < 2.4 has no version macros: the shim requires 2.3, and 2.4 would have defined them. */
static inline int io_uring_major_version(void) { return 2; }
static inline int io_uring_minor_version(void) { return 3; }

/* IORING_OP_SEND with a destination address (kernel >= 6.0), as liburing 2.4 composes it. */
static inline void io_uring_prep_sendto(struct io_uring_sqe *sqe, int sockfd, const void *buf,
                                        size_t len, int flags, const struct sockaddr *addr,
                                        socklen_t addrlen)
{
	io_uring_prep_send(sqe, sockfd, buf, len, flags);
	io_uring_prep_send_set_addr(sqe, addr, (__u16)addrlen);
}
#endif

#endif
