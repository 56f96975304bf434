/*
 * ws_message.h - RFC 6455's rules for a stream of frames from a client.
 *
 * ws_message_check() sees each parsed (and unmasked) frame in order and
 * decides whether the connection must fail, and with which close code:
 * opcodes, RSV bits, masking, control frame limits, fragmentation and
 * continuation, incremental UTF-8 of text messages, close payloads, and the
 * message size limit. It keeps only a few words of state; assembling the
 * message's bytes, if needed, is the caller's business.
 */
#ifndef WS_MESSAGE_H
#define WS_MESSAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "ws_close.h"
#include "ws_frame.h"

struct ws_message_limits {
    uint64_t max_message; /* bytes across all fragments; over -> 1009 */
    uint8_t allowed_rsv;  /* RSV bits a negotiated extension permits (0: none) */
    bool require_mask;    /* true on a server: client frames must be masked */
};

struct ws_message_state {
    bool in_message; /* a fragmented message is open */
    uint8_t opcode;  /* its opcode (TEXT or BINARY) */
    uint64_t size;   /* its bytes so far */
    uint32_t utf8;   /* ws_utf8 state for a text message */
};

/* What a frame means once it passed the rules. */
struct ws_message_verdict {
    enum ws_close_code fail; /* WS_CLOSE_NONE, or the code to close with */
    const char *reason;      /* static text naming the broken rule */
    bool message_start;      /* first frame of a data message */
    bool message_end;        /* last frame of a data message (FIN on data/continuation) */
    uint8_t message_opcode;  /* TEXT or BINARY for data frames */
    uint16_t close_code;     /* for a valid close frame: the peer's code (1005 if none) */
};

static inline void ws_message_init(struct ws_message_state *st)
{
    st->in_message = false;
    st->opcode = 0;
    st->size = 0;
    st->utf8 = 0;
}

/*
 * Checks the header of a frame whose payload has not arrived yet (opcode,
 * RSV, mask, control frame length and fragmentation, size limit), so the
 * caller can fail early. Does not change st. Returns WS_CLOSE_NONE or a code
 * and sets *reason.
 */
enum ws_close_code ws_message_check_header(const struct ws_message_state *st,
                                           const struct ws_frame *f,
                                           const struct ws_message_limits *lim,
                                           const char **reason);

/*
 * Applies a complete frame (payload unmasked) to the state: all of the
 * header checks above, then UTF-8 for text and close payload rules.
 * Fills *v. On failure, st is left as it was.
 */
void ws_message_check(struct ws_message_state *st, const struct ws_frame *f,
                      const struct ws_message_limits *lim, struct ws_message_verdict *v);

#endif
