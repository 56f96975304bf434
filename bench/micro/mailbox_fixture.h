/*
 * mailbox_fixture.h - two workers' mailboxes (broker/mailbox.c, the SPSC
 * rings between workers) driven on one thread, for measuring push and pop
 * (bench_mailbox.cc). C, because the broker's headers use C11 atomics.
 */
#ifndef WSB_MAILBOX_FIXTURE_H
#define WSB_MAILBOX_FIXTURE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mailbox_fixture;

/* Rings of `entries` slots between worker 0 and worker 1. */
struct mailbox_fixture *mailbox_fixture_create(unsigned entries);

/* Worker 0 sends `burst` messages to worker 1 (ring, then overflow when
 * full), flushes, and worker 1 receives them all. Returns how many arrived
 * in order (== burst unless something is broken). */
size_t mailbox_fixture_round(struct mailbox_fixture *f, unsigned burst);

void mailbox_fixture_destroy(struct mailbox_fixture *f);

#ifdef __cplusplus
}
#endif

#endif
