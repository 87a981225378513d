/*
 * utf8: the one UTF-8 check the programs share.  orchestratord makes the
 * messages of its Status objects valid JSON strings with it, the log module
 * and orchctl make what clients and servers send harmless to a terminal.
 */
#ifndef ORCH_UTF8_H
#define ORCH_UTF8_H

#include <stddef.h>

/* The length (1 to 4) of the valid UTF-8 sequence that starts at S, in the
 * strict form JSON strings need: no overlong forms, no surrogates, nothing
 * past U+10FFFF.  0 when the byte at S does not start one.  Reads no byte
 * past a NUL (a NUL is never a continuation byte).  Any thread. */
size_t utf8_seq_len(const unsigned char *s);

#endif
