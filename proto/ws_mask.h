/*
 * ws_mask.h - in-place (un)masking of WebSocket payloads (RFC 6455 5.3).
 */
#ifndef WS_MASK_H
#define WS_MASK_H

#include <stddef.h>
#include <stdint.h>

/*
 * XORs data[0..len) with the 4-byte mask, starting at mask position `offset`
 * (the count of payload bytes of this frame already unmasked, so a payload can
 * be unmasked in pieces). Masking and unmasking are the same operation.
 */
void ws_unmask(uint8_t *data, size_t len, const uint8_t mask[4], size_t offset);

#endif
