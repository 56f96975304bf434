/*
 * ws_message.c - RFC 6455's rules for the frames a client sends, applied
 * one frame at a time.
 *
 * Each rule lives here once, and each failure names its close code and a
 * static reason: 1002 for protocol violations (sections 5.2, 5.4, 5.5), 1007
 * for text that is not UTF-8 (8.1) or a close reason that is not, 1009 for a
 * message over the configured limit. Text is validated as it arrives, so a
 * connection fails on the fragment that holds the first impossible byte, not
 * at the end of the message. The caller owns the payload bytes; this file
 * only keeps the few words in struct ws_message_state.
 */
#include "ws_message.h"

#include "ws_utf8.h"

static bool opcode_is_known(uint8_t opcode)
{
    switch (opcode) {
    case WS_OP_CONTINUATION:
    case WS_OP_TEXT:
    case WS_OP_BINARY:
    case WS_OP_CLOSE:
    case WS_OP_PING:
    case WS_OP_PONG:
        return true;
    default:
        return false;
    }
}

enum ws_close_code ws_message_check_header(const struct ws_message_state *st,
                                           const struct ws_frame *f,
                                           const struct ws_message_limits *lim, const char **reason)
{
    *reason = NULL;
    if (f->rsv & ~lim->allowed_rsv) {
        *reason = "reserved bits set";
        return WS_CLOSE_PROTOCOL_ERROR;
    }
    if (!opcode_is_known(f->opcode)) {
        *reason = "reserved opcode";
        return WS_CLOSE_PROTOCOL_ERROR;
    }
    if (lim->require_mask && !f->masked) {
        *reason = "unmasked client frame";
        return WS_CLOSE_PROTOCOL_ERROR;
    }

    if (ws_opcode_is_control(f->opcode)) {
        if (!f->fin) {
            *reason = "fragmented control frame";
            return WS_CLOSE_PROTOCOL_ERROR;
        }
        if (f->payload_len > WS_CONTROL_MAX_PAYLOAD) {
            *reason = "control frame over 125 bytes";
            return WS_CLOSE_PROTOCOL_ERROR;
        }
        if (f->opcode == WS_OP_CLOSE && f->payload_len == 1) {
            *reason = "close payload of 1 byte";
            return WS_CLOSE_PROTOCOL_ERROR;
        }
        return WS_CLOSE_NONE;
    }

    uint64_t before = 0;
    if (f->opcode == WS_OP_CONTINUATION) {
        if (!st->in_message) {
            *reason = "continuation without a message";
            return WS_CLOSE_PROTOCOL_ERROR;
        }
        before = st->size;
    } else if (st->in_message) {
        *reason = "new message inside a fragmented one";
        return WS_CLOSE_PROTOCOL_ERROR;
    }
    if (before > lim->max_message || f->payload_len > lim->max_message - before) {
        *reason = "message too big";
        return WS_CLOSE_MESSAGE_TOO_BIG;
    }
    return WS_CLOSE_NONE;
}

static void check_close(const struct ws_frame *f, struct ws_message_verdict *v)
{
    enum ws_close_code fail = ws_close_payload_check(f->payload, f->payload_len, &v->close_code);
    if (fail == WS_CLOSE_PROTOCOL_ERROR)
        v->reason = "invalid close code";
    else if (fail == WS_CLOSE_INVALID_PAYLOAD)
        v->reason = "close reason not UTF-8";
    v->fail = fail;
}

static void check_data(struct ws_message_state *st, const struct ws_frame *f,
                       struct ws_message_verdict *v)
{
    bool start = f->opcode != WS_OP_CONTINUATION;
    uint8_t opcode = start ? f->opcode : st->opcode;
    uint32_t utf8 = start ? WS_UTF8_ACCEPT : st->utf8;

    if (opcode == WS_OP_TEXT) {
        utf8 = ws_utf8_feed(utf8, f->payload, f->payload_len);
        if (utf8 == WS_UTF8_REJECT) {
            v->fail = WS_CLOSE_INVALID_PAYLOAD;
            v->reason = "invalid UTF-8 in text";
            return;
        }
        if (f->fin && utf8 != WS_UTF8_ACCEPT) {
            v->fail = WS_CLOSE_INVALID_PAYLOAD;
            v->reason = "text ends inside a UTF-8 sequence";
            return;
        }
    }

    v->message_start = start;
    v->message_end = f->fin;
    v->message_opcode = opcode;
    if (f->fin) {
        ws_message_init(st);
    } else {
        st->in_message = true;
        st->opcode = opcode;
        st->size = (start ? 0 : st->size) + f->payload_len;
        st->utf8 = utf8;
    }
}

void ws_message_check(struct ws_message_state *st, const struct ws_frame *f,
                      const struct ws_message_limits *lim, struct ws_message_verdict *v)
{
    *v = (struct ws_message_verdict){.fail = WS_CLOSE_NONE};
    v->fail = ws_message_check_header(st, f, lim, &v->reason);
    if (v->fail != WS_CLOSE_NONE)
        return;
    if (f->opcode == WS_OP_CLOSE)
        check_close(f, v);
    else if (!ws_opcode_is_control(f->opcode))
        check_data(st, f, v);
}
