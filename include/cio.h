/*
 * cio.h: the umbrella header. Includes every public cio header; each can also be included
 * alone.
 */
#ifndef CIO_H
#define CIO_H

#include "cio/common.h"
#include "cio/poll.h"

#endif
