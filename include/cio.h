/*
 * cio.h: the umbrella header. Includes every public cio header; each can also be included
 * alone.
 */
#ifndef CIO_H
#define CIO_H

#include "cio/common.h"
#include "cio/poll.h"
#include "cio/addr.h"
#include "cio/net.h"
#include "cio/io.h"
#include "cio/socket.h"
#include "cio/stream.h"
#include "cio/bufio.h"
#include "cio/dgram.h"
#include "cio/tcp.h"
#include "cio/udp.h"
#include "cio/unix.h"
#include "cio/resolve.h"
#include "cio/rt.h"
#include "cio/sync.h"
#include "cio/select.h"
#include "cio/serve.h"
#include "cio/metrics.h"

#endif
