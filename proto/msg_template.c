/*
 * msg_template.c - writes and stamps the pre-built `msg` envelope.
 *
 * Written by hand rather than with msgpack-c's packer because the layout
 * must be fixed: the owner patches seq and ts at known offsets.
 */
#include "msg_template.h"

#include <string.h>

#include "byte_order.h"
#include "msgpack_reader.h"

#define MP_FIXMAP(n) (uint8_t)(0x80 | (n))
#define MP_FIXSTR(n) (uint8_t)(0xa0 | (n))
#define MP_STR8      0xd9
#define MP_UINT64    0xcf
#define MP_TRUE      0xc3

static const uint8_t key_op_msg[] = {MP_FIXSTR(2), 'o', 'p', MP_FIXSTR(3), 'm', 's', 'g'};
static const uint8_t key_topic[] = {MP_FIXSTR(5), 't', 'o', 'p', 'i', 'c'};
static const uint8_t key_seq[] = {MP_FIXSTR(3), 's', 'e', 'q'};
static const uint8_t key_ts[] = {MP_FIXSTR(2), 't', 's'};
static const uint8_t key_data[] = {MP_FIXSTR(4), 'd', 'a', 't', 'a'};
static const uint8_t key_re_true[] = {MP_FIXSTR(2), 'r', 'e', MP_TRUE};

static size_t str_header_size(size_t len)
{
    return len < 32 ? 1 : 2;
}

size_t wsb_msg_template_size(size_t topic_len, size_t data_len)
{
    return 1 + sizeof(key_op_msg) + sizeof(key_topic) + str_header_size(topic_len) + topic_len +
           sizeof(key_seq) + 9 + sizeof(key_ts) + 9 + sizeof(key_data) + data_len;
}

static uint8_t *put(uint8_t *p, const void *src, size_t n)
{
    memcpy(p, src, n);
    return p + n;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

int wsb_msg_template_write(uint8_t *out, size_t cap, struct ws_str topic, struct ws_str data,
                           struct wsb_msg_template *t)
{
    size_t size = wsb_msg_template_size(topic.len, data.len);
    if (topic.len > 255 || size > cap || size > UINT32_MAX)
        return -1;
    uint8_t *p = out;
    *p++ = MP_FIXMAP(5);
    p = put(p, key_op_msg, sizeof(key_op_msg));
    p = put(p, key_topic, sizeof(key_topic));
    if (topic.len < 32) {
        *p++ = MP_FIXSTR(topic.len);
    } else {
        *p++ = MP_STR8;
        *p++ = (uint8_t)topic.len;
    }
    t->topic_offset = (uint32_t)(p - out);
    t->topic_len = (uint32_t)topic.len;
    p = put(p, topic.ptr, topic.len);
    p = put(p, key_seq, sizeof(key_seq));
    *p++ = MP_UINT64;
    t->seq_offset = (uint32_t)(p - out);
    put_be64(p, 0);
    p += 8;
    p = put(p, key_ts, sizeof(key_ts));
    *p++ = MP_UINT64;
    t->ts_offset = (uint32_t)(p - out);
    put_be64(p, 0);
    p += 8;
    p = put(p, key_data, sizeof(key_data));
    if (data.len > 0)
        p = put(p, data.ptr, data.len);
    t->len = (uint32_t)(p - out);
    return 0;
}

void wsb_msg_stamp(uint8_t *envelope, const struct wsb_msg_template *t, uint64_t seq, uint64_t ts)
{
    put_be64(envelope + t->seq_offset, seq);
    put_be64(envelope + t->ts_offset, ts);
}

uint64_t wsb_msg_stamped_seq(const uint8_t *envelope, const struct wsb_msg_template *t)
{
    return be_read(envelope + t->seq_offset, 8);
}

size_t wsb_msg_write_redelivery(uint8_t *out, size_t cap, const uint8_t *envelope, size_t len)
{
    if (len == 0 || cap < len + sizeof(key_re_true))
        return 0;
    memcpy(out, envelope, len);
    out[0] = MP_FIXMAP(6);
    memcpy(out + len, key_re_true, sizeof(key_re_true));
    return len + sizeof(key_re_true);
}

/* Matches the constant bytes want at *pos, moving past them. */
static bool expect(const uint8_t *buf, size_t len, size_t *pos, const uint8_t *want, size_t n)
{
    if (len - *pos < n || memcmp(buf + *pos, want, n) != 0)
        return false;
    *pos += n;
    return true;
}

/* A msgpack uint 64 at *pos. */
static bool expect_uint64(const uint8_t *buf, size_t len, size_t *pos, uint64_t *v)
{
    if (len - *pos < 9 || buf[*pos] != MP_UINT64)
        return false;
    *v = be_read(buf + *pos + 1, 8);
    *pos += 9;
    return true;
}

bool wsb_msg_template_parse(const uint8_t *buf, size_t len, struct wsb_msg_view *v)
{
    if (len == 0 || (buf[0] != MP_FIXMAP(5) && buf[0] != MP_FIXMAP(6)))
        return false;
    v->redelivered = buf[0] == MP_FIXMAP(6);
    size_t pos = 1;
    if (!expect(buf, len, &pos, key_op_msg, sizeof(key_op_msg)) ||
        !expect(buf, len, &pos, key_topic, sizeof(key_topic)) || pos >= len)
        return false;
    size_t topic_len;
    if ((buf[pos] & 0xe0) == MP_FIXSTR(0)) {
        topic_len = buf[pos] & 0x1f;
        pos += 1;
    } else if (buf[pos] == MP_STR8 && len - pos >= 2) {
        topic_len = buf[pos + 1];
        pos += 2;
    } else {
        return false;
    }
    if (topic_len > len - pos)
        return false;
    v->topic = (struct ws_str){(const char *)buf + pos, topic_len};
    pos += topic_len;
    if (!expect(buf, len, &pos, key_seq, sizeof(key_seq)) ||
        !expect_uint64(buf, len, &pos, &v->seq) ||
        !expect(buf, len, &pos, key_ts, sizeof(key_ts)) || !expect_uint64(buf, len, &pos, &v->ts) ||
        !expect(buf, len, &pos, key_data, sizeof(key_data)))
        return false;
    /* The envelope map is level 1, so data may nest one level less than the
     * reader allows, as in the general decoder. */
    struct mp_cursor c = {buf, len, pos};
    if (mp_skip(&c, MP_MAX_DEPTH - 1, NULL) != MP_OK)
        return false;
    v->data = (struct ws_str){(const char *)buf + pos, c.pos - pos};
    pos = c.pos;
    if (v->redelivered && !expect(buf, len, &pos, key_re_true, sizeof(key_re_true)))
        return false;
    return pos == len;
}
