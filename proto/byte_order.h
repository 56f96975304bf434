/*
 * byte_order.h - big-endian integers read from wire bytes.
 *
 * WebSocket lengths and msgpack numbers are big-endian at any alignment.
 * A byte-at-a-time loop is what gcc -O2 leaves as a loop (eight loads and
 * shifts per uint64); one unaligned load and a byte swap is what the
 * hardware does in one step.
 */
#ifndef WSB_BYTE_ORDER_H
#define WSB_BYTE_ORDER_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The n-byte (0 to 8) big-endian unsigned integer at p. */
static inline uint64_t be_read(const uint8_t *p, size_t n)
{
    switch (n) {
    case 1:
        return p[0];
    case 2: {
        uint16_t v;
        memcpy(&v, p, sizeof v);
        return be16toh(v);
    }
    case 4: {
        uint32_t v;
        memcpy(&v, p, sizeof v);
        return be32toh(v);
    }
    case 8: {
        uint64_t v;
        memcpy(&v, p, sizeof v);
        return be64toh(v);
    }
    default: {
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++)
            v = v << 8 | p[i];
        return v;
    }
    }
}

#endif
